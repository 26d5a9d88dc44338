"""What both stores do alike around their SQL: which filters a reader may run, each
filter's limit, reading the union a page at a time, and what a failed read raises.

Only the statement that fetches one page differs between SQLite and PostgreSQL; the
rules of the result (each filter's own limit, the union without duplicates, newest
first, pages read only when asked) are kept here once, and so are the settings both
stores check and the query built on them (:class:`PagedStore`).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import NamedTuple, Self

from shieldmutual.relay.access import Visible, for_viewer
from shieldmutual.relay.store.base import Cost, SaveResult
from shieldmutual.shared.errors import StoreError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.kinds import is_ephemeral

# created_at, id, raw and the tags (filter numbers) of the filters that returned the row
PageRow = tuple[int, bytes, bytes, Sequence[int]]


class Fetched(NamedTuple):
    """A page's rows, newest first, and ``short``: for each filter every part of whose
    statement returned fewer rows than it asked for (it has nothing more after the
    cursor), the ``created_at`` of its oldest row, ``None`` when it returned none. A
    filter missing from ``short`` may have more."""

    rows: list[PageRow]
    short: dict[int, int | None]


# The newest ``size`` distinct rows after a cursor, for the filters with limit left.
FetchPage = Callable[[dict[int, int], "tuple[int, bytes] | None"], Awaitable[Fetched]]


@contextmanager
def read_errors() -> Iterator[None]:
    """Whatever fails in a read reaches the caller as StoreError, never as a raw
    traceback (issue 10 #1: SQLite's OverflowError is not a sqlite3.Error, asyncpg's
    encoding errors are no PostgresError)."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"could not read the database: {exc}") from exc


def visible(filters: Sequence[Filter], viewer: frozenset[str]) -> list[Visible]:
    """The filters as ``viewer`` may run them (gift wraps only to their recipients),
    without those that can match nothing."""
    plans = [for_viewer(f, viewer) for f in filters if not f.is_empty_result()]
    return [v for v in plans if v is not None and not v.filter.is_empty_result()]


def limit_of(f: Filter, default_limit: int, max_limit: int) -> int:
    """A filter's own limit up to ``max_limit``; without one, ``default_limit`` (an
    ``ids`` filter: as many as it names)."""
    if f.limit is not None:
        return min(f.limit, max_limit)
    if f.ids is not None:
        return min(len(f.ids), max_limit)
    return default_limit


async def pages(
    remaining: dict[int, int], fetch: FetchPage, page_size: int
) -> AsyncIterator[list[bytes]]:
    """Raw events, a page of at most ``page_size`` at a time, each read when asked for.

    Each page runs every filter that still has results to give from the cursor on,
    limited to the smaller of its remaining limit and the page, and keeps the newest
    ``page_size`` rows of the union. Whatever a filter returned beyond that comes after
    the cursor, so the next page finds it again; the rows a filter did place on the page
    are taken off its remaining limit. A row counts only for the filters with some limit
    left, since each piece of a filter too big for one statement (SQLite) returns up to
    the filter's whole limit.

    A filter that is short (see :class:`Fetched`) and all of whose rows are on the page
    (its oldest is newer than the cursor, so the page's cut kept it) is exhausted and
    not run again: without that rule a filter that never fills its limit, such as
    ``{kinds:[1,6], #t:[mutualaid]}`` beside many kind 30402 events tagged ``mutualaid``,
    re-reads everything older on every page and a REQ costs O(N^2/page) (issue 15).
    """
    before: tuple[int, bytes] | None = None
    while remaining:
        rows, short = await fetch(remaining, before)
        page = _count_down(rows, remaining)
        if page:
            yield page
        if len(rows) < page_size:
            return
        before = (rows[-1][0], rows[-1][1])
        remaining = {
            tag: left
            for tag, left in remaining.items()
            if left > 0 and not _exhausted(short, tag, before[0])
        }


def _count_down(rows: list[PageRow], remaining: dict[int, int]) -> list[bytes]:
    """The page's events: the rows that count for some filter with limit left, taken off
    those filters' limits in order."""
    if len(remaining) == 1:  # the usual REQ: every row is its one filter's
        ((tag, left),) = remaining.items()
        remaining[tag] = left - min(left, len(rows))
        return [row[2] for row in rows[:left]]
    page = []
    for _, _, raw, tags in rows:
        live = [tag for tag in tags if remaining.get(tag, 0) > 0]
        if live:
            page.append(raw)
        for tag in live:
            remaining[tag] -= 1
    return page


def _exhausted(short: dict[int, int | None], tag: int, cursor_time: int) -> bool:
    """Whether filter ``tag`` gave all it has: short, and its oldest row strictly newer
    than the cursor (a tie with the cursor's time may have been cut: keep it running)."""
    if tag not in short:
        return False
    oldest = short[tag]
    return oldest is None or oldest > cursor_time


class PagedStore(ABC):
    """The part of an :class:`~shieldmutual.relay.store.base.EventStore` that does not
    depend on the database: its settings, checked once, the count of commits, the
    ``async with`` lifecycle and the paged query. A store supplies ``open``, ``close``
    and :meth:`fetch_page`, the one statement that reads a page.

    A filter without ``limit`` gets ``default_limit`` results (an ``ids`` filter: as many
    as it names), none more than ``max_limit``; COUNT stops at ``max_count``; a read
    statement is interrupted after ``max_query_seconds``.
    """

    def __init__(
        self,
        *,
        batch_max: int,
        readers: int,
        default_limit: int,
        max_limit: int,
        max_count: int,
        max_query_seconds: float,
    ) -> None:
        if batch_max < 1 or readers < 1 or max_count < 1:
            raise ValueError("batch_max, readers and max_count must be at least 1")
        if not 0 < default_limit <= max_limit:
            raise ValueError("need 0 < default_limit <= max_limit")
        if not max_query_seconds > 0:
            raise ValueError("max_query_seconds must be positive")
        self._batch_max = batch_max
        self._reader_count = readers
        self._default_limit = default_limit
        self._max_limit = max_limit
        self._max_count = max_count
        self._max_query_seconds = max_query_seconds
        self._commits = 0
        self._closed = False

    @property
    def commits(self) -> int:
        """Write transactions committed since :meth:`open` (how well saves are batched)."""
        return self._commits

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    def save_many(
        self, items: Sequence[tuple[Event, bytes]]
    ) -> asyncio.Future[list[SaveResult | BaseException]]:
        """Every event queued for the writer at once, a plain future each (no task);
        ephemeral kinds are answered at once, never written."""
        futures = [
            _stored() if is_ephemeral(event.kind) else self._queue_save(event, raw)
            for event, raw in items
        ]
        return asyncio.gather(*futures, return_exceptions=True)

    @abstractmethod
    def _queue_save(self, event: Event, raw: bytes) -> asyncio.Future[SaveResult]:
        """Queue a (non-ephemeral) save for the writer: resolved after its commit."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def query(
        self,
        filters: Sequence[Filter],
        now: int,
        *,
        viewer: frozenset[str] = frozenset(),
        owner: object = None,
        page_size: int = 256,
        cost: Cost | None = None,
    ) -> AsyncGenerator[list[bytes], None]:
        """Pages of at most ``page_size`` events, see
        :meth:`~shieldmutual.relay.store.base.EventStore.query` and :func:`pages`."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        owner = object() if owner is None else owner
        with read_errors():
            plans = visible(filters, viewer)
            limits = [limit_of(v.filter, self._default_limit, self._max_limit) for v in plans]

        async def fetch(remaining: dict[int, int], before: tuple[int, bytes] | None) -> Fetched:
            with read_errors():
                return await self.fetch_page(plans, remaining, now, before, page_size, owner, cost)

        async for page in pages(dict(enumerate(limits)), fetch, page_size):
            yield page

    @abstractmethod
    async def fetch_page(
        self,
        plans: list[Visible],
        remaining: dict[int, int],
        now: int,
        before: tuple[int, bytes] | None,
        size: int,
        owner: object,
        cost: Cost | None,
    ) -> Fetched:
        """The newest ``size`` distinct rows before ``before`` of the filters (numbered as
        in ``plans``) that have some of their limit left in ``remaining``, and which of
        them are short (:class:`Fetched`). Public so that a test can drive :func:`pages`
        with a real store's statement."""


def _stored() -> asyncio.Future[SaveResult]:
    future: asyncio.Future[SaveResult] = asyncio.get_running_loop().create_future()
    future.set_result(SaveResult(True, ""))
    return future
