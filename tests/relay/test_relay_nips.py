"""NIP-11, 13, 40, 42, 45, 70, gift-wrap privacy, aid-only mode and write policies."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip13 import difficulty

# ---- plain HTTP on the websocket port -------------------------------------------------


async def test_nip11_document_with_cors(start_relay, http):
    relay = await start_relay(
        info={"name": "River MAS relay", "contact": "mailto:ops@example.org"},
        limits={"min_pow_difficulty": 4, "max_subscriptions": 7},
    )
    status, headers, body = await http(relay.url, Accept="application/nostr+json")
    assert status == 200
    assert headers["content-type"] == "application/nostr+json"
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-headers" in headers
    assert "GET" in headers["access-control-allow-methods"]
    doc = orjson.loads(body)
    assert doc["name"] == "River MAS relay"
    assert doc["contact"] == "mailto:ops@example.org"
    assert {1, 9, 11, 13, 40, 42, 45, 50, 70} <= set(doc["supported_nips"])
    assert doc["software"] and doc["version"]
    limitation = doc["limitation"]
    expected = {
        "max_message_length": 131072,
        "max_subscriptions": 7,
        "max_limit": 5000,
        "max_subid_length": 64,
        "max_event_tags": 2000,
        "max_content_length": 32768,
        "min_pow_difficulty": 4,
        "auth_required": False,
        "restricted_writes": True,  # proof of work is a condition on writes
        "created_at_lower_limit": 94608000,
        "created_at_upper_limit": 900,
        "default_limit": 500,
    }
    assert {k: limitation[k] for k in expected} == expected


async def test_browser_page_preflight_and_404(relay, http):
    status, headers, body = await http(relay.url, Accept="text/html")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"<title>mas-relay</title>" in body and b"Nostr</a> relay" in body
    status, headers, _ = await http(relay.url, method="OPTIONS")
    assert status == 204 and headers["access-control-allow-origin"] == "*"
    status, _, _ = await http(relay.url, method="POST")
    assert status == 405


async def test_nip11_limits_are_the_enforced_ones(start_relay, connect, http):
    relay = await start_relay(limits={"max_subscriptions": 1})
    _, _, body = await http(relay.url, Accept="application/nostr+json")
    assert orjson.loads(body)["limitation"]["max_subscriptions"] == 1
    client = await connect(relay.url)
    assert await client.req("one", {"kinds": [1]}) == []
    assert (await client.refused("REQ", "two", {"kinds": [1]})).startswith("blocked:")


# ---- NIP-42 ---------------------------------------------------------------------------


async def test_auth_challenge_and_valid_answer(relay, connect, keys):
    client = await connect(relay.url)
    assert client.challenge and len(client.challenge) >= 16
    ok = await client.auth(keys.alice, relay.url)
    assert ok[2:] == [True, ""]
    # The relay tag matches loosely: case, trailing slash.
    other = await connect(relay.url)
    assert (await other.auth(keys.bob, relay.url.upper() + "/"))[2] is True


async def test_auth_accepts_the_configured_public_url(start_relay, connect, keys):
    relay = await start_relay(server={"url": "wss://relay.example.org"})
    client = await connect(relay.url)
    assert (await client.auth(keys.alice, "wss://relay.example.org/"))[2] is True


@pytest.mark.parametrize("server", [{}, {"url": "wss://relay.example.org"}])
async def test_auth_naming_the_host_header_is_not_this_relay(start_relay, connect, keys, server):
    """Issue 10 #5: a relay at evil.example passes our challenge to a victim, who signs an
    AUTH naming wss://evil.example; replayed here with Host: evil.example it must fail."""
    relay = await start_relay(server=server)
    publisher = await connect(relay.url)
    wrap = wrap_for(keys.alice)
    assert (await publisher.publish(wrap))[2] is True
    # Host: evil.example on this relay's real socket (websockets' host/port override).
    evil = await connect("ws://evil.example", host="127.0.0.1", port=relay.port)
    ok = await evil.auth(keys.alice, "wss://evil.example")
    assert ok[2] is False and ok[3] == "invalid: AUTH event names another relay"
    assert (await evil.refused("REQ", "w", {"kinds": [1059]})).startswith("auth-required:")


async def test_auth_binds_to_the_configured_urls_only(start_relay, connect, keys):
    urls = ["wss://relay.example.org", "wss://mas.example.net/nostr"]
    relay = await start_relay(server={"url": urls[0], "urls": urls[1:]})
    for url in urls:
        client = await connect(relay.url)
        assert (await client.auth(keys.alice, url))[2] is True
    # Once public URLs are configured the listen address is not one of them.
    client = await connect(relay.url)
    assert (await client.auth(keys.alice, relay.url))[2] is False


async def test_auth_without_a_configured_url_binds_to_the_listen_address(relay, connect, keys):
    client = await connect(relay.url)
    assert (await client.auth(keys.alice, f"ws://localhost:{relay.port}"))[2] is True
    assert (await client.auth(keys.bob, f"ws://127.0.0.1:{relay.port}/"))[2] is True
    assert (await client.auth(keys.carol, f"ws://localhost:{relay.port + 1}"))[2] is False


async def test_bad_auth_events_are_refused(relay, connect, keys):
    client = await connect(relay.url)
    now = int(time.time())
    good_tags = [["relay", relay.url], ["challenge", client.challenge]]
    cases: list[tuple[Any, str]] = [
        (sign(keys.alice, 1, "", good_tags), "kind 22242"),
        (sign(keys.alice, 22242, "", [["relay", relay.url], ["challenge", "nope"]]), "challenge"),
        (sign(keys.alice, 22242, "", [["relay", "ws://elsewhere:1"], good_tags[1]]), "another"),
        (sign(keys.alice, 22242, "", [good_tags[1]]), "relay"),
        (sign(keys.alice, 22242, "", good_tags, created_at=now - 3600), "minutes"),
    ]
    forged = sign(keys.alice, 22242, "", good_tags).to_dict()
    forged["sig"] = sign(keys.bob, 22242, "", good_tags).sig
    cases.append((forged, "signature"))
    for event, words in cases:
        event_id = event["id"] if isinstance(event, dict) else event.id
        await client.send("AUTH", event)
        ok = await client.expect(lambda m, i=event_id: m[0] == "OK" and m[1] == i)
        assert ok[2] is False and ok[3].startswith("invalid:") and words in ok[3], ok
    # Not authenticated by any of them: a protected event is still refused.
    protected = sign(keys.alice, 1, "", [["-"]])
    assert (await client.publish(protected))[3].startswith("auth-required:")


async def test_auth_required_mode(start_relay, connect, keys, note, http):
    relay = await start_relay(policy={"auth_required": True})
    _, _, body = await http(relay.url, Accept="application/nostr+json")
    assert orjson.loads(body)["limitation"]["auth_required"] is True
    client = await connect(relay.url)
    assert (await client.refused("REQ", "s", {"kinds": [1]})).startswith("auth-required:")
    assert (await client.refused("COUNT", "c", {"kinds": [1]})).startswith("auth-required:")
    event = note(keys.alice, "hi")
    ok = await client.publish(event)
    assert ok[2] is False and ok[3].startswith("auth-required:")
    await client.auth(keys.alice, relay.url)
    assert (await client.publish(event))[2] is True
    assert [e["id"] for e in await client.req("s", {"kinds": [1]})] == [event.id]


# ---- NIP-70 ---------------------------------------------------------------------------


async def test_protected_events_only_from_their_authenticated_author(relay, connect, keys, note):
    client = await connect(relay.url)
    event = note(keys.alice, "only me", tags=[["-"]])
    ok = await client.publish(event)
    refusal = "auth-required: this event may only be published by its author"
    assert ok == ["OK", event.id, False, refusal]
    await client.auth(keys.bob, relay.url)
    assert (await client.publish(event))[3].startswith("auth-required:")
    await client.auth(keys.alice, relay.url)
    assert await client.publish(event) == ["OK", event.id, True, ""]


# ---- gift wraps -----------------------------------------------------------------------


def wrap_for(recipient: SecretKey, text: str = "sealed") -> Any:
    """A stand-in gift wrap: kind 1059 from a throwaway key, p-tagged to the recipient."""
    return sign(SecretKey.generate(), 1059, text, [["p", recipient.public_hex]])


async def test_stored_gift_wraps_only_for_their_authenticated_recipient(relay, connect, keys, note):
    publisher = await connect(relay.url)
    to_bob, to_carol = wrap_for(keys.bob), wrap_for(keys.carol)
    public = note(keys.alice, "public")
    for event in (to_bob, to_carol, public):
        assert (await publisher.publish(event))[2] is True

    anon = await connect(relay.url)
    message = await anon.refused("REQ", "w", {"kinds": [1059]})
    assert message.startswith("auth-required:")
    assert [e["id"] for e in await anon.req("all", {})] == [public.id]
    assert [e["id"] for e in await anon.req("mix", {"kinds": [1, 1059]})] == [public.id]
    assert await anon.count("c", {}) == 1
    assert (await anon.refused("COUNT", "cw", {"kinds": [1059]})).startswith("auth-required:")

    bob = await connect(relay.url)
    await bob.auth(keys.bob, relay.url)
    assert [e["id"] for e in await bob.req("w", {"kinds": [1059]})] == [to_bob.id]
    assert {e["id"] for e in await bob.req("all", {})} == {to_bob.id, public.id}
    assert {e["id"] for e in await bob.req("mix", {"kinds": [1, 1059]})} == {to_bob.id, public.id}
    assert await bob.req("theirs", {"kinds": [1059], "#p": [keys.carol.public_hex]}) == []
    assert await bob.req("byid", {"ids": [to_carol.id]}) == []
    assert await bob.count("c1", {"kinds": [1059]}) == 1
    assert await bob.count("c2", {}) == 2
    assert await bob.count("c3", {"kinds": [1059], "#p": [keys.carol.public_hex]}) == 0


async def test_live_gift_wraps_only_for_their_authenticated_recipient(relay, connect, keys):
    anon = await connect(relay.url)
    bob = await connect(relay.url)
    carol = await connect(relay.url)
    await bob.auth(keys.bob, relay.url)
    await carol.auth(keys.carol, relay.url)
    for client in (anon, bob, carol):
        assert await client.req("everything", {}) == []
    assert await bob.req("wraps", {"kinds": [1059]}) == []
    wrap = wrap_for(keys.bob)
    publisher = await connect(relay.url)
    assert (await publisher.publish(wrap))[2] is True
    bob_got = [(m[1], m[2]["id"]) for m in await bob.barrier() if m[0] == "EVENT"]
    assert sorted(bob_got) == [("everything", wrap.id), ("wraps", wrap.id)]
    assert [m for m in await anon.barrier() if m[0] == "EVENT"] == []
    assert [m for m in await carol.barrier() if m[0] == "EVENT"] == []


async def test_gift_wrap_without_recipient_is_refused(relay, connect):
    client = await connect(relay.url)
    wrap = sign(SecretKey.generate(), 1059, "x", [])
    ok = await client.publish(wrap)
    assert ok[2] is False and ok[3].startswith("invalid:")


# ---- NIP-40, NIP-45, NIP-13 -----------------------------------------------------------


async def test_expired_events_are_refused_and_never_served(relay, connect, keys, note, monkeypatch):
    client = await connect(relay.url)
    now = int(time.time())
    expired = note(keys.alice, "old news", tags=[["expiration", str(now - 1)]])
    assert await client.publish(expired) == ["OK", expired.id, False, "invalid: event has expired"]
    # A minute of margin, then the wall clock (this process's, which the in-process relay
    # reads) is moved past the expiry: no race with a loaded machine and no waiting.
    soon = note(keys.alice, "brief", tags=[["expiration", str(now + 60)]])
    assert (await client.publish(soon))[2] is True
    assert [e["id"] for e in await client.req("x", {"ids": [soon.id]})] == [soon.id]
    assert await client.count("n", {"ids": [soon.id]}) == 1
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 61)
    assert await client.req("y", {"ids": [soon.id]}) == []
    assert await client.count("m", {"ids": [soon.id]}) == 0
    again = await client.publish(soon)
    assert again == ["OK", soon.id, False, "invalid: event has expired"]


async def test_count_of_the_union_of_filters(relay, connect, keys, note):
    client = await connect(relay.url)
    for i in range(3):
        await client.publish(note(keys.alice, f"a{i}"))
    for i in range(2):
        await client.publish(note(keys.bob, f"b{i}", kind=7))
    assert await client.count("c", {"kinds": [1]}) == 3
    assert await client.count("c", {"kinds": [1]}, {"authors": [keys.alice.public_hex]}) == 3
    assert await client.count("c", {"kinds": [1]}, {"kinds": [7]}) == 5
    # Each filter bounded by its own limit (relay/store/base.py, EventStore.count).
    assert await client.count("c", {"kinds": [1], "limit": 1}) == 1


def mine(key: SecretKey, bits: int, target: int | str) -> Any:
    created = int(time.time())
    nonce = 0
    while True:
        event = sign(key, 1, "work", [["nonce", str(nonce), str(target)]], created_at=created)
        if difficulty(event.id) >= bits:
            return event
        nonce += 1


async def test_minimum_proof_of_work(start_relay, connect, keys, note):
    relay = await start_relay(limits={"min_pow_difficulty": 8})
    client = await connect(relay.url)
    weak = next(e for e in (note(keys.alice, str(i)) for i in range(1000)) if difficulty(e.id) < 8)
    ok = await client.publish(weak)
    assert ok[2] is False and ok[3].startswith("pow: difficulty")
    strong = mine(keys.alice, 8, 8)
    assert (await client.publish(strong))[2] is True
    lucky = mine(keys.alice, 8, 2)  # enough zeros, but committed to a lower target
    ok = await client.publish(lucky)
    assert ok[2] is False and ok[3].startswith("pow: committed target")


async def test_a_huge_committed_target_is_read_not_crashed_on(start_relay, connect, keys):
    # int() refuses decimal strings past 4,300 digits; the rule must still answer.
    relay = await start_relay(limits={"min_pow_difficulty": 8})
    client = await connect(relay.url)
    huge = mine(keys.alice, 8, "9" * 5000)
    assert (await client.publish(huge))[2] is True
    ok = await client.publish(mine(keys.alice, 8, "0" * 5000 + "7"))
    assert ok[2] is False and ok[3].startswith("pow: committed target")


# ---- policies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "tags", "accepted"),
    [
        (1, [], False),
        (1, [["t", "mas-riverside"]], True),
        (1, [["t", "mutualaid"]], True),
        (30402, [["d", "r"], ["t", "mas-riverside"], ["t", "mutualaid"]], True),
        (30402, [["d", "r"]], False),
        (0, [], True),
        (3, [], False),
        (5, [], True),
        (10002, [], True),
        (10050, [], True),
        (7, [], False),
        (7, [["t", "mas-riverside"]], True),
        (1111, [["t", "other"]], False),
        (1985, [["t", "Mutualaid"]], True),
    ],
)
async def test_aid_only_mode(start_relay, connect, keys, kind, tags, accepted):
    relay = await start_relay(policy={"aid_only": True})
    client = await connect(relay.url)
    event = sign(keys.alice, kind, "", tags)
    ok = await client.publish(event)
    assert ok[2] is accepted, ok
    if not accepted:
        assert ok[3].startswith("blocked: this relay ")


async def test_aid_only_accepts_gift_wraps_and_says_restricted_writes(start_relay, connect, http):
    relay = await start_relay(policy={"aid_only": True})
    client = await connect(relay.url)
    assert (await client.publish(wrap_for(SecretKey.generate())))[2] is True
    _, _, body = await http(relay.url, Accept="application/nostr+json")
    assert orjson.loads(body)["limitation"]["restricted_writes"] is True


async def test_blocked_and_allowed_authors(start_relay, connect, keys, note):
    relay = await start_relay(
        policy={"blocked_pubkeys": [keys.bob.public_hex], "blocked_kinds": [4]}
    )
    client = await connect(relay.url)
    assert (await client.publish(note(keys.bob, "spam")))[3].startswith("blocked:")
    assert (await client.publish(note(keys.alice, "dm", kind=4)))[3].startswith("blocked:")
    assert (await client.publish(note(keys.alice, "fine")))[2] is True

    private = await start_relay(policy={"allowed_pubkeys": [keys.alice.public_hex]})
    client = await connect(private.url)
    assert (await client.publish(note(keys.bob, "no")))[3].startswith("restricted:")
    assert (await client.publish(note(keys.alice, "yes")))[2] is True
