"""Issue 10 #1 and #6: a failing query or count always ends in CLOSED and frees its
slot; store time is budgeted per connection; a client's queries end when it leaves.

Faults are real: the test damages the relay's own SQLite file through a second
connection, as a failing disk or a bad migration would.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from shieldmutual.shared.event import sign

NO_RATES = {"events_per_second": 0.0, "reqs_per_second": 0.0}


def damage(db: Path, sql: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql)


async def test_a_query_that_fails_ends_with_closed_error_and_frees_its_slot(
    start_relay, connect, keys, note, caplog
):
    relay = await start_relay(limits={"max_subscriptions": 1})
    db = Path(relay.config.server.db)
    client = await connect(relay.url)
    event = note(keys.alice, "kept")
    assert (await client.publish(event))[2] is True
    caplog.set_level(logging.WARNING, logger="shieldmutual.relay")
    damage(db, "ALTER TABLE events RENAME TO events_gone")
    message = await client.refused("REQ", "s", {"kinds": [1]})
    assert message.startswith("error: ")
    assert (await client.refused("COUNT", "c", {"kinds": [1]})).startswith("error: ")
    assert len(relay.index) == 0  # no live events kept flowing to a dead subscription
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert [r.getMessage().split(": ", 1)[1][:12] for r in failures] == [
        "query failed",
        "count failed",
    ]
    damage(db, "ALTER TABLE events_gone RENAME TO events")
    # The failed REQ's slot is free again (max_subscriptions = 1).
    assert [e["id"] for e in await client.req("t", {"kinds": [1]})] == [event.id]


async def test_any_exception_in_a_query_ends_with_closed_error(
    start_relay, connect, keys, note, caplog
):
    """Not only store errors: a stored row that is not JSON breaks the relay's own code
    on the way out, and the client still hears CLOSED error: (once, with a traceback)."""
    relay = await start_relay()
    client = await connect(relay.url)
    for i in range(3):
        assert (await client.publish(note(keys.alice, f"n{i}")))[2] is True
    damage(Path(relay.config.server.db), "UPDATE events SET raw = x'00ff'")
    caplog.set_level(logging.ERROR, logger="shieldmutual.relay")
    await client.send("REQ", "s", {"kinds": [1]})
    message = await client.expect(lambda m: m[0] in ("EOSE", "CLOSED") and m[1] == "s")
    assert message == ["CLOSED", "s", "error: the query failed"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert len(relay.index) == 0
    assert await client.count("c", {"kinds": [1]}) == 3  # the connection carries on


async def test_store_time_budget_refuses_new_req_and_count_when_spent(start_relay, connect, keys):
    relay = await start_relay(
        rate_limits={
            **NO_RATES,
            "query_seconds_per_second": 0.0001,
            "query_seconds_burst": 0.002,
        }
    )
    client = await connect(relay.url)
    now = int(time.time())
    for i in range(300):
        await client.send("EVENT", sign(keys.alice, 1, f"filler {i}", created_at=now - i))
    for _ in range(300):
        await client.expect(lambda m: m[0] == "OK")
    (conn,) = relay.connections
    refusal = None
    for i in range(200):
        await client.send("REQ", f"q{i}", {"kinds": [1], "limit": 5000})
        message = await client.expect(lambda m, s=f"q{i}": m[0] in ("EOSE", "CLOSED") and m[1] == s)
        if message[0] == "CLOSED":
            refusal = message[2]
            break
        await client.send("CLOSE", f"q{i}")
    assert refusal is not None and refusal.startswith("rate-limited: query time used up")
    assert conn.query_time.tokens <= 0  # the store reported what the statements cost
    assert (await client.refused("COUNT", "c", {"kinds": [1]})).startswith("rate-limited:")


@pytest.mark.parametrize("leave", ["close", "disconnect"])
async def test_queries_end_when_their_subscription_or_client_goes(
    start_relay, connect, keys, leave, until
):
    """CLOSE, or leaving, cancels the back-fill and counts in flight: nothing keeps
    running (or holding memory) for a subscription nobody will read."""
    relay = await start_relay(rate_limits={**NO_RATES, "query_seconds_per_second": 0.0})
    publisher = await connect(relay.url)
    now = int(time.time())
    for i in range(300):
        await publisher.send("EVENT", sign(keys.alice, 1, "y" * 2000, created_at=now - i))
    for _ in range(300):
        await publisher.expect(lambda m: m[0] == "OK")
    client = await connect(relay.url, max_queue=1)
    for i in range(20):
        await client.send("REQ", f"s{i}", {"kinds": [1], "limit": 5000})
        await client.send("COUNT", f"c{i}", {"search": "y"})
    await until(lambda: any(c.busy for c in relay.connections if c.subs))
    (conn,) = [c for c in relay.connections if c.subs]
    if leave == "close":
        for i in range(20):
            await client.send("CLOSE", f"s{i}")
        await until(lambda: not conn.subs)
    else:
        client.ws.transport.abort()
        await until(lambda: conn not in relay.connections)
        await until(lambda: conn.busy == 0)
    await until(lambda: conn.held == 0 and len(relay.index) == 0)
    client.ws.transport.abort()  # it never reads: no closing handshake to wait for
