"""NIP-01 over real websockets against the in-process relay and a real SQLite file."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from shieldmutual.shared.event import Event, sign

HEX_A = "a" * 64


async def test_ok_has_four_elements_and_duplicates_are_ok_true(relay, connect, keys, note):
    client = await connect(relay.url)
    event = note(keys.alice, "hello")
    ok = await client.publish(event)
    assert ok == ["OK", event.id, True, ""]
    again = await client.publish(event)
    assert len(again) == 4 and again[:3] == ["OK", event.id, True]
    assert again[3].startswith("duplicate:")


async def test_invalid_id_and_signature_are_refused_with_the_event_id(relay, connect, keys, note):
    client = await connect(relay.url)
    good = note(keys.alice, "original").to_dict()
    tampered = {**good, "content": "changed"}
    ok = await client.publish(tampered)
    assert ok == ["OK", good["id"], False, "invalid: event id does not match its content"]

    other = note(keys.bob, "bob's").to_dict()
    forged = {**good, "sig": other["sig"]}
    ok = await client.publish(forged)
    assert ok == ["OK", good["id"], False, "invalid: event signature is not valid"]
    assert await client.req("s", {"ids": [good["id"]]}) == []


async def test_malformed_event_gets_ok_false_with_its_id(relay, connect, keys, note):
    client = await connect(relay.url)
    event = note(keys.alice, "x").to_dict()
    del event["sig"]
    ok = await client.publish(event)
    assert ok[:3] == ["OK", event["id"], False]
    assert ok[3].startswith("invalid:")


async def test_id_is_recomputed_from_parsed_values_not_the_text(relay, connect, keys):
    """The same event written with other JSON escapes and spacing is the same event."""
    client = await connect(relay.url)
    event = sign(keys.alice, 1, 'héllo "world" é', [["t", "x"]], created_at=int(time.time()))
    d = event.to_dict()
    text = (
        '["EVENT", { "content" : "h\\u00e9llo \\"world\\" \\u00e9", '
        f'"tags": [ ["t", "x"] ], "kind": 1, "created_at": {d["created_at"]}, '
        f'"pubkey": "{d["pubkey"]}", "sig": "{d["sig"]}", "id": "{d["id"]}" }} ]'
    )
    await client.send_raw(text)
    ok = await client.expect(lambda m: m[0] == "OK")
    assert ok == ["OK", event.id, True, ""]
    (stored,) = await client.req("s", {"ids": [event.id]})
    assert stored == d


async def test_union_of_filters_each_with_its_own_limit_newest_first(relay, connect, keys):
    client = await connect(relay.url)
    now = int(time.time())
    events = [sign(keys.alice, 1, f"a{i}", created_at=now - 100 + i) for i in range(5)]
    events += [sign(keys.bob, 7, f"b{i}", created_at=now - 100 + i) for i in range(5)]
    for event in events:
        assert (await client.publish(event))[2] is True
    got = await client.req(
        "u",
        {"kinds": [1], "limit": 2},
        {"authors": [keys.bob.public_hex], "limit": 3},
        {"kinds": [1], "limit": 1},  # overlaps the first: no duplicates
    )
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids)) == 5
    assert [e["created_at"] for e in got] == sorted((e["created_at"] for e in got), reverse=True)
    assert {e["content"] for e in got} == {"a4", "a3", "b4", "b3", "b2"}


async def test_ties_on_created_at_go_by_lowest_id(relay, connect, keys):
    client = await connect(relay.url)
    at = int(time.time()) - 10
    events = [sign(keys.alice, 1, f"same second {i}", created_at=at) for i in range(6)]
    for event in events:
        await client.publish(event)
    got = await client.req("t", {"authors": [keys.alice.public_hex], "limit": 3})
    assert [e["id"] for e in got] == sorted(e.id for e in events)[:3]


async def test_since_and_until_are_inclusive(relay, connect, keys):
    client = await connect(relay.url)
    base = int(time.time()) - 1000
    for i in range(5):
        await client.publish(sign(keys.alice, 1, str(i), created_at=base + i))
    got = await client.req("r", {"since": base + 1, "until": base + 3})
    assert sorted(e["created_at"] for e in got) == [base + 1, base + 2, base + 3]


async def test_one_eose_after_stored_then_live_events_without_limit(relay, connect, keys, note):
    sub = await connect(relay.url)
    pub = await connect(relay.url)
    now = int(time.time())
    await pub.publish(note(keys.alice, "stored 1", at=now - 2))
    await pub.publish(note(keys.alice, "stored 2", at=now - 1))
    await sub.send("REQ", "live", {"kinds": [1], "limit": 1})
    first = await sub.recv()
    assert first[0] == "EVENT" and first[2]["content"] == "stored 2"
    assert await sub.recv() == ["EOSE", "live"]
    fresh = [note(keys.bob, f"live {i}") for i in range(3)]  # more than the limit
    for event in fresh:
        assert (await pub.publish(event))[2] is True
    seen = await sub.barrier()
    assert [m[2]["id"] for m in seen if m[0] == "EVENT"] == [e.id for e in fresh]
    assert not [m for m in seen if m[0] == "EOSE"]


async def test_single_letter_tag_filters(relay, connect, keys, note):
    client = await connect(relay.url)
    tagged = note(keys.alice, "t", tags=[["t", "mas-river"], ["g", "u4pru"]])
    other = note(keys.alice, "o", tags=[["t", "other"]])
    for event in (tagged, other):
        await client.publish(event)
    assert [e["id"] for e in await client.req("a", {"#t": ["mas-river"]})] == [tagged.id]
    assert [e["id"] for e in await client.req("b", {"#g": ["u4pru"], "#t": ["mas-river"]})] == [
        tagged.id
    ]
    assert await client.req("c", {"#t": ["MAS-RIVER"]}) == []


@pytest.mark.parametrize(
    "flt",
    [
        {"ids": ["abc"]},
        {"authors": [HEX_A.upper()]},
        {"#e": ["not-hex"]},
        {"#p": [HEX_A + "0"]},
        {"kinds": ["1"]},
        {"limit": -1},
        {"bogus": 1},
    ],
)
async def test_bad_filters_are_closed_invalid(relay, connect, flt: dict[str, Any]):
    client = await connect(relay.url)
    message = await client.refused("REQ", "bad", flt)
    assert message.startswith("invalid:")
    # The connection is still good.
    assert await client.req("ok", {"kinds": [1]}) == []


async def test_subscription_ids_one_to_64_chars(relay, connect):
    client = await connect(relay.url)
    assert await client.req("x" * 64, {"kinds": [1]}) == []
    for bad in ("", "x" * 65):
        await client.send("REQ", bad, {"kinds": [1]})
        notice = await client.expect(lambda m: m[0] in ("NOTICE", "CLOSED", "EOSE"))
        assert notice[0] == "NOTICE" and notice[1].startswith("invalid:")


async def test_reused_subscription_id_replaces_the_old_one(relay, connect, keys, note):
    sub = await connect(relay.url)
    pub = await connect(relay.url)
    assert await sub.req("same", {"kinds": [1]}) == []
    assert await sub.req("same", {"kinds": [7]}) == []
    await pub.publish(note(keys.alice, "kind 1"))
    reaction = note(keys.alice, "+", kind=7)
    await pub.publish(reaction)
    seen = await sub.barrier()
    assert [m[2]["id"] for m in seen if m[0] == "EVENT"] == [reaction.id]


async def test_subscription_ids_are_per_connection(relay, connect, keys, note):
    one = await connect(relay.url)
    two = await connect(relay.url)
    assert await one.req("s", {"kinds": [1]}) == []
    assert await two.req("s", {"kinds": [7]}) == []
    await one.send("CLOSE", "s")
    event = note(keys.alice, "+", kind=7)
    await one.publish(event)
    assert [m[2]["id"] for m in await two.barrier() if m[0] == "EVENT"] == [event.id]
    assert [m for m in await one.barrier() if m[0] == "EVENT"] == []


async def test_close_stops_live_events(relay, connect, keys, note):
    sub = await connect(relay.url)
    assert await sub.req("s", {"kinds": [1]}) == []
    await sub.send("CLOSE", "s")
    await sub.barrier()
    await sub.publish(note(keys.alice, "after close"))
    assert [m for m in await sub.barrier() if m[0] == "EVENT"] == []


async def test_replaceable_and_addressable_keep_only_the_newest(relay, connect, keys):
    client = await connect(relay.url)
    now = int(time.time())
    old = sign(keys.alice, 0, '{"name":"old"}', created_at=now - 10)
    new = sign(keys.alice, 0, '{"name":"new"}', created_at=now - 5)
    await client.publish(old)
    await client.publish(new)
    late_old = await client.publish(sign(keys.alice, 0, '{"name":"older"}', created_at=now - 20))
    assert late_old[2] is False and late_old[3].startswith("duplicate:")
    got = await client.req("p", {"kinds": [0], "authors": [keys.alice.public_hex]})
    assert [e["id"] for e in got] == [new.id]

    a1 = sign(keys.alice, 30402, "v1", [["d", "req-1"]], created_at=now - 10)
    a2 = sign(keys.alice, 30402, "v2", [["d", "req-1"]], created_at=now - 5)
    b1 = sign(keys.alice, 30402, "other", [["d", "req-2"]], created_at=now - 10)
    for event in (a1, a2, b1):
        await client.publish(event)
    got = await client.req("a", {"kinds": [30402]})
    assert {e["id"] for e in got} == {a2.id, b1.id}


async def test_ephemeral_events_are_delivered_live_and_never_stored(relay, connect, keys, note):
    sub = await connect(relay.url)
    pub = await connect(relay.url)
    assert await sub.req("e", {"kinds": [20001]}) == []
    event = note(keys.alice, "typing", kind=20001)
    assert await pub.publish(event) == ["OK", event.id, True, ""]
    assert [m[2]["id"] for m in await sub.barrier() if m[0] == "EVENT"] == [event.id]
    assert await pub.req("later", {"kinds": [20001]}) == []


async def test_nip09_deletion(relay, connect, keys, note):
    client = await connect(relay.url)
    target = note(keys.alice, "oops")
    await client.publish(target)
    deletion = note(keys.alice, "", kind=5, tags=[["e", target.id]])
    assert (await client.publish(deletion))[2] is True
    assert await client.req("d", {"ids": [target.id]}) == []
    again = await client.publish(target)
    assert again[2] is False and again[3].startswith("blocked:")
    # Someone else cannot delete alice's events.
    kept = note(keys.alice, "kept")
    await client.publish(kept)
    await client.publish(note(keys.bob, "", kind=5, tags=[["e", kept.id]]))
    assert [e["id"] for e in await client.req("k", {"ids": [kept.id]})] == [kept.id]


async def test_nip50_search(relay, connect, keys, note):
    client = await connect(relay.url)
    water = note(keys.alice, "We need clean water tonight")
    food = note(keys.alice, "Food bank pickup")
    for event in (water, food):
        await client.publish(event)
    got = await client.req("s", {"search": "WATER"})
    assert [e["id"] for e in got] == [water.id]
    live = await connect(relay.url)
    assert await live.req("ls", {"search": "blankets"}) == []
    blankets = note(keys.bob, "Blankets wanted")
    await client.publish(blankets)
    await client.publish(note(keys.bob, "Something else"))
    assert [m[2]["id"] for m in await live.barrier() if m[0] == "EVENT"] == [blankets.id]


async def test_events_are_served_exactly_as_stored(relay, connect, keys, note):
    client = await connect(relay.url)
    event = note(keys.alice, "tab\there, emoji 🤝, nul \u0000")
    await client.publish(event)
    await client.send("REQ", "raw", {"ids": [event.id]})
    raw = await client.ws.recv()
    assert orjson.loads(raw)[2] == event.to_dict()
    assert Event.from_dict(orjson.loads(raw)[2]).is_valid()
