"""Saves that share one write transaction get the answers they would get one at a time.

The writers batch whatever is queued while the previous batch commits, and the SQLite
writer writes each run of regular events with one statement per table
(sqlite_write.save_events), so events of one batch must still see each other: a
duplicate within the batch, a deletion between its target and a re-send of it, a
replaceable event between its versions. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from shieldmutual.relay.store.base import EventStore, SaveResult
from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from tests.relay.test_store import ALICE, BOB, NOW, MakeStore, note


def mixed_batch() -> list[Event]:
    """Every kind of interaction between events of one batch, in one order."""
    first = note(content="first", tags=[["t", "a"], ["p", "00" * 32]], at=1000)
    doomed = note(content="to be deleted", at=1001)
    profile_old = note(kind=0, content="old", at=1002)
    profile_new = note(kind=0, content="new", at=1003)
    deletion = note(kind=5, tags=[["e", doomed.id]], at=1004)
    expiring = note(content="expires", tags=[["expiration", str(NOW + 60)]], at=1005)
    wrap = note(BOB, kind=1059, content="ciphertext", tags=[["p", "11" * 32]], at=1006)
    ephemeral = note(kind=20001, content="now only", at=1007)
    address_v1 = note(kind=30023, tags=[["d", "x"]], content="v1", at=1008)
    address_v2 = note(kind=30023, tags=[["d", "x"]], content="v2", at=1009)
    others = [note(BOB, content=f"plain {i}", tags=[["t", "b"]], at=1100 + i) for i in range(20)]
    return [
        first,
        *others[:10],
        first,  # a duplicate inside the batch
        doomed,
        profile_new,
        profile_old,  # superseded by the version just before it in the batch
        deletion,
        doomed,  # re-sent after its deletion, in the same batch
        *others[10:],
        expiring,
        wrap,
        ephemeral,
        address_v2,
        address_v1,
        others[3],  # a duplicate of an event several statements back
    ]


async def answers_together(store: EventStore, events: list[Event]) -> list[SaveResult]:
    """All saves queued before the writer runs: they share a batch."""
    return list(await asyncio.gather(*(store.save(e, e.to_json()) for e in events)))


async def stored_ids(store: EventStore) -> list[str]:
    pages = store.query([Filter.from_dict({"limit": 1000})], NOW)
    return [Event.from_json(raw).id async for page in pages for raw in page]


async def test_a_batch_gets_the_answers_of_one_at_a_time(make_store: MakeStore) -> None:
    events = mixed_batch()
    async with make_store("one") as alone:
        expected = [await alone.save(e, e.to_json()) for e in events]
        expected_ids = await stored_ids(alone)
    async with make_store("batched") as batched:
        got = await answers_together(batched, events)
        assert got == expected
        # One transaction: a batch that failed and was retried one save at a time
        # would give the same answers with a commit each.
        assert batched.commits == 1  # type: ignore[attr-defined]
        assert await stored_ids(batched) == expected_ids
    assert expected.count(SaveResult(True, "duplicate: already have this event")) == 2
    assert SaveResult(False, "blocked: this event was deleted by its author") in expected


async def test_a_batch_larger_than_one_lookup_finds_every_duplicate(
    make_store: MakeStore,
) -> None:
    """Known ids are looked up a few hundred at a time: the ones past the first chunk
    are found as well as the first."""
    events = [note(BOB, content=f"n {i}", at=2000 + i) for i in range(1200)]
    async with make_store(batch_max=2000) as store:
        await answers_together(store, events[::2])
        answers = await answers_together(store, events)
        assert [a.message.startswith("duplicate:") for a in answers] == [
            i % 2 == 0 for i in range(1200)
        ]
        assert len(await stored_ids(store)) == 1000  # the store's max_limit caps the read
        count = await store.count([Filter.from_dict({"authors": [BOB.public_hex]})], NOW)
        assert count.count == 1200


async def test_sqlite_writes_every_row_of_a_run_written_together(tmp_path: Path) -> None:
    """A run of regular events goes in with one statement per table: every event still
    gets its tag rows and its full-text row, all in one commit."""
    events = [note(ALICE, content=f"word{i}", tags=[["t", "x"]], at=3000 + i) for i in range(300)]
    async with SQLiteStore(tmp_path / "relay.db") as store:
        answers = await answers_together(store, events)
        assert all(a == SaveResult(True, "") for a in answers)
        assert store.commits == 1
        found = await store.count([Filter.from_dict({"#t": ["x"], "search": "word299"})], NOW)
        assert found.count == 1
    with sqlite3.connect(tmp_path / "relay.db") as db:
        assert db.execute("SELECT count(*) FROM tags").fetchone()[0] == 300
        assert db.execute("SELECT count(*) FROM search_text").fetchone()[0] == 300


async def test_rids_written_together_do_not_follow_arrival(tmp_path: Path) -> None:
    """Events of one second written in one batch: their rids' random low bits (drawn for
    the batch at once) must neither count up in arrival order nor bunch together, or
    the file would tell in which order they came (issue 9)."""
    events = [note(BOB, content=f"same second {i}", at=4000) for i in range(400)]
    async with SQLiteStore(tmp_path / "relay.db") as store:
        await answers_together(store, events)
    with sqlite3.connect(tmp_path / "relay.db") as db:
        rid_of = {bytes(i).hex(): rid for rid, i in db.execute("SELECT rid, id FROM events")}
    rids = [rid_of[e.id] for e in events]
    assert {rid >> 31 for rid in rids} == {4000}
    low = [rid & (2**31 - 1) for rid in rids]
    ranks = {rid: rank for rank, rid in enumerate(sorted(rids))}
    n = len(rids)
    mean = (n - 1) / 2
    covariance = sum((i - mean) * (ranks[rid] - mean) for i, rid in enumerate(rids))
    spearman = covariance / sum((i - mean) ** 2 for i in range(n))
    # Under no relation rho ~ N(0, 1/sqrt(n)), n = 400: 0.25 is 5 sigma.
    assert abs(spearman) < 0.25, spearman
    assert min(low) < 2**27 and max(low) > 2**31 - 2**27  # spread over all 31 bits
