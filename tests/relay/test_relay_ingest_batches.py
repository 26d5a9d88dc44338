"""EVENTs are verified and saved in batches (relay/ingest.py: ``Ingest.submit``), not as a
task per event; each still gets its own answer, in the order sent, and only once it is
committed. Real relay, real websockets, real SQLite (and PostgreSQL for ``save_many``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from shieldmutual.relay.store.base import SaveResult
from shieldmutual.relay.store.sqlite import BATCH_BYTES, SQLiteStore
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.nip01prefix import BAD_SIGNATURE
from tests.relay.test_store import MakeStore, note
from tests.relay.test_store_batch import mixed_batch

FORGED_EVERY = 25
NO_RATES = {"events_per_second": 0.0, "reqs_per_second": 0.0, "query_seconds_per_second": 0.0}


def forged(event: Event, other: Event) -> dict[str, Any]:
    """``event`` with another event's signature: well formed, id right, signature wrong."""
    return {**event.to_dict(), "sig": other.sig}


async def test_pipelined_events_are_answered_in_order_and_share_commits(start_relay, connect, keys):
    relay = await start_relay(rate_limits=NO_RATES)
    client = await connect(relay.url)
    now = int(time.time())
    events = [sign(keys.alice, 1, f"pipelined {i}", created_at=now) for i in range(400)]
    sent: list[Event | dict[str, Any]] = [
        forged(e, events[0]) if i % FORGED_EVERY == 1 else e for i, e in enumerate(events)
    ]
    sent.append(events[0])  # a duplicate, after its original was sent
    commits = relay.store.commits
    for item in sent:
        await client.send("EVENT", item)
    oks = [await client.expect(lambda m: m[0] == "OK") for _ in sent]

    refused = [ok for ok in oks if ok[2] is False]
    assert [ok[1] for ok in refused] == [
        e.id for i, e in enumerate(events) if i % FORGED_EVERY == 1
    ]
    assert {ok[3] for ok in refused} == {BAD_SIGNATURE}
    accepted = [ok for ok in oks if ok[2] is True]
    # Accepted events are answered in the order they were sent, the duplicate last.
    expected = [e.id for i, e in enumerate(events) if i % FORGED_EVERY != 1] + [events[0].id]
    assert [ok[1] for ok in accepted] == expected
    assert accepted[-1][3].startswith("duplicate:")
    assert {ok[3] for ok in accepted[:-1]} == {""}
    stored = await client.req("all", {"authors": [keys.alice.public_hex], "limit": 1000})
    assert {e["id"] for e in stored} == set(expected)
    # Batched: far fewer transactions than events (one per event would be 385).
    assert relay.store.commits - commits < len(expected) // 4


async def test_every_ok_true_is_already_readable_from_another_connection(
    start_relay, connect, keys
):
    """OK true only after the commit: the moment it arrives, another client finds it."""
    relay = await start_relay(rate_limits=NO_RATES)
    writer = await connect(relay.url)
    reader = await connect(relay.url)
    now = int(time.time())
    events = [sign(keys.bob, 1, f"committed {i}", created_at=now) for i in range(60)]
    for event in events:
        await writer.send("EVENT", event)
    for number in range(len(events)):
        ok = await writer.expect(lambda m: m[0] == "OK")
        assert ok[2] is True, ok
        found = await reader.req("s", {"ids": [ok[1]]})
        assert [e["id"] for e in found] == [ok[1]], number
        await reader.send("CLOSE", "s")


async def test_a_failing_store_answers_each_event_and_the_connection_goes_on(relay, connect, keys):
    """The store closed under the relay (a real fault, as a lost disk would be): each
    event of the batch gets its own ``error:`` OK and the connection stays usable."""
    client = await connect(relay.url)
    good = sign(keys.carol, 1, "before")
    assert (await client.publish(good))[2] is True
    await relay.store.close()
    events = [sign(keys.carol, 1, f"after {i}") for i in range(30)]
    for event in events:
        await client.send("EVENT", event)
    oks = [await client.expect(lambda m: m[0] == "OK") for _ in events]
    assert sorted(ok[1] for ok in oks) == sorted(e.id for e in events)
    assert {(ok[2], ok[3]) for ok in oks} == {(False, "error: the store is not open")}
    # Every one of them was released: the connection still answers.
    late = sign(keys.carol, 1, "still here")
    assert await client.publish(late) == ["OK", late.id, False, "error: the store is not open"]


async def test_save_many_gives_the_answers_of_one_save_at_a_time(make_store: MakeStore) -> None:
    events = mixed_batch()
    async with make_store("one") as alone:
        expected = [await alone.save(e, e.to_json()) for e in events]
    async with make_store("many") as store:
        got = await store.save_many([(e, e.to_json()) for e in events])
        assert got == expected
        assert store.commits == 1  # type: ignore[attr-defined]
    assert SaveResult(True, "duplicate: already have this event") in got


async def test_a_transaction_ends_at_its_byte_cap(tmp_path: Path) -> None:
    """Large events do not all share one commit: a few MiB of events per transaction."""
    big = [note(content="x" * 60_000, at=1000 + i) for i in range(150)]
    small = [note(content=f"small {i}", at=1000 + i) for i in range(300)]
    async with SQLiteStore(tmp_path / "cap.db") as store:
        answers = await store.save_many([(e, e.to_json()) for e in big])
        assert set(answers) == {SaveResult(True, "")}
        # 150 x 60 KB is about 9 MB: at least 3 transactions, not one.
        assert store.commits >= len(big) * 60_000 // BATCH_BYTES + 1
        commits = store.commits
        await store.save_many([(e, e.to_json()) for e in small])
        assert store.commits == commits + 1  # small events still share one
