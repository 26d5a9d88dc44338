"""Bad input: each gets a clear answer or a clean close, and never harms anyone else."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from shieldmutual.shared.event import sign
from tests.waiting import until

NO_RATES = {"events_per_second": 0.0, "reqs_per_second": 0.0}


async def still_works(client, keys, note) -> None:
    """The connection still publishes and queries after the bad input."""
    event = note(keys.alice, "still here")
    assert (await client.publish(event))[2] is True
    assert [e["id"] for e in await client.req("check", {"ids": [event.id]})] == [event.id]


@pytest.mark.parametrize(
    ("frame", "starts"),
    [
        ("not json", "invalid: message is not valid JSON"),
        ("{}", "invalid: message must be a JSON array"),
        ("[]", "invalid: message must be a JSON array"),
        ("[1, 2]", "invalid: message must be a JSON array"),
        ('["HELLO", 1]', "invalid: unknown message type 'HELLO'"),
        ('["EVENT"]', "invalid: EVENT takes exactly one event"),
        ('["EVENT", 5]', "invalid: event must be a JSON object"),
        ('["REQ"]', "invalid: REQ needs a subscription id"),
        ('["REQ", 7, {}]', "invalid: subscription id must be a string"),
        ('["CLOSE"]', "invalid: CLOSE takes exactly one subscription id"),
        ('["AUTH", "x"]', "invalid: event must be a JSON object"),
    ],
)
async def test_malformed_messages_get_a_notice(relay, connect, keys, note, frame, starts):
    client = await connect(relay.url)
    await client.send_raw(frame)
    notice = await client.recv()
    assert notice[0] == "NOTICE" and notice[1].startswith(starts), notice
    await still_works(client, keys, note)


async def test_req_without_filters_is_closed(relay, connect):
    client = await connect(relay.url)
    assert (await client.refused("REQ", "nofilter")).startswith("invalid:")


async def test_binary_frames_get_a_notice(relay, connect, keys, note):
    client = await connect(relay.url)
    await client.send_raw(b'["REQ","s",{}]')
    notice = await client.recv()
    assert notice == ["NOTICE", "invalid: binary frames are not supported; send JSON as text"]
    await still_works(client, keys, note)


async def test_oversize_message_gets_a_notice_then_far_oversize_closes(start_relay, connect):
    relay = await start_relay(limits={"max_message_length": 4096})
    client = await connect(relay.url)
    await client.send("REQ", "big", {"#t": ["x" * 5000]})
    notice = await client.recv()
    assert notice[0] == "NOTICE" and notice[1].startswith("invalid: message is ")
    assert "more than 4096" in notice[1]
    await client.send("REQ", "huge", {"#t": ["x" * 20000]})
    with pytest.raises(ConnectionClosed) as info:
        await client.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_event_limits_are_enforced(start_relay, connect, keys):
    relay = await start_relay(
        limits={"max_event_tags": 3, "max_content_length": 10, "max_event_size": 2000}
    )
    client = await connect(relay.url)
    now = int(time.time())
    cases = [
        (sign(keys.alice, 1, "", [["t", str(i)] for i in range(4)], now), "invalid: event has 4"),
        (sign(keys.alice, 1, "x" * 11, (), now), "invalid: content is 11 characters"),
        (sign(keys.alice, 1, "", [["t", "y" * 2000]], now), "invalid: event is "),
        (sign(keys.alice, 1, "", (), now + 3600), "invalid: created_at is too far in the future"),
        (sign(keys.alice, 1, "", (), now - 10**9), "invalid: created_at is too old"),
        (sign(keys.alice, 22242, "", (), now), "invalid: kind 22242 is only for AUTH"),
    ]
    for event, starts in cases:
        ok = await client.publish(event)
        assert ok[:3] == ["OK", event.id, False] and ok[3].startswith(starts), ok


async def test_event_rate_limit(start_relay, connect, keys):
    relay = await start_relay(rate_limits={"events_per_second": 0.001, "events_burst": 3})
    client = await connect(relay.url)
    now = int(time.time())
    answers = [await client.publish(sign(keys.alice, 1, str(i), created_at=now)) for i in range(5)]
    assert [a[2] for a in answers] == [True, True, True, False, False]
    assert answers[3][3].startswith("rate-limited:")
    # Another connection has its own bucket.
    other = await connect(relay.url)
    assert (await other.publish(sign(keys.bob, 1, "fine", created_at=now)))[2] is True


async def test_req_rate_limit(start_relay, connect):
    relay = await start_relay(rate_limits={"reqs_per_second": 0.001, "reqs_burst": 2})
    client = await connect(relay.url)
    assert await client.req("a", {"kinds": [1]}) == []
    assert await client.count("b", {"kinds": [1]}) == 0
    assert (await client.refused("REQ", "c", {"kinds": [1]})).startswith("rate-limited:")
    assert (await client.refused("COUNT", "d", {"kinds": [1]})).startswith("rate-limited:")


async def test_subscription_and_filter_limits(start_relay, connect):
    relay = await start_relay(limits={"max_subscriptions": 2, "max_filters": 2})
    client = await connect(relay.url)
    assert await client.req("one", {"kinds": [1]}) == []
    assert await client.req("two", {"kinds": [1]}) == []
    assert (await client.refused("REQ", "three", {"kinds": [1]})).startswith("blocked:")
    assert await client.req("two", {"kinds": [2]}) == []  # replacing is not a new one
    await client.send("CLOSE", "one")
    assert await client.req("three", {"kinds": [1]}) == []
    message = await client.refused("REQ", "four", {}, {}, {})
    assert message.startswith("invalid: at most 2 filters")


async def test_a_flood_of_invalid_messages_closes_the_connection(start_relay, connect, keys, note):
    relay = await start_relay(rate_limits={"invalid_per_second": 0.001, "invalid_burst": 5})
    flooder = await connect(relay.url)
    bystander = await connect(relay.url)
    for _ in range(50):
        try:
            await flooder.send_raw("garbage")
        except ConnectionClosed:
            break
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await flooder.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    await still_works(bystander, keys, note)


async def test_pipelined_flood_of_events_is_answered_in_full(start_relay, connect, keys):
    """A burst of EVENTs sent without waiting: every one gets its OK, all stored."""
    relay = await start_relay(rate_limits=NO_RATES)
    client = await connect(relay.url)
    now = int(time.time())
    events = [sign(keys.alice, 1, f"burst {i}", created_at=now) for i in range(300)]
    for event in events:
        await client.send("EVENT", event)
    oks = [await client.expect(lambda m: m[0] == "OK") for _ in events]
    assert {ok[1] for ok in oks} == {e.id for e in events}
    assert all(ok[2] for ok in oks)
    assert await client.count("n", {"authors": [keys.alice.public_hex]}) == 300


async def test_a_reader_that_stops_reading_is_closed_and_others_are_unaffected(
    start_relay, connect, keys
):
    relay = await start_relay(rate_limits=NO_RATES, server={"max_connection_memory": 2**20})
    # max_queue=1: the client library stops reading the socket after one message.
    stuck = await connect(relay.url, max_queue=1)
    await stuck.send("REQ", "all", {"kinds": [1]})
    healthy = await connect(relay.url)
    assert await healthy.req("all", {"kinds": [1]}) == []
    publisher = await connect(relay.url)
    assert len(relay.connections) == 3
    now = int(time.time())
    payload = "x" * 30_000
    events = [sign(keys.alice, 1, f"{i} {payload}", created_at=now) for i in range(400)]
    received: list[str] = []

    async def read_healthy() -> None:
        while len(received) < len(events):
            message = await healthy.recv(timeout=10)
            if message[0] == "EVENT":
                received.append(message[2]["id"])

    reader = asyncio.create_task(read_healthy())
    for event in events:
        ok = await publisher.publish(event, timeout=10)
        assert ok[2] is True
    await asyncio.wait_for(reader, 30)
    assert received == [e.id for e in events]
    # The stuck connection was closed by the relay; the two others are open.
    await until(lambda: len(relay.connections) == 2)


async def test_max_connections_answers_503_over_the_limit(start_relay, connect):
    relay = await start_relay(server={"max_connections": 1})
    await connect(relay.url)
    with pytest.raises(InvalidStatus) as info:
        await connect(relay.url)
    assert info.value.response.status_code == 503


@pytest.mark.parametrize("compression", [False, True])
async def test_compression_only_when_configured(start_relay, connect, compression):
    relay = await start_relay(server={"compression": compression})
    client = await connect(relay.url)  # the websockets client offers permessage-deflate
    assert bool(client.ws.protocol.extensions) is compression
    assert await client.req("s", {"kinds": [1]}) == []
