"""Every EventStore against a real database: every storage rule, durability, concurrency.

Each test runs on SQLite (a file under pytest's tmp_path) and on PostgreSQL (a fresh
database on the session's throwaway cluster): the ``store`` fixture opens one from
``make_store`` (tests/relay/conftest.py), which is parametrized over both backends.
"""

from __future__ import annotations

import asyncio
import random
import string
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from shieldmutual.relay.store.base import EventStore, SaveResult
from shieldmutual.relay.store.sqlite_query import MAX_VARIABLES
from shieldmutual.shared.errors import StoreError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

ALICE = SecretKey(bytes.fromhex("11" * 32))
BOB = SecretKey(bytes.fromhex("22" * 32))
NOW = 2_000_000_000

STORED = SaveResult(True, "")
DUPLICATE = SaveResult(True, "duplicate: already have this event")
SUPERSEDED = SaveResult(False, "duplicate: a newer version of this event is already stored")
DELETED = SaveResult(False, "blocked: this event was deleted by its author")

MakeStore = Callable[..., EventStore]


@pytest.fixture
async def store(make_store: MakeStore) -> AsyncIterator[EventStore]:
    async with make_store() as opened:
        yield opened


def note(
    key: SecretKey = ALICE,
    *,
    kind: int = 1,
    content: str = "",
    tags: Iterable[Sequence[str]] = (),
    at: int = 1000,
) -> Event:
    return sign(key, kind, content, tags, created_at=at)


async def save(store: EventStore, event: Event) -> SaveResult:
    return await store.save(event, event.to_json())


async def everything(
    store: EventStore, filters: Sequence[Filter], now: int = NOW, **kwargs: Any
) -> list[bytes]:
    """Every page of a query, joined."""
    return [raw async for page in store.query(filters, now, **kwargs) for raw in page]


async def ids(store: EventStore, *filters: dict[str, Any], now: int = NOW) -> list[str]:
    """Ids of what a REQ with these filters gets, in the order they are sent."""
    raws = await everything(store, [Filter.from_dict(f) for f in filters], now)
    return [orjson.loads(raw)["id"] for raw in raws]


async def count(store: EventStore, *filters: dict[str, Any], now: int = NOW) -> int:
    result = await store.count([Filter.from_dict(f) for f in filters], now)
    assert not result.approximate
    return result.count


def by_newest(events: Iterable[Event]) -> list[Event]:
    """The relay's order: newest first, ties by lowest id."""
    return sorted(events, key=lambda e: (-e.created_at, e.id))


def newest_first(*events: Event) -> list[str]:
    return [e.id for e in by_newest(events)]


# ---- saving ------------------------------------------------------------------------


async def test_serves_the_exact_bytes_it_was_given(store: EventStore) -> None:
    event = note(content="exact")
    raw = orjson.dumps(event.to_dict(), option=orjson.OPT_INDENT_2)
    assert await store.save(event, raw) == STORED
    assert await everything(store, [Filter()]) == [raw]


async def test_duplicate_is_acknowledged_and_stored_once(store: EventStore) -> None:
    event = note()
    assert await save(store, event) == STORED
    assert await save(store, event) == DUPLICATE
    assert await ids(store, {}) == [event.id]


async def test_ephemeral_events_are_not_stored(store: EventStore) -> None:
    assert await save(store, note(kind=20001)) == STORED
    assert await ids(store, {}) == []


async def test_replaceable_keeps_only_the_newest(store: EventStore) -> None:
    old, new = note(kind=0, content="old", at=100), note(kind=0, content="new", at=200)
    other_author = note(BOB, kind=0, at=50)
    assert await save(store, old) == STORED
    assert await save(store, new) == STORED
    assert await save(store, other_author) == STORED
    assert await ids(store, {"kinds": [0]}) == [new.id, other_author.id]
    # An older version arriving later is refused and never served.
    assert await save(store, note(kind=0, content="older", at=150)) == SUPERSEDED
    assert await ids(store, {"kinds": [0], "authors": [ALICE.public_hex]}) == [new.id]


@pytest.mark.parametrize("kind", [3, 10002, 30402])
@pytest.mark.parametrize("lowest_first", [True, False])
async def test_equal_timestamps_keep_the_lowest_id(
    store: EventStore, kind: int, lowest_first: bool
) -> None:
    a, b = (note(kind=kind, content=c, tags=[["d", "x"]], at=500) for c in ("a", "b"))
    low, high = sorted((a, b), key=lambda e: e.id)
    first, second = (low, high) if lowest_first else (high, low)
    assert await save(store, first) == STORED
    assert await save(store, second) == (SUPERSEDED if lowest_first else STORED)
    assert await ids(store, {"kinds": [kind]}) == [low.id]


async def test_addressable_versions_are_per_d_tag(store: EventStore) -> None:
    kind = 30402
    x1 = note(kind=kind, tags=[["d", "x"]], at=100)
    y1 = note(kind=kind, tags=[["d", "y"]], at=100)
    no_d = note(kind=kind, content="no d", at=100)
    empty_d = note(kind=kind, tags=[["d", ""]], at=110)  # a missing d counts as ""
    x2 = note(kind=kind, tags=[["d", "x"], ["t", "new"]], at=120)
    for event in (x1, y1, no_d, empty_d, x2):
        assert await save(store, event) == STORED
    assert await ids(store, {"kinds": [kind]}) == [x2.id, empty_d.id, y1.id]
    assert await ids(store, {"#d": ["x"]}) == [x2.id]
    assert await save(store, note(kind=kind, tags=[["d", "x"]], at=110)) == SUPERSEDED
    # The same d from another author is another address.
    bob_x = note(BOB, kind=kind, tags=[["d", "x"]], at=1)
    assert await save(store, bob_x) == STORED
    assert await ids(store, {"#d": ["x"]}) == [x2.id, bob_x.id]


# ---- NIP-09 deletions --------------------------------------------------------------


def deletion(key: SecretKey, tags: list[list[str]], at: int = 2000) -> Event:
    return note(key, kind=5, content="oops", tags=tags, at=at)


async def test_e_deletion_removes_only_the_authors_own_events(store: EventStore) -> None:
    mine, theirs = note(content="mine", tags=[["t", "x"]]), note(BOB, content="theirs")
    await save(store, mine)
    await save(store, theirs)
    request = deletion(ALICE, [["e", mine.id], ["e", theirs.id]])
    assert await save(store, request) == STORED
    assert await ids(store, {}) == [request.id, theirs.id]
    assert await ids(store, {"#t": ["x"]}) == []
    assert await save(store, mine) == DELETED
    assert await save(store, theirs) == DUPLICATE
    assert await ids(store, {"ids": [mine.id]}) == []


async def test_deletion_may_arrive_before_the_event(store: EventStore) -> None:
    mine, theirs = note(content="mine"), note(BOB, content="theirs")
    await save(store, deletion(ALICE, [["e", mine.id]]))
    await save(store, deletion(BOB, [["e", mine.id]], at=2001))
    # Only Alice's own request binds Alice's event; Alice's request can't bind Bob's.
    await save(store, deletion(ALICE, [["e", theirs.id]], at=2002))
    assert await save(store, mine) == DELETED
    assert await save(store, theirs) == STORED
    assert await ids(store, {"kinds": [1]}) == [theirs.id]


async def test_a_deletion_removes_versions_up_to_its_time(store: EventStore) -> None:
    address = f"30402:{ALICE.public_hex}:x"
    listing = note(kind=30402, tags=[["d", "x"]], at=1000)
    profile = note(kind=0, at=1000)
    bobs = note(BOB, kind=30402, tags=[["d", "x"]], at=1000)
    for event in (listing, profile, bobs):
        await save(store, event)
    request = deletion(ALICE, [["a", address], ["a", f"0:{ALICE.public_hex}:"]], at=1500)
    assert await save(store, request) == STORED
    # Bob cannot delete Alice's address, even by naming it.
    await save(store, deletion(BOB, [["a", f"0:{ALICE.public_hex}:"]], at=1600))
    assert await ids(store, {"kinds": [0, 30402]}) == [bobs.id]
    for at in (900, 1500):
        assert await save(store, note(kind=30402, tags=[["d", "x"]], at=at)) == DELETED
        assert await save(store, note(kind=0, at=at)) == DELETED
    newer = note(kind=30402, tags=[["d", "x"]], at=1501)
    assert await save(store, newer) == STORED
    assert await ids(store, {"kinds": [30402]}) == newest_first(newer, bobs)


async def test_a_deletion_older_than_the_stored_version_keeps_it(store: EventStore) -> None:
    listing = note(kind=30402, tags=[["d", "x"]], at=3000)
    await save(store, listing)
    await save(store, deletion(ALICE, [["a", f"30402:{ALICE.public_hex}:x"]], at=2000))
    assert await ids(store, {"kinds": [30402]}) == [listing.id]


async def test_deleting_a_deletion_has_no_effect(store: EventStore) -> None:
    first = deletion(ALICE, [["e", "ab" * 32]], at=2000)
    second = deletion(ALICE, [["e", first.id]], at=2001)
    await save(store, first)
    await save(store, second)
    assert await ids(store, {"kinds": [5]}) == [second.id, first.id]


async def test_a_deletion_of_a_deletion_not_yet_seen_has_no_effect(store: EventStore) -> None:
    first = deletion(ALICE, [["e", "ab" * 32]], at=2000)
    await save(store, deletion(ALICE, [["e", first.id]], at=2001))
    assert await save(store, first) == STORED


# ---- NIP-40 expiration -------------------------------------------------------------


async def test_expired_events_are_never_served(store: EventStore) -> None:
    expiring = note(content="soon gone", tags=[["expiration", "5000"], ["t", "x"]])
    lasting = note(content="stays", tags=[["expiration", "not a number"]])
    await save(store, expiring)
    await save(store, lasting)
    assert await ids(store, {}, now=4999) == newest_first(expiring, lasting)
    for now in (5000, 5001):  # expired from the expiration timestamp on
        assert await ids(store, {}, now=now) == [lasting.id]
        assert await ids(store, {"#t": ["x"]}, {"search": "gone"}, now=now) == []
        assert await count(store, {}, now=now) == 1
    assert await store.delete_expired(4999) == 0
    assert await store.delete_expired(5000) == 1
    assert await ids(store, {}, now=0) == [lasting.id]
    assert await ids(store, {"#t": ["x"]}, {"search": "gone"}, now=0) == []


# ---- queries -----------------------------------------------------------------------


async def test_each_filter_has_its_own_limit_and_the_union_is_sorted(store: EventStore) -> None:
    notes = [note(content=str(i), at=1000 + i // 2) for i in range(10)]  # pairs share a time
    bobs = [note(BOB, content=str(i), at=1000 + i) for i in range(3)]
    for event in notes + bobs:
        await save(store, event)
    got = await ids(
        store, {"authors": [ALICE.public_hex], "limit": 3}, {"authors": [BOB.public_hex]}
    )
    assert got == newest_first(*by_newest(notes)[:3], *bobs)
    # Overlapping filters: the union has no duplicates.
    assert await ids(store, {"limit": 4}, {"kinds": [1], "limit": 2}) == newest_first(
        *by_newest(notes + bobs)[:4]
    )


async def test_default_and_maximum_limits(make_store: MakeStore) -> None:
    events = [note(content=str(i), at=1000 + i) for i in range(12)]
    async with make_store(default_limit=5, max_limit=8) as store:
        for event in events:
            await save(store, event)
        assert len(await ids(store, {})) == 5
        assert len(await ids(store, {"limit": 100})) == 8
        # An ids filter gets every event it names (up to the maximum).
        assert len(await ids(store, {"ids": [e.id for e in events[:7]]})) == 7
        assert len(await ids(store, {"ids": [e.id for e in events]})) == 8


async def test_filters_that_match_nothing(store: EventStore) -> None:
    await save(store, note(tags=[["t", "x"]]))
    for empty in ({"ids": []}, {"authors": []}, {"kinds": []}, {"#t": []}, {"limit": 0}):
        assert await ids(store, empty) == []
    assert await ids(store, {"since": 1001, "until": 1000}) == []


async def test_since_and_until_are_inclusive(store: EventStore) -> None:
    events = [note(content=str(at), tags=[["t", "x"]], at=at) for at in (99, 100, 101, 102)]
    for event in events:
        await save(store, event)
    expected = newest_first(*events[1:3])
    assert await ids(store, {"since": 100, "until": 101}) == expected
    assert await ids(store, {"since": 100, "until": 101, "#t": ["x"]}) == expected


async def test_tag_letters_are_anded_and_values_ored(store: EventStore) -> None:
    both = note(content="both", tags=[["t", "a"], ["t", "b"], ["p", BOB.public_hex]])
    only_t = note(content="only t", tags=[["t", "a"]])
    upper = note(content="upper", tags=[["T", "a"], ["title", "a"]])
    for event in (both, only_t, upper):
        await save(store, event)
    assert await ids(store, {"#t": ["a", "b"]}) == newest_first(both, only_t)
    assert await ids(store, {"#t": ["a"], "#p": [BOB.public_hex]}) == [both.id]
    assert await ids(store, {"#T": ["a"]}) == [upper.id]
    assert await ids(store, {"#t": ["b"], "ids": [both.id, only_t.id]}) == [both.id]
    assert await count(store, {"#t": ["a", "b"]}) == 2


async def test_search_needs_every_word(store: EventStore) -> None:
    rent = note(content="Need help with RENT this month", at=1)
    bail = note(content="bail fund, rent", tags=[["title", "Urgent"], ["summary", "jail"]], at=2)
    cafe = note(content="café au lait", at=3)
    for event in (rent, bail, cafe):
        await save(store, event)
    assert await ids(store, {"search": "rent"}) == [bail.id, rent.id]
    assert await ids(store, {"search": "RENT help"}) == [rent.id]
    assert await ids(store, {"search": "urgent JAIL"}) == [bail.id]
    assert await ids(store, {"search": "rent lang:en"}) == [bail.id, rent.id]
    assert await ids(store, {"search": "ren"}) == []  # whole words only
    assert await ids(store, {"search": "cafe"}) == []  # diacritics matter
    assert await ids(store, {"search": "Café"}) == [cafe.id]
    assert await ids(store, {"search": "rent", "kinds": [1], "#t": []}) == []
    # Nothing a user types is FTS5 syntax: the store agrees with the pure matcher.
    hostile = ['rent" OR "cafe', "rent OR", "NEAR(rent bail)", "ren*", "-rent", "AND", '"', "^"]
    for query in hostile:
        matching = [e for e in (rent, bail, cafe) if Filter(search=query).matches(e)]
        assert await ids(store, {"search": query}) == newest_first(*matching), query
    assert await ids(store, {"search": "lang:en"}) == [cafe.id, bail.id, rent.id]


async def test_long_tag_values_d_tags_and_words_are_stored_and_found(store: EventStore) -> None:
    """PostgreSQL's btree and tsvector entries hold a few kilobytes at most: a longer tag
    value, d tag or word must not make an event unstorable nor unfindable."""
    # Random letters: a repeated one would be compressed to fit.
    long = "é" + "".join(random.Random(5).choices(string.ascii_lowercase, k=5000))
    tagged = note(content=f"a {long} b", tags=[["t", long], ["d", long]], kind=30402, at=100)
    assert await save(store, tagged) == STORED
    assert await ids(store, {"#t": [long]}) == [tagged.id]
    assert await ids(store, {"#d": [long, "short"]}) == [tagged.id]
    assert await ids(store, {"#t": [long[:-1]]}) == []
    assert await ids(store, {"search": long.upper()}) == [tagged.id]
    assert await ids(store, {"search": long[:-1]}) == []
    newer = note(content="v2", tags=[["d", long]], kind=30402, at=200)
    assert await save(store, newer) == STORED
    assert await ids(store, {"kinds": [30402]}) == [newer.id]
    address = f"30402:{ALICE.public_hex}:{long}"
    assert await save(store, deletion(ALICE, [["a", address]], at=300)) == STORED
    assert await ids(store, {"kinds": [30402]}) == []
    assert await save(store, note(content="v1", tags=[["d", long]], kind=30402, at=250)) == DELETED


async def test_count_is_the_union_within_each_limit(store: EventStore) -> None:
    for i in range(6):
        await save(store, note(ALICE if i % 2 else BOB, content=str(i), at=1000 + i))
    alice, bob = ALICE.public_hex, BOB.public_hex
    assert await count(store, {"authors": [alice], "limit": 1}, {"authors": [bob]}) == 4
    assert await count(store, {"authors": [alice]}, {"kinds": [1], "limit": 0}) == 3
    assert await count(store, {"authors": [alice]}, {"since": 1004}) == 4
    assert await count(store, {"limit": 5}, {"authors": [alice], "limit": 2}) == 5
    assert await count(store, {"kinds": []}) == 0


async def test_filters_bigger_than_sqlite_variables_are_split(store: EventStore) -> None:
    events = [note(content=str(i), at=1000 + i) for i in range(5)]
    for event in events:
        await save(store, event)
    unknown = [f"{i:064x}" for i in range(MAX_VARIABLES + 10)]
    wanted = [e.id for e in events]
    assert await ids(store, {"ids": unknown + wanted}) == newest_first(*events)
    assert await ids(store, {"ids": unknown + wanted, "limit": 2}) == newest_first(*events)[:2]
    assert await ids(store, {"#e": unknown}, {"ids": wanted[:1]}) == wanted[:1]
    assert await count(store, {"ids": unknown + wanted}, {"authors": [ALICE.public_hex]}) == 5
    # Read a row at a time, the pieces still share one limit and the union one order.
    split = [Filter.from_dict({"ids": unknown + wanted, "limit": 3}), Filter(limit=1)]
    raws = await everything(store, split, page_size=1)
    assert [orjson.loads(raw)["id"] for raw in raws] == newest_first(*events)[:3]
    assert await count(store, {"ids": unknown + wanted, "limit": 3}, {"#e": unknown}) == 3


# ---- durability and concurrency ----------------------------------------------------


async def test_saved_events_survive_close_and_reopen(make_store: MakeStore) -> None:
    events = [note(content=f"durable {i}", tags=[["t", "x"]], at=1000 + i) for i in range(20)]
    async with make_store() as store:
        # Not awaited one by one: close must still write all of them.
        pending = [asyncio.ensure_future(save(store, e)) for e in events]
        await asyncio.sleep(0)
    assert {task.result() for task in pending} == {STORED}
    async with make_store() as store:
        assert await ids(store, {"#t": ["x"]}) == newest_first(*events)
        assert await count(store, {"search": "durable"}) == 20


CRASH = """
import asyncio, os, sys
from shieldmutual.relay.store.postgres import PostgresStore
from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey

async def main():
    where = sys.argv[1]
    store = PostgresStore(where) if where.startswith("postgresql:") else SQLiteStore(where)
    await store.open()
    event = sign(SecretKey(bytes(31) + b"\\x01"), 1, "acknowledged", created_at=1000)
    print((await store.save(event, event.to_json())).accepted, event.id, flush=True)
    os._exit(0)  # die without closing: no checkpoint, no cleanup

asyncio.run(main())
"""


async def test_acknowledged_events_survive_a_process_crash(
    make_store: MakeStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    postgres = request.node.callspec.params["make_store"] == "postgres"
    where = request.getfixturevalue("pg_url") if postgres else str(tmp_path / "relay.db")
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASH, where, stdout=asyncio.subprocess.PIPE
    )
    out = (await done.communicate())[0].decode().split()
    assert done.returncode == 0 and out[0] == "True"
    async with make_store() as store:
        assert await ids(store, {}) == [out[1]]


async def test_concurrent_saves_share_few_transactions(store: EventStore) -> None:
    events = [note(BOB if i % 3 else ALICE, content=f"n{i}", at=1000 + i % 50) for i in range(1500)]
    before = store.commits
    results = await asyncio.gather(*(save(store, e) for e in events))
    assert set(results) == {STORED}
    assert store.commits - before <= 6  # batches of up to 500
    assert await count(store, {}) == 1500
    assert len(await ids(store, {"limit": 5000})) == 1500


async def test_an_unwritable_event_fails_alone(store: EventStore) -> None:
    good = [note(content=str(i)) for i in range(20)]
    bad = note(content="bad")
    saves = [save(store, e) for e in good[:10]]
    saves.append(store.save(bad, ["not", "bytes"]))  # type: ignore[arg-type]
    saves += [save(store, e) for e in good[10:]]
    results = await asyncio.gather(*saves, return_exceptions=True)
    assert isinstance(results.pop(10), StoreError)
    assert set(results) == {STORED}
    assert await ids(store, {}) == newest_first(*good)


async def test_batches_never_exceed_batch_max(make_store: MakeStore) -> None:
    async with make_store(batch_max=7) as store:
        events = [note(content=str(i)) for i in range(70)]
        await asyncio.gather(*(save(store, e) for e in events))
        assert store.commits >= 10


async def test_a_closed_store_refuses_work(make_store: MakeStore) -> None:
    store = make_store()
    await store.open()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreError):
        await save(store, note())
    with pytest.raises(StoreError):
        await everything(store, [Filter()])


def test_constructor_rejects_nonsense(make_store: MakeStore) -> None:
    for kwargs in ({"batch_max": 0}, {"readers": 0}, {"default_limit": 10, "max_limit": 5}):
        with pytest.raises(ValueError):
            make_store(**kwargs)
