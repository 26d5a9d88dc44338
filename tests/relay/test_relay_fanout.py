"""Live fan-out over real websockets: frames the relay builds itself (no extension) and
those websockets builds (permessage-deflate) reach every subscriber whole, once, in order."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from shieldmutual.relay.outgoing import text_header
from shieldmutual.shared.event import sign

NO_RATES = {"events_per_second": 0.0, "reqs_per_second": 0.0}


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_text_header_is_the_one_websockets_writes_for_an_unmasked_text_frame(size):
    payload = b"x" * size
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False)
    assert text_header(size) + payload == expected


@pytest.mark.parametrize("compression", [False, True])
async def test_every_subscriber_gets_every_live_event_once_in_order(
    start_relay, connect, keys, compression
):
    relay = await start_relay(
        rate_limits=NO_RATES,
        server={"compression": compression},
        limits={"max_content_length": 70_000, "max_event_size": 80_000},
    )
    clients = [await connect(relay.url) for _ in range(3)]
    assert all(bool(c.ws.protocol.extensions) is compression for c in clients)
    # Twelve subscriptions of one filter (limits differ) on three connections, plus one
    # REQ that repeats it: one group, every one served, the repeat only once.
    for client in clients:
        for i in range(4):
            assert await client.req(f"s{i}", {"kinds": [1], "#t": ["fan"], "limit": i + 1}) == []
        assert await client.req("both", {"#t": ["fan"]}, {"kinds": [1], "#t": ["fan"]}) == []
    publisher = await connect(relay.url)
    # Sizes across the three frame header lengths (7-bit, 16-bit and 64-bit).
    contents = ["small", "m" * 2_000, "l" * 66_000, "after"]
    events = [sign(keys.alice, 1, c, [["t", "fan"]]) for c in contents]
    await publisher.publish_many(events)
    sent = [e.id for e in events]
    for client in clients:
        for sub_id in ("s0", "s1", "s2", "s3", "both"):
            got = [
                (await client.expect(lambda m, s=sub_id: m[0] == "EVENT" and m[1] == s))[2]["id"]
                for _ in sent
            ]
            assert got == sent
    # Nothing more: a last event, then each connection's next message is that event
    # (no duplicate of the earlier ones queued in between).
    last = sign(keys.alice, 1, "last", [["t", "fan"]])
    assert (await publisher.publish(last))[2] is True
    for client in clients:
        assert not client.inbox
        for _ in range(5):
            message = await client.recv()
            assert message[0] == "EVENT" and message[2]["id"] == last.id
