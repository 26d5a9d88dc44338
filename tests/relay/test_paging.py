"""Issue 15: a REQ's cost per event must not grow with the store.

The feed's REQ has ``{kinds:[30402]}`` and ``{kinds:[1,6], #t:[mutualaid]}``; every aid
request carries ``t=mutualaid``, so the second filter, read through the tags table,
walked every older request on every page and never filled its limit: O(N^2/page). A
filter that has given all it has (short of its limit, all its rows on the page) must not
be run again. :func:`pages` is driven here with a real store's page statement
(``fetch_page``) on SQLite and PostgreSQL, recording which filters each page runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from shieldmutual.relay.store.base import EventStore
from shieldmutual.relay.store.paging import Fetched, PagedStore, pages, visible
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

KEY = SecretKey(bytes.fromhex("22" * 32))
NOW = 2_000_000_000
PAGE = 64
AID = Filter(kinds=frozenset({30402}))
NOTES = Filter(kinds=frozenset({1, 6}), tags={"t": frozenset({"mutualaid"})})


def requests(count: int) -> list[Event]:
    """Aid requests (kind 30402), each tagged ``t=mutualaid``, one per second."""
    return [
        sign(KEY, 30402, "need", [["d", str(i)], ["t", "mutualaid"]], created_at=1000 + i)
        for i in range(count)
    ]


def note(at: int) -> Event:
    return sign(KEY, 1, f"note {at}", [["t", "mutualaid"]], created_at=at)


def newest_first(events: list[Event]) -> list[str]:
    return [e.id for e in sorted(events, key=lambda e: (-e.created_at, e.id))]


@pytest.fixture
async def store(make_store: Callable[..., EventStore]) -> AsyncIterator[PagedStore]:
    async with make_store(default_limit=100_000, max_limit=100_000) as opened:
        assert isinstance(opened, PagedStore)
        yield opened


async def save_all(store: EventStore, events: list[Event]) -> None:
    await asyncio.gather(*(store.save(e, e.to_json()) for e in events))


async def read(store: PagedStore, filters: list[Filter]) -> tuple[list[str], list[set[int]]]:
    """Every event of the REQ, newest first, and the filters each page ran."""
    plans = visible(filters, frozenset())
    ran: list[set[int]] = []

    async def fetch(remaining: dict[int, int], before: tuple[int, bytes] | None) -> Fetched:
        ran.append(set(remaining))
        return await store.fetch_page(plans, remaining, NOW, before, PAGE, "test", None)

    limits = {tag: 100_000 for tag in range(len(plans))}
    got = [orjson.loads(raw)["id"] async for page in pages(limits, fetch, PAGE) for raw in page]
    return got, ran


@pytest.mark.parametrize("stored", [2_000, 8_000])
async def test_a_filter_that_never_fills_its_limit_is_run_once(
    store: PagedStore, stored: int
) -> None:
    """Before: the notes filter ran on every page (stored / 64 of them), each run reading
    every older request through the tags table."""
    events = [*requests(stored), note(1000 + stored + 5), note(1000 + stored - 3)]
    await save_all(store, events)
    got, ran = await read(store, [AID, NOTES])
    assert got == newest_first(events)
    assert sum(1 in filters for filters in ran) <= 2
    assert len(ran) == stored // PAGE + 1


async def test_a_short_filter_whose_rows_were_cut_runs_until_they_are_served(
    store: PagedStore,
) -> None:
    """A filter short of its limit whose oldest row fell beyond the page's cut has more
    to give: it runs until that row is on a page, then no more."""
    events = [*requests(1_000), note(2_100), note(1_500), note(1_300)]
    await save_all(store, events)
    got, ran = await read(store, [AID, NOTES])
    assert got == newest_first(events)
    # 701 events are newer than the note at 1300 and one request shares its second: it
    # is on page 11 (701 // 64 + 1), after which the notes filter has nothing left.
    assert len(ran) == 16
    assert [1 in filters for filters in ran] == [i < 11 for i in range(16)]


async def test_ties_at_the_cut_keep_the_filter_running(store: PagedStore) -> None:
    """Rows at the cursor's second may have been cut: a short filter whose oldest row
    shares it is run again, so nothing is lost."""
    same = [sign(KEY, 30402, "need", [["d", str(i)]], created_at=5000) for i in range(PAGE + 10)]
    cut = sorted(e.id for e in same)[PAGE - 1]
    # Notes of that second whose ids sort after the first page's last row: cut from it.
    late = (sign(KEY, 1, f"late {i}", [["t", "mutualaid"]], created_at=5000) for i in range(500))
    tied = [e for e in late if e.id > cut][:2]
    assert len(tied) == 2
    await save_all(store, [*same, *tied])
    got, _ = await read(store, [AID, NOTES])
    assert got == newest_first([*same, *tied])


async def test_pages_drops_only_short_filters_served_in_full() -> None:
    """The rule on its own: after a full page, filter 0 (short, oldest row newer than
    the cursor) is dropped; filter 1 (not short) and 2 (short, oldest at the cursor's
    time) run again."""
    asked: list[set[int]] = []
    first = [(10 - i, bytes([i]), b"{}", (0, 1, 2)) for i in range(4)]

    async def fetch(remaining: dict[int, int], before: tuple[int, bytes] | None) -> Fetched:
        asked.append(set(remaining))
        if before is None:
            return Fetched(first, {0: 9, 2: 7})
        return Fetched([], {})

    got = [page async for page in pages({0: 50, 1: 50, 2: 50}, fetch, 4)]
    assert got == [[b"{}"] * 4]
    assert asked == [{0, 1, 2}, {1, 2}]
