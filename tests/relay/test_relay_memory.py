"""Issue 10 #2 and #3: what the relay holds for a connection is bounded, released on
close, and a slow reader costs the log one line, not one per event."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from shieldmutual.relay.connection import Connection
from shieldmutual.relay.server import Relay
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

MIB = 2**20
NO_RATES = {"events_per_second": 0.0, "reqs_per_second": 0.0, "query_seconds_per_second": 0.0}
BIG = "x" * 30_000  # content of a large event (~30 KB of JSON)


def big_events(key: SecretKey, count: int, tag: str = "big") -> list[Event]:
    now = int(time.time())
    return [sign(key, 1, f"{i} {BIG}", [["t", tag]], created_at=now - i) for i in range(count)]


async def publish_all(client: Any, events: list[Event]) -> None:
    for event in events:
        await client.send("EVENT", event)
    for _ in events:
        ok = await client.expect(lambda m: m[0] == "OK", timeout=20)
        assert ok[2] is True, ok


async def stuck_client(connect: Callable[..., Awaitable[Any]], relay: Relay) -> Any:
    """A client that never reads: websockets stops reading after one queued message and
    a 4 KB receive buffer leaves the kernel almost nothing to absorb, so whatever the
    client asked for piles up on the relay's side."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", relay.port))
    return await connect(relay.url, sock=sock, max_queue=1)


def server_side(relay: Relay, subs: int) -> Connection:
    (conn,) = [c for c in relay.connections if len(c.subs) == subs]
    return conn


async def close_code(client: Any) -> int | None:
    """Read whatever is left until the relay's close frame; its code."""
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(10):
            while True:
                await client.ws.recv()
    return info.value.rcvd.code if info.value.rcvd is not None else None


async def test_never_reading_client_with_20_subscriptions_is_bounded_then_closed(
    start_relay, connect, keys, caplog, until
):
    """The 2.16 GB finding: 20 REQs whose back-fill stalls, then live events for all of
    them. Held bytes stay under the budget, the client is closed 1008, everything is
    released, and the log gets one line about it."""
    relay = await start_relay(rate_limits=NO_RATES, server={"max_connection_memory": MIB})
    publisher = await connect(relay.url)
    await publish_all(publisher, big_events(keys.alice, 60))  # 1.8 MB stored

    stuck = await stuck_client(connect, relay)
    for i in range(20):
        await stuck.send("REQ", f"s{i}", {"kinds": [1]})
    await until(lambda: any(len(c.subs) == 20 for c in relay.connections))
    conn = server_side(relay, 20)
    # Back-fill stalls once the queue is past a quarter of the budget (36 MB asked for).
    await until(lambda: conn.out_bytes > MIB // 4)
    assert conn.held <= MIB and relay.held <= MIB + 64 * 1024

    caplog.set_level(logging.INFO, logger="shieldmutual.relay")
    live = big_events(keys.bob, 40, tag="live")
    for event in live:
        await publisher.send("EVENT", event)
    await until(lambda: conn.closing)
    assert not conn.subs and conn.out_bytes == 0  # dropped at once, not at disconnect
    assert await close_code(stuck) == 1008
    await until(lambda: conn not in relay.connections and relay.held == 0)
    assert conn.held == 0 and len(relay.index) == 0
    for _ in live:  # the publisher was never held back
        assert (await publisher.expect(lambda m: m[0] == "OK", timeout=20))[2] is True
    lines = [r.getMessage() for r in caplog.records if "closing it" in r.getMessage()]
    assert lines == [f"connection {conn.number}: closing it, over its memory budget of {MIB} bytes"]


async def test_a_client_that_stops_reading_its_results_is_timed_out(
    start_relay, connect, keys, until
):
    """The finding's never-closed case: stalled REQs with no live traffic stay within
    the budget but would keep it forever; ``[server] stall_timeout`` ends them."""
    relay = await start_relay(
        rate_limits=NO_RATES, server={"max_connection_memory": MIB, "stall_timeout": 0.5}
    )
    publisher = await connect(relay.url)
    await publish_all(publisher, big_events(keys.alice, 60))
    stuck = await stuck_client(connect, relay)
    for i in range(20):
        await stuck.send("REQ", f"s{i}", {"kinds": [1]})
    await until(lambda: any(len(c.subs) == 20 for c in relay.connections))
    conn = server_side(relay, 20)
    await until(lambda: conn.closing, timeout=5)
    assert await close_code(stuck) == 1008
    assert stuck.ws.close_reason == "too slow: nothing read for 0.5 s"
    await until(lambda: conn not in relay.connections and relay.held == 0)


async def test_an_event_both_stored_and_live_during_back_fill_is_sent_once(
    start_relay, connect, keys, until
):
    """Pages are read one at a time, so an old-dated event committed mid back-fill is in
    a later page and held live too: it goes out once, before EOSE."""
    relay = await start_relay(
        rate_limits=NO_RATES, server={"max_connection_memory": MIB, "stall_timeout": 0.0}
    )
    publisher = await connect(relay.url)
    await publish_all(publisher, big_events(keys.alice, 60))
    reader = await stuck_client(connect, relay)
    for i in range(5):  # 9 MB asked for: more than the kernel's buffers take
        await reader.send("REQ", f"s{i}", {"kinds": [1]})
    await until(lambda: any(c.out_bytes > MIB // 4 for c in relay.connections))
    late = sign(keys.bob, 1, "dated before everything", created_at=int(time.time()) - 86_400)
    assert (await publisher.publish(late))[2] is True
    subs = [sub for c in relay.connections for sub in c.subs.values()]
    assert len(subs) == 5 and all(sub.pending for sub in subs)  # held live meanwhile
    for i in range(5):
        ids = [e["id"] for e in await reader.collect(f"s{i}", timeout=20)]
        assert len(ids) == len(set(ids)) == 61 and ids[-1] == late.id
    assert [m for m in await reader.barrier() if m[0] == "EVENT"] == []  # not again live


async def test_a_reading_client_with_20_large_subscriptions_is_paced_not_closed(
    start_relay, connect, keys, until
):
    """Pacing: 20 REQs asking for 36 MB in all under a 1 MiB budget all reach EOSE for a
    client that reads, and the relay's accounting is back to zero afterwards."""
    relay = await start_relay(rate_limits=NO_RATES, server={"max_connection_memory": MIB})
    publisher = await connect(relay.url)
    events = big_events(keys.alice, 60)
    await publish_all(publisher, events)
    reader = await connect(relay.url)
    for i in range(20):
        await reader.send("REQ", f"s{i}", {"kinds": [1]})
    peak = 0
    conn = None
    got: dict[str, int] = {}
    eose: set[str] = set()
    async with asyncio.timeout(60):
        while len(eose) < 20:
            message = await reader.recv(timeout=20)
            if conn is None and relay.connections:
                conn = next((c for c in relay.connections if c.subs), None)
            if conn is not None:
                peak = max(peak, conn.held)
            if message[0] == "EVENT":
                got[message[1]] = got.get(message[1], 0) + 1
            elif message[0] == "EOSE":
                eose.add(message[1])
            else:
                pytest.fail(f"unexpected {message}")
    assert got == {f"s{i}": len(events) for i in range(20)}
    assert 0 < peak <= MIB
    await until(lambda: relay.held == 0)


async def test_events_being_saved_count_against_the_budget_and_pause_reading(
    start_relay, connect, keys, until
):
    """A publisher pipelining 6 MB of events is read only as fast as they are saved:
    at most a quarter of its 1 MiB budget is held in events waiting for the store."""
    relay = await start_relay(rate_limits=NO_RATES, server={"max_connection_memory": MIB})
    publisher = await connect(relay.url)
    events = big_events(keys.alice, 200)
    peak = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max([peak, *(c.saving for c in relay.connections)])
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    await publish_all(publisher, events)
    done.set()
    await watcher
    assert 0 < peak <= MIB // 4 + len(events[0].to_json())
    await until(lambda: relay.held == 0)


async def test_relay_wide_budget_closes_the_connection_holding_the_most(
    start_relay, connect, keys, caplog, until
):
    """``[server] max_memory``: two stuck clients each under their own budget but over
    the relay's together: the bigger is closed and the relay is back under its limit."""
    relay = await start_relay(
        rate_limits=NO_RATES, server={"max_connection_memory": 2 * MIB, "max_memory": 2 * MIB}
    )
    publisher = await connect(relay.url)
    await publish_all(publisher, big_events(keys.alice, 60))
    caplog.set_level(logging.INFO, logger="shieldmutual.relay")
    first = await stuck_client(connect, relay)
    for i in range(5):
        await first.send("REQ", f"a{i}", {"kinds": [1]})
    await until(lambda: any(len(c.subs) == 5 for c in relay.connections))
    heavy = server_side(relay, 5)
    await until(lambda: heavy.out_bytes > MIB // 2)  # stalled at its pace
    second = await stuck_client(connect, relay)
    # One stored event: the second stays clearly the smaller, however fast its back-fill
    # reaches its pace (a REQ's first page can be read on the loop without a hop).
    await second.send("REQ", "b", {"kinds": [1], "limit": 1})
    # Live events pile up behind the first client's stalled back-fill until the sum
    # crosses 2 MiB; the first holds the most.
    live = big_events(keys.bob, 30, tag="live")
    for event in live:
        await publisher.send("EVENT", event)
    await until(lambda: heavy.closing)
    for _ in live:
        assert (await publisher.expect(lambda m: m[0] == "OK", timeout=20))[2] is True
    assert await close_code(first) == 1008
    await until(lambda: heavy not in relay.connections)
    assert relay.held <= 2 * MIB
    assert any("the relay is over its memory budget" in r.getMessage() for r in caplog.records)
    assert not any(c.closing for c in relay.connections)  # the second one is still served
    second.ws.transport.abort()  # it never reads: no closing handshake to wait for


async def test_a_client_that_stops_reading_holds_no_place_at_the_back_fill_gate(
    start_relay, connect, keys, until
):
    """Issue 15's gate (at most ``limit`` connections back-fill at once) must not become
    issue 10's starvation: a back-fill stalled on its client steps out of the gate, so
    with room for one connection and no stall timeout another client is still served."""
    relay = await start_relay(
        rate_limits=NO_RATES, server={"max_connection_memory": MIB, "stall_timeout": 0.0}
    )
    publisher = await connect(relay.url)
    await publish_all(publisher, big_events(keys.alice, 60))
    relay.backfills.limit = 1
    stuck = await stuck_client(connect, relay)
    for i in range(5):  # 9 MB asked for: more than the kernel's buffers take
        await stuck.send("REQ", f"s{i}", {"kinds": [1]})
    await until(lambda: any(len(c.subs) == 5 for c in relay.connections))
    conn = server_side(relay, 5)
    await until(lambda: conn.out_bytes > MIB // 4)  # stalled at its pace
    assert relay.backfills.admitted == 0
    assert len(await publisher.req("other", {"kinds": [1], "limit": 3}, timeout=5)) == 3
    stuck.ws.transport.abort()


async def test_an_open_connection_keeps_no_handshake_headers(relay, connect):
    """Issue 15: ten thousand idle connections each kept their handshake's request
    headers (~1.5 KB from a browser, a proxy's X-Forwarded-For among them)."""
    client = await connect(relay.url, additional_headers={"X-Forwarded-For": "203.0.113.7"})
    assert await client.req("s", {"kinds": [1]}) == []
    (conn,) = relay.connections
    assert conn.ws.request is not None and list(conn.ws.request.headers.raw_items()) == []
    assert conn.ws.response is None
