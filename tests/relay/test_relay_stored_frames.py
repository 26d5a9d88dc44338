"""Stored results framed a page at a time (issue 15, ``Outgoing.send_events``): more
events than one socket write holds arrive each once, whole and in order, with or without
compression, and everything charged for them is given back."""

from __future__ import annotations

import time

import pytest

from shieldmutual.shared.event import Event, sign

NO_RATES = {"events_per_second": 0.0, "reqs_per_second": 0.0, "query_seconds_per_second": 0.0}


def many_events(key: object) -> list[Event]:
    """900 events of ~450 bytes (~400 KB: several socket writes, several pages), three
    to a second, so the order's ties by id are exercised too."""
    now = int(time.time())
    return [
        sign(key, 1, f"{i} " + "y" * 300, [["t", "frames"]], created_at=now - i // 3)  # type: ignore[arg-type]
        for i in range(900)
    ]


@pytest.mark.parametrize("compression", [False, True])
async def test_stored_events_beyond_one_write_arrive_once_in_order(
    start_relay, connect, keys, until, compression
):
    relay = await start_relay(rate_limits=NO_RATES, server={"compression": compression})
    events = many_events(keys.alice)
    outcomes = await relay.store.save_many([(e, e.to_json()) for e in events])
    assert all(o.accepted for o in outcomes)  # type: ignore[union-attr]
    client = await connect(relay.url, compression="deflate" if compression else None)
    await client.send("REQ", "s", {"#t": ["frames"], "limit": 900})
    got = []
    while True:
        message = await client.recv(timeout=10)
        if message[0] == "EOSE":
            break
        assert message[0] == "EVENT" and message[1] == "s", message
        got.append(message[2])
    newest_first = sorted(events, key=lambda e: (-e.created_at, e.id))
    assert [e["id"] for e in got] == [e.id for e in newest_first]
    assert got == [e.to_dict() for e in newest_first]  # every frame whole
    await until(lambda: relay.held == 0)
