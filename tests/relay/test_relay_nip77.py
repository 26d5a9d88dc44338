"""NIP-77 on the wire: NEG-OPEN / NEG-MSG / NEG-CLOSE / NEG-ERR against a real relay.

Our own initiator (shared/negentropy.py) reconciles with the relay over a websocket;
the interop tests (tests/interop/) do the same with nostr-tools and rust-nostr. The
attack tests send hostile negentropy messages and check the relay answers each with a
specific NEG-ERR (or, for an unknown version, our version byte, as the spec says) and
keeps serving.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shieldmutual.relay.server import Relay
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.negentropy import Negentropy, Storage
from shieldmutual.shared.nip59 import make_rumor, wrap

Connect = Callable[..., Awaitable[Any]]
StartRelay = Callable[..., Awaitable[Relay]]


# The initiator's first message for an empty set: everything the relay has is "need".
EMPTY_SET = Negentropy(Storage([])).initiate().hex()


async def neg_reply(client: Any, sub_id: str, timeout: float = 5.0) -> list[Any]:
    return await client.expect(lambda m: m[0] in ("NEG-MSG", "NEG-ERR") and m[1] == sub_id, timeout)


def item(event: Event) -> tuple[int, bytes]:
    return event.created_at, bytes.fromhex(event.id)


@pytest.fixture
async def relay(start_relay: StartRelay) -> Relay:
    """A relay with no event rate limit, so a test can publish a few hundred at once."""
    return await start_relay(rate_limits={"events_per_second": 0})


def notes(key: SecretKey, count: int, seed: int, note: Callable[..., Event]) -> list[Event]:
    rng = random.Random(seed)
    base = int(time.time()) - 1000
    return [note(key, f"n{seed}-{i}", at=base + rng.randrange(300)) for i in range(count)]


async def test_supported_nips_advertise_77(relay: Relay, http: Any) -> None:
    import orjson

    status, _, body = await http(relay.url, "/", Accept="application/nostr+json")
    assert status == 200 and 77 in orjson.loads(body)["supported_nips"]


@pytest.mark.parametrize("count", [0, 5, 300])
async def test_reconcile_finds_exactly_the_difference(
    relay: Relay, connect: Connect, keys: Any, note: Callable[..., Event], count: int
) -> None:
    client = await connect(relay.url)
    common = notes(keys.alice, count, 1, note)
    relay_only = notes(keys.bob, count // 3 + 1, 2, note)
    client_only = notes(keys.carol, count // 2 + 1, 3, note)
    await client.publish_many(common + relay_only)
    have, need = await client.neg_sync("sync", {}, [item(e) for e in common + client_only])
    assert have == {e.id for e in client_only}
    assert need == {e.id for e in relay_only}
    # The filter narrows the set exactly as a REQ would.
    have, need = await client.neg_sync("bob", {"authors": [keys.bob.public_hex]}, [])
    assert (have, need) == (set(), {e.id for e in relay_only})


async def test_gift_wraps_are_in_the_set_only_for_their_authenticated_recipient(
    relay: Relay, connect: Connect, keys: Any, note: Callable[..., Event]
) -> None:
    rumor = make_rumor(
        keys.alice.public_hex, 14, "hi", [["p", keys.bob.public_hex]], int(time.time())
    )
    gift = wrap(keys.alice, keys.bob.public_hex, rumor)
    public = note(keys.alice, "public")
    writer = await connect(relay.url)
    await writer.auth(keys.bob, relay.url)
    await writer.publish_many([gift, public])

    stranger = await connect(relay.url)
    await stranger.send("NEG-OPEN", "w", {"kinds": [1059]}, EMPTY_SET)
    assert (await neg_reply(stranger, "w"))[2].startswith("auth-required:")
    assert (await stranger.neg_sync("all", {}, []))[1] == {public.id}
    await stranger.auth(keys.carol, relay.url)
    assert (await stranger.neg_sync("all", {}, []))[1] == {public.id}

    bob = await connect(relay.url)
    await bob.auth(keys.bob, relay.url)
    assert (await bob.neg_sync("all", {}, []))[1] == {public.id, gift.id}


async def test_a_set_over_max_sync_events_is_refused_with_strfrys_words(
    start_relay: StartRelay, connect: Connect, keys: Any, note: Callable[..., Event]
) -> None:
    relay = await start_relay(rate_limits={"events_per_second": 0}, limits={"max_sync_events": 3})
    client = await connect(relay.url)
    await client.publish_many(notes(keys.alice, 4, 4, note))
    await client.send("NEG-OPEN", "big", {}, EMPTY_SET)
    assert await neg_reply(client, "big") == ["NEG-ERR", "big", "blocked: too many query results"]
    await client.send("NEG-OPEN", "small", {"limit": 3}, EMPTY_SET)
    assert (await neg_reply(client, "small"))[0] == "NEG-MSG"


def varint(n: int) -> bytes:
    digits = [n & 0x7F]
    while n := n >> 7:
        digits.append(0x80 | (n & 0x7F))
    return bytes(reversed(digits))


INFINITY = b"\x00\x00"  # timestamp 0 (infinity), empty id prefix
HOSTILE = {
    "empty": (b"", "invalid:"),
    "not a version byte": (b"\x10", "invalid:"),
    "truncated varint": (b"\x61\x80", "invalid:"),
    "varint over 64 bits": (b"\x61" + b"\xff" * 11 + b"\x01", "invalid:"),
    "bound prefix over 32 bytes": (b"\x61\x00\x21" + b"\x00" * 33 + b"\x00", "invalid:"),
    "unknown mode": (b"\x61" + INFINITY + b"\x03", "invalid:"),
    "deprecated mode 3 or 4": (b"\x61" + INFINITY + b"\x04", "invalid:"),
    "truncated fingerprint": (b"\x61" + INFINITY + b"\x01" + b"\x00" * 15, "invalid:"),
    "id count the message cannot hold": (b"\x61" + INFINITY + b"\x02" + varint(2**60), "invalid:"),
    "ranges out of order": (b"\x61\x06\x01\x80\x00" + b"\x01\x01\x10\x00", "invalid:"),
    "timestamp over 64 bits": (
        b"\x61" + varint(2**64 - 1) + b"\x00\x00" + b"\x05\x00\x00",
        "invalid:",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_negentropy_messages_get_neg_err_and_the_relay_keeps_serving(
    relay: Relay, connect: Connect, keys: Any, note: Callable[..., Event], name: str
) -> None:
    message, prefix = HOSTILE[name]
    client = await connect(relay.url)
    event = note(keys.alice, "still here")
    await client.publish_many([event])
    await client.send("NEG-OPEN", "h", {}, message.hex())
    reply = await neg_reply(client, "h")
    assert reply[0] == "NEG-ERR" and reply[2].startswith(prefix), reply
    # The session is gone, the connection and the relay still work.
    await client.send("NEG-MSG", "h", "61")
    assert (await neg_reply(client, "h"))[2].startswith("closed:")
    assert await client.neg_sync("h", {}, []) == (set(), {event.id})
    assert [e["id"] for e in await client.req("r", {})] == [event.id]


async def test_hostile_message_mid_session_ends_it_with_neg_err(
    relay: Relay, connect: Connect, keys: Any, note: Callable[..., Event]
) -> None:
    client = await connect(relay.url)
    await client.publish_many(notes(keys.alice, 100, 5, note))
    await client.send("NEG-OPEN", "s", {}, EMPTY_SET)
    assert (await neg_reply(client, "s"))[0] == "NEG-MSG"
    await client.send("NEG-MSG", "s", (b"\x61" + INFINITY + b"\x07").hex())
    assert (await neg_reply(client, "s"))[2] == "invalid: unknown negentropy mode"
    await client.send("NEG-MSG", "s", "61")
    assert (await neg_reply(client, "s"))[2].startswith("closed:")


async def test_an_unknown_version_is_answered_with_ours(relay: Relay, connect: Connect) -> None:
    client = await connect(relay.url)
    await client.send("NEG-OPEN", "v", {}, "62" + INFINITY.hex() + "00")
    assert await neg_reply(client, "v") == ["NEG-MSG", "v", "61"]


@pytest.mark.parametrize(
    "message, reason",
    [
        (["NEG-OPEN", "x", {}, "zz"], "invalid: a negentropy message must be hex"),
        (["NEG-OPEN", "x", {}, 97], "invalid: a negentropy message must be a hex string"),
        (
            ["NEG-OPEN", "x", {"kinds": "1"}, "61"],
            "invalid: filter 'kinds' must be integers from 0 to 65535",
        ),
        (
            ["NEG-OPEN", "x", {}],
            "invalid: NEG-OPEN takes a subscription id, a filter and a message",
        ),
        (["NEG-MSG", "x", "61"], "closed: no open negentropy session with this id"),
        (["NEG-WHAT", "x"], "invalid: unknown message type 'NEG-WHAT'"),
    ],
)
async def test_malformed_neg_messages_name_what_is_wrong(
    relay: Relay, connect: Connect, message: list[Any], reason: str
) -> None:
    client = await connect(relay.url)
    await client.send(*message)
    assert await neg_reply(client, "x") == ["NEG-ERR", "x", reason]


async def test_a_neg_message_without_a_subscription_id_gets_a_notice(
    relay: Relay, connect: Connect
) -> None:
    client = await connect(relay.url)
    await client.send("NEG-OPEN", 5, {}, "61")
    notice = await client.expect(lambda m: m[0] == "NOTICE")
    assert notice[1].startswith("invalid:")


async def test_sessions_are_limited_replaced_by_id_and_closed(
    start_relay: StartRelay, connect: Connect, keys: Any, note: Callable[..., Event]
) -> None:
    relay = await start_relay(rate_limits={"events_per_second": 0}, limits={"max_neg_sessions": 2})
    client = await connect(relay.url)
    events = notes(keys.alice, 50, 6, note)
    await client.publish_many(events)
    (conn,) = relay.connections
    baseline = conn.held
    for sub_id in ("a", "b", "a"):  # the second "a" replaces the first
        await client.send("NEG-OPEN", sub_id, {}, EMPTY_SET)
        assert (await neg_reply(client, sub_id))[0] == "NEG-MSG"
    assert len(conn.neg) == 2 and conn.held > baseline
    await client.send("NEG-OPEN", "c", {}, EMPTY_SET)
    assert (await neg_reply(client, "c"))[2] == (
        "blocked: at most 2 negentropy sessions; NEG-CLOSE one"
    )
    # Reusing "a" again reconciles the new filter (no kind 7 here), not the old one.
    assert await client.neg_sync("a", {"kinds": [7]}, []) == (set(), set())
    await client.send("NEG-CLOSE", "b")
    await client.barrier()
    assert len(conn.neg) == 0 and conn.held == baseline
    assert await client.neg_sync("c", {}, []) == (set(), {e.id for e in events})


async def test_an_idle_session_is_closed_with_neg_err(
    start_relay: StartRelay, connect: Connect
) -> None:
    relay = await start_relay(
        rate_limits={"events_per_second": 0}, limits={"neg_idle_timeout": 0.3}
    )
    client = await connect(relay.url)
    await client.send("NEG-OPEN", "i", {}, EMPTY_SET)
    assert (await neg_reply(client, "i"))[0] == "NEG-MSG"
    reply = await neg_reply(client, "i", timeout=5)
    assert reply[0] == "NEG-ERR" and reply[2].startswith("closed:"), reply
    (conn,) = relay.connections
    assert len(conn.neg) == 0


async def test_neg_open_follows_the_req_rules(
    start_relay: StartRelay, connect: Connect, keys: Any
) -> None:
    relay = await start_relay(policy={"auth_required": True})
    client = await connect(relay.url)
    await client.send("NEG-OPEN", "a", {}, EMPTY_SET)
    assert (await neg_reply(client, "a"))[2].startswith("auth-required:")
    await client.auth(keys.alice, relay.url)
    await client.send("NEG-OPEN", "a", {}, EMPTY_SET)
    assert (await neg_reply(client, "a"))[0] == "NEG-MSG"


async def test_reconciling_spends_the_query_time_budget(
    start_relay: StartRelay, connect: Connect, keys: Any, note: Callable[..., Event]
) -> None:
    """A client repeating costly NEG-MSGs pays in the same budget as its queries: once
    that is spent its session ends with rate-limited, instead of the relay's CPU."""
    rates = {"events_per_second": 0, "query_seconds_per_second": 1e-4, "query_seconds_burst": 1e-4}
    relay = await start_relay(rate_limits=rates)
    client = await connect(relay.url)
    await client.publish_many(notes(keys.alice, 200, 7, note))
    await client.send("NEG-OPEN", "q", {}, EMPTY_SET)
    assert (await neg_reply(client, "q"))[0] == "NEG-MSG"
    await client.send("NEG-MSG", "q", EMPTY_SET)
    reply = await neg_reply(client, "q")
    assert reply[0] == "NEG-ERR" and reply[2].startswith("rate-limited: query time used up")
    await client.send("NEG-OPEN", "q", {}, EMPTY_SET)
    assert (await neg_reply(client, "q"))[2].startswith("rate-limited:")


async def test_a_set_over_the_connections_memory_budget_is_refused_not_fatal(
    start_relay: StartRelay, connect: Connect, keys: Any
) -> None:
    """15,000 events held for a session (72 bytes each) exceed the smallest budget, 1 MiB:
    NEG-ERR, and the connection goes on (taking them would have closed it, 1008)."""
    relay = await start_relay(server={"max_connection_memory": 1 << 20})
    base = int(time.time()) - 20_000
    events = [sign(keys.alice, 1, "", [], created_at=base + i) for i in range(15_000)]
    await asyncio.gather(*(relay.store.save(e, e.to_json()) for e in events))  # no EVENT path
    client = await connect(relay.url)
    await client.send("NEG-OPEN", "m", {}, EMPTY_SET)
    reply = await neg_reply(client, "m")
    assert reply[0] == "NEG-ERR" and reply[2].startswith("blocked: too many query results for")
    have, need = await client.neg_sync("m", {"limit": 100}, [])
    assert not have and need == {e.id for e in events[-100:]}
