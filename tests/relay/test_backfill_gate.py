"""Issue 15: REQs' back-fills start through the relay's gate (relay/backfill.py ``Gate``),
at most ``limit`` connections at once; the others' REQs wait without a task. Waiting must
change nothing a client sees: the same stored results, EOSE, then the live events that
arrived meanwhile, once; and a REQ that waits can be closed, with its connection or alone.

``relay.backfills.limit = 0`` closes the gate, so a test holds REQs at it for as long as it
likes; setting a limit again admits the waiting connections at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shieldmutual.relay.server import Relay
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

NO_RATES = {"events_per_second": 0.0, "reqs_per_second": 0.0, "query_seconds_per_second": 0.0}
TAG = {"#t": ["gate"]}


def notes(key: SecretKey, count: int, age: int = 100) -> list[Event]:
    """``count`` notes tagged ``gate``, newest first, the newest ``age`` seconds old."""
    now = int(time.time()) - age
    return [sign(key, 1, f"note {i}", [["t", "gate"]], created_at=now - i) for i in range(count)]


def waiting_subs(relay: Relay) -> int:
    """Subscriptions not yet started: no back-fill task, still holding live events back."""
    return sum(
        1
        for conn in relay.connections
        for sub in conn.subs.values()
        if sub.task is None and sub.pending is not None
    )


async def open_many(connect: Any, url: str, count: int) -> list[Any]:
    """``count`` clients, opened 100 at a time."""
    clients: list[Any] = []
    while len(clients) < count:
        batch = min(100, count - len(clients))
        clients += await asyncio.gather(*(connect(url) for _ in range(batch)))
    return clients


async def test_2000_connections_each_with_one_req_all_reach_eose_with_at_most_k_back_filling(
    start_relay, connect, keys
):
    relay = await start_relay(rate_limits=NO_RATES)
    stored = notes(keys.alice, 3)
    await (await connect(relay.url)).publish_many(stored)
    relay.backfills.limit = 16
    clients = await open_many(connect, relay.url, 2000)
    for client in clients:
        await client.send("REQ", "s", TAG)
    results = await asyncio.gather(*(client.collect("s", timeout=60) for client in clients))
    assert all([e["id"] for e in got] == [e.id for e in stored] for got in results)
    # The bound was reached (REQs did wait) and never passed.
    assert relay.backfills.peak == 16
    assert (relay.backfills.admitted, relay.backfills.waiting) == (0, 0)


async def test_a_waiting_req_gets_its_stored_events_then_what_arrived_meanwhile_once(
    start_relay, connect, keys, until
):
    relay = await start_relay(rate_limits=NO_RATES)
    publisher = await connect(relay.url)
    old = notes(keys.alice, 2)
    await publisher.publish_many(old)
    relay.backfills.limit = 0
    readers = [await connect(relay.url) for _ in range(3)]
    for reader in readers:
        await reader.send("REQ", "s", TAG)
    await until(lambda: relay.backfills.waiting == 3)
    # Committed while the REQs wait: in their stored results *and* held as live events.
    both = sign(keys.bob, 1, "stored and live", [["t", "gate"]], created_at=int(time.time()) - 50)
    assert (await publisher.publish(both))[2] is True
    assert waiting_subs(relay) == 3
    assert all(len(sub.pending) == 1 for c in relay.connections for sub in c.subs.values())
    relay.backfills.limit = 1  # one connection at a time from here
    for reader in readers:
        got = await reader.collect("s")
        assert [e["id"] for e in got] == [both.id] + [e.id for e in old]
    later = sign(keys.carol, 1, "after EOSE", [["t", "gate"]])
    assert (await publisher.publish(later))[2] is True
    for reader in readers:
        live = await reader.expect(lambda m: m[0] == "EVENT" and m[1] == "s")
        assert live[2]["id"] == later.id
        assert [m for m in await reader.barrier() if m[0] == "EVENT"] == []  # nothing twice
    assert relay.backfills.peak == 1


async def test_a_waiting_req_sends_what_arrived_live_meanwhile_after_eose(
    start_relay, connect, keys, until
):
    relay = await start_relay(rate_limits=NO_RATES)
    publisher = await connect(relay.url)
    relay.backfills.limit = 0
    reader = await connect(relay.url)
    await reader.send("REQ", "s", {"kinds": [20001], "#t": ["gate"]})
    await until(lambda: relay.backfills.waiting == 1)
    live = sign(keys.bob, 20001, "ephemeral: live only", [["t", "gate"]])
    assert (await publisher.publish(live))[2] is True
    relay.backfills.limit = 4
    messages = [await reader.recv() for _ in range(2)]
    assert [m[:2] for m in messages] == [["EOSE", "s"], ["EVENT", "s"]]
    assert messages[1][2]["id"] == live.id


async def test_close_of_a_waiting_req_frees_it_and_it_never_answers(
    start_relay, connect, keys, until
):
    relay = await start_relay(rate_limits=NO_RATES)
    publisher = await connect(relay.url)
    relay.backfills.limit = 0
    reader = await connect(relay.url)
    await reader.send("REQ", "gone", TAG)
    await reader.send("REQ", "kept", TAG)
    await until(lambda: relay.backfills.waiting == 2)
    await reader.send("CLOSE", "gone")
    await until(lambda: relay.backfills.waiting == 1)
    assert len(relay.index) == 1  # "kept" only
    event = sign(keys.bob, 1, "only to kept", [["t", "gate"]])
    assert (await publisher.publish(event))[2] is True
    relay.backfills.limit = 4
    assert [e["id"] for e in await reader.collect("kept")] == [event.id]
    assert [m for m in await reader.barrier() if m[1] == "gone"] == []


async def test_a_connection_closing_while_its_reqs_wait_frees_them(
    start_relay, connect, keys, until
):
    relay = await start_relay(rate_limits=NO_RATES)
    publisher = await connect(relay.url)
    relay.backfills.limit = 0
    leaving = await connect(relay.url)
    for i in range(5):
        await leaving.send("REQ", f"s{i}", TAG)
    await until(lambda: relay.backfills.waiting == 5)
    # Live events held back for the waiting REQs are charged to the relay's memory.
    assert (await publisher.publish(sign(keys.bob, 1, "held", [["t", "gate"]])))[2] is True
    assert relay.held > 0
    await leaving.close()
    await until(lambda: relay.backfills.waiting == 0 and len(relay.connections) == 1)
    assert (relay.held, len(relay.index)) == (0, 0)
    relay.backfills.limit = 4  # nothing left to admit
    assert relay.backfills.admitted == 0
    assert await publisher.req("after", TAG) != []


async def test_one_connections_many_reqs_take_one_place_not_all_of_them(
    start_relay, connect, keys, until
):
    """Issue 10: REQs queued first by one client do not keep another's out."""
    relay = await start_relay(rate_limits=NO_RATES)
    stored = notes(keys.alice, 2)
    await (await connect(relay.url)).publish_many(stored)
    relay.backfills.limit = 0
    greedy, other = await connect(relay.url), await connect(relay.url)
    for i in range(20):
        await greedy.send("REQ", f"g{i}", TAG)
    await until(lambda: relay.backfills.waiting == 20)
    await other.send("REQ", "o", TAG)
    await until(lambda: relay.backfills.waiting == 21)
    relay.backfills.limit = 2
    # Both clients admitted at once, each with all its REQs: none is left waiting.
    assert (relay.backfills.admitted, waiting_subs(relay)) == (2, 0)
    assert [e["id"] for e in await other.collect("o")] == [e.id for e in stored]
    for i in range(20):
        assert [e["id"] for e in await greedy.collect(f"g{i}")] == [e.id for e in stored]
