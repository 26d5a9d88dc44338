"""What bounds a read of a store: value ranges, the COUNT cap, pages, time (issue 10).

Real stores (SQLite files and PostgreSQL databases, ``make_store``); filters are built
directly (not parsed) where a test needs values the parser refuses, because the store
must hold even when a caller forgets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from shieldmutual.relay.store.base import CountResult, EventStore
from shieldmutual.shared.errors import StoreError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

KEY = SecretKey(bytes.fromhex("11" * 32))
NOW = 2_000_000_000


def notes(count: int, *, at: int = 1000) -> list[Event]:
    """``count`` notes, two per second so that ties are cut by id."""
    return [sign(KEY, 1, f"note {i}", created_at=at + i // 2) for i in range(count)]


def newest_first(events: list[Event]) -> list[str]:
    return [e.id for e in sorted(events, key=lambda e: (-e.created_at, e.id))]


@pytest.fixture
async def store(make_store: Callable[..., EventStore]) -> AsyncIterator[EventStore]:
    async with make_store(max_count=5, default_limit=50) as opened:
        yield opened


async def save_all(store: EventStore, events: list[Event]) -> None:
    await asyncio.gather(*(store.save(e, e.to_json()) for e in events))


async def read(store: EventStore, filters: list[Filter], **kwargs: object) -> list[str]:
    pages = store.query(filters, NOW, **kwargs)  # type: ignore[arg-type]
    return [orjson.loads(raw)["id"] async for page in pages for raw in page]


# ---- issue 10 #1: nothing escapes a read but StoreError ------------------------------


@pytest.mark.parametrize(
    "flt",
    [
        Filter(since=2**63),
        Filter(until=2**64 - 1),
        Filter(kinds=frozenset({2**70})),
        Filter(ids=frozenset({"not hex"})),
        Filter(since=2**63, limit=3),
    ],
    ids=["since", "until", "kind", "ids", "since-limited"],
)
async def test_values_a_database_cannot_take_fail_as_store_errors(
    store: EventStore, flt: Filter
) -> None:
    """Before, SQLite's OverflowError (not a sqlite3.Error) escaped and killed the task
    that should have answered the REQ or COUNT."""
    await save_all(store, notes(2))
    with pytest.raises(StoreError, match="could not read the database"):
        await read(store, [flt])
    with pytest.raises(StoreError, match="could not read the database"):
        await store.count([flt], NOW)
    assert len(await read(store, [Filter()])) == 2  # the store is unharmed


async def test_the_largest_parsed_values_are_answered(store: EventStore) -> None:
    events = notes(3)
    await save_all(store, events)
    biggest = Filter.from_dict({"since": 0, "until": 2**63 - 1, "limit": 2**63 - 1})
    assert await read(store, [biggest]) == newest_first(events)
    assert await store.count([biggest], NOW) == CountResult(3)


# ---- issue 10 #6: COUNT is bounded -------------------------------------------------


async def test_count_stops_at_the_cap_and_says_approximate(store: EventStore) -> None:
    await save_all(store, notes(8))
    assert await store.count([Filter()], NOW) == CountResult(5, approximate=True)
    assert await store.count([Filter(limit=100)], NOW) == CountResult(5, approximate=True)
    assert await store.count([Filter(limit=3)], NOW) == CountResult(3)
    assert await store.count([Filter(limit=5)], NOW) == CountResult(5)
    assert await store.count([Filter(since=1003)], NOW) == CountResult(2)
    assert await store.count([Filter(limit=3), Filter(limit=4)], NOW) == CountResult(4)


# ---- issue 10 #6: pages, read only when asked for ----------------------------------


async def test_pages_are_read_one_at_a_time_when_asked(store: EventStore) -> None:
    events = notes(10)
    await save_all(store, events)
    statements: list[float] = []
    pages = store.query([Filter()], NOW, page_size=3, cost=statements.append)
    seen: list[list[bytes]] = []
    async for page in pages:
        seen.append(page)
        # One statement per page, run only when the page is asked for.
        assert len(statements) == len(seen)
        if len(seen) == 2:
            # Written after two pages were read: it sorts after the cursor, so it is
            # served, as a relay serves an event stored while a REQ is answered.
            late = sign(KEY, 1, "late", created_at=999)
            await store.save(late, late.to_json())
    assert [len(p) for p in seen] == [3, 3, 3, 2]
    got = [orjson.loads(raw)["id"] for page in seen for raw in page]
    assert got == newest_first([*events, late])
    assert all(seconds >= 0 for seconds in statements)


async def test_each_filter_keeps_its_limit_across_pages(store: EventStore) -> None:
    events = notes(12)
    tagged = [sign(KEY, 7, str(i), [["t", "x"]], created_at=1002 + i) for i in range(4)]
    await save_all(store, events + tagged)
    filters = [Filter(kinds=frozenset({1}), limit=7), Filter(tags={"t": frozenset({"x"})})]
    expected = newest_first(sorted(events, key=lambda e: (-e.created_at, e.id))[:7] + tagged)
    for size in (1, 2, 3, 5, 256):
        assert await read(store, filters, page_size=size) == expected, size


async def test_a_page_size_below_one_is_refused(store: EventStore) -> None:
    with pytest.raises(ValueError):
        await read(store, [Filter()], page_size=0)


async def test_an_abandoned_query_holds_no_reader(
    make_store: Callable[..., EventStore],
) -> None:
    async with make_store(readers=1) as store:
        await save_all(store, notes(10))
        pages = store.query([Filter()], NOW, page_size=2, owner="slow reader")
        assert len(await anext(pages)) == 2
        # The caller has not asked for the next page: the one reader is free for others.
        assert await read(store, [Filter(limit=1)], owner="other") != []
        await pages.aclose()
