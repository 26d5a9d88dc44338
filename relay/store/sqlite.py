"""The SQLite event store: one batching writer and a few read-only readers over WAL.

Writes: :meth:`SQLiteStore.save` queues the event; a single asyncio task takes up to
``batch_max`` queued saves, applies them in one transaction on the writer thread,
commits, and only then resolves each save, so ``OK true`` always means committed.
While one batch commits the next one queues up, so the busier the relay, the more
events share a commit.

The writer is a plain :mod:`sqlite3` connection on its own thread rather than an
aiosqlite one because aiosqlite hops threads once per statement and a save takes
about five; running a whole batch as one function costs one hop. Reads are one
statement each, which is exactly what aiosqlite is for: ``readers`` read-only
aiosqlite connections, each reading the last committed snapshot (WAL) without ever
waiting for the writer, shared fairly between clients by
:class:`~.sqlite_readers.ReaderPool`.

A query is read a page at a time (keyset pagination on ``created_at, id``), each page
only when the caller asks for it, so a large result never sits in memory whole and a
client that reads slowly holds no reader while it reads. Any failure of a read,
whatever it is, reaches the caller as :class:`StoreError`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

from shieldmutual.relay.access import Visible
from shieldmutual.relay.store import sqlite_write
from shieldmutual.relay.store.base import Cost, CountResult, SaveResult
from shieldmutual.relay.store.paging import Fetched, PagedStore, PageRow, read_errors, visible
from shieldmutual.relay.store.sqlite_file import lock, open_writer
from shieldmutual.relay.store.sqlite_query import (
    Part,
    batches,
    compile_filter,
    count_sql,
    page_sql,
    rids_sql,
    rows_sql,
    union_page_sql,
)
from shieldmutual.relay.store.sqlite_readers import ReaderPool, open_pool
from shieldmutual.shared.errors import BlockedError, StoreError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.kinds import is_ephemeral

T = TypeVar("T")
# A transaction also ends past this many bytes of events: thousands of small events
# share a commit (fewer index pages rewritten per event), while large ones (64 KB gift
# wraps) never make one transaction grow the WAL far past its checkpoint size.
BATCH_BYTES = 4 * 1024 * 1024
Work = Callable[[sqlite3.Connection], Any]
# created_at, id, raw and the tags of the filters that returned the row


class _Save(NamedTuple):
    """A queued save, kept as data rather than a function so that the writer can write
    consecutive saves together (:func:`sqlite_write.save_events`)."""

    event: Event
    raw: bytes


def _apply(db: sqlite3.Connection, works: list[Work | _Save]) -> list[Any]:
    """Each work's result, in order; each run of saves goes to the writer as one."""
    results: list[Any] = []
    for saves, run in groupby(works, key=lambda work: isinstance(work, _Save)):
        if saves:
            results += sqlite_write.save_events(db, cast(list[_Save], list(run)))
        else:
            results += [cast(Work, work)(db) for work in run]
    return results


def _newest_first(row: tuple[Any, ...]) -> tuple[int, bytes]:
    """Rows start with ``created_at, id``: newest first, ties by lowest id."""
    return -row[0], row[1]


def _short(
    remaining: dict[int, int], size: int, marks: Iterable[tuple[int, int, int]]
) -> dict[int, int | None]:
    """The filters every part of which returned fewer rows than its limit, with their
    oldest row's time (see :class:`.paging.Fetched`), from the parts' markers ``(tag,
    rows, oldest)``; a part without a marker returned nothing."""
    short: dict[int, int | None] = dict.fromkeys(remaining)
    for tag, count, oldest in marks:
        if tag not in short:
            continue
        if count >= min(remaining[tag], size):
            del short[tag]
            continue
        previous = short[tag]
        short[tag] = oldest if previous is None else min(previous, oldest)
    return short


def _item_set(
    pieces: list[tuple[int | None, list[Iterable[tuple[Any, ...]]]]], cap: int
) -> list[tuple[int, bytes]] | None:
    """``(created_at, id)`` of the union, ascending; None past ``cap``. A filter with a
    limit keeps its newest ``limit`` rows: each piece of a split filter kept them all."""
    found: set[tuple[int, bytes]] = set()
    for limit, fetched in pieces:
        rows = {(created_at, event_id) for rows in fetched for created_at, event_id in rows}
        found |= rows if limit is None else set(sorted(rows, key=_newest_first)[:limit])
        if len(found) > cap:
            return None
    return sorted(found)


class SQLiteStore(PagedStore):
    """:class:`~shieldmutual.relay.store.base.EventStore` in one SQLite file (WAL).

    ``path`` must be a file: readers open it separately. A filter without ``limit``
    gets ``default_limit`` results (an ``ids`` filter: as many as it names), and no
    filter gets more than ``max_limit``. COUNT stops at ``max_count`` (then answers
    approximately) and any read statement is interrupted after ``max_query_seconds``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch_max: int = 2000,
        readers: int = 4,
        default_limit: int = 500,
        max_limit: int = 5000,
        max_count: int = 10_000,
        max_query_seconds: float = 1.0,
    ) -> None:
        super().__init__(
            batch_max=batch_max,
            readers=readers,
            default_limit=default_limit,
            max_limit=max_limit,
            max_count=max_count,
            max_query_seconds=max_query_seconds,
        )
        self._path = Path(path)
        self._queue: asyncio.Queue[tuple[Work | _Save, asyncio.Future[Any]] | None] = (
            asyncio.Queue()
        )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._writer: sqlite3.Connection | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._readers: ReaderPool | None = None
        self._lock: int | None = None

    # ---- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Create the schema if the file is new, then start the writer and the readers."""
        self._lock = lock(self._path)
        loop = asyncio.get_running_loop()
        try:
            self._writer = await loop.run_in_executor(self._thread, open_writer, self._path)
        except BaseException:  # a newer schema, a damaged file: the file is free again
            self._unlock()
            raise
        self._readers = await open_pool(self._path, self._reader_count, self._max_query_seconds)
        self._writer_task = asyncio.create_task(self._write_loop(), name="sqlite-writer")

    async def close(self) -> None:
        """Write everything already queued, then close the readers and the writer (last,
        so its close checkpoints the WAL into the database file)."""
        if self._closed:
            return
        self._closed = True
        if self._writer_task is not None:
            self._queue.put_nowait(None)
            await self._writer_task
        if self._readers is not None:
            await self._readers.close()
        if self._writer is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._writer.close)
        self._thread.shutdown()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    # ---- writes ------------------------------------------------------------------

    async def save(self, event: Event, raw: bytes) -> SaveResult:
        """Queue the event; return once its transaction has committed. The answers are
        the constants in :mod:`~shieldmutual.relay.store.sqlite_write`."""
        if is_ephemeral(event.kind):
            return sqlite_write.STORED
        return cast(SaveResult, await self._submit(_Save(event, raw)))

    async def delete_expired(self, now: int) -> int:
        """Through the writer queue, like saves, so it never contends for the write lock."""
        return await self._submit(partial(sqlite_write.delete_expired, now=now))

    def _queue_save(self, event: Event, raw: bytes) -> asyncio.Future[SaveResult]:
        return self._enqueue(_Save(event, raw))

    async def _submit(self, work: Callable[[sqlite3.Connection], T] | _Save) -> T:
        return cast(T, await self._enqueue(work))

    def _enqueue(self, work: Work | _Save) -> asyncio.Future[Any]:
        if self._closed or self._writer_task is None:
            raise StoreError("the store is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((work, future))
        return future

    async def _write_loop(self) -> None:
        while True:
            batch: list[tuple[Work | _Save, asyncio.Future[Any]]] = []
            item = await self._queue.get()
            size = 0
            while item is not None:
                batch.append(item)
                size += len(item[0].raw) if isinstance(item[0], _Save) else 0
                if len(batch) == self._batch_max or size >= BATCH_BYTES or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if batch:
                await self._write(batch)
            if item is None:
                return

    async def _write(self, batch: list[tuple[Work | _Save, asyncio.Future[Any]]]) -> None:
        loop = asyncio.get_running_loop()
        works = [work for work, _ in batch]
        try:
            results = await loop.run_in_executor(self._thread, self._transaction, works)
        except Exception as exc:
            # Rolled back, nothing acknowledged. Retry one by one so that an event that
            # cannot be written fails alone instead of taking its whole batch with it.
            if len(batch) > 1:
                for item in batch:
                    await self._write([item])
            elif not batch[0][1].done():
                batch[0][1].set_exception(StoreError(f"could not write the event: {exc}"))
            return
        self._commits += 1
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # the caller may have given up waiting
                future.set_result(result)

    def _transaction(self, works: list[Work | _Save]) -> list[Any]:
        db = cast(sqlite3.Connection, self._writer)
        db.execute("BEGIN IMMEDIATE")
        try:
            results = _apply(db, works)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return results

    # ---- reads -------------------------------------------------------------------

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
        """See :meth:`.paging.PagedStore.fetch_page`: sorted, with the tags of the filters
        that returned each row."""
        parts = [
            part
            for tag, left in remaining.items()
            for part in compile_filter(plans[tag], now, min(left, size), before, tag)
        ]
        readers = self._readers_or_fail()
        if len(parts) == 1:  # the usual REQ: already sorted, every row the filter's
            tags: tuple[int, ...] = (parts[0].tag,)
            fetched = await readers.fetch(*page_sql(parts[0]), owner=owner, cost=cost)
            # A lone filter short of its limit leaves the page short: pages() stops anyway.
            rows: list[PageRow] = [
                (created_at, event_id, raw, tags) for created_at, event_id, raw in fetched
            ]
            return Fetched(rows, {})
        found_rows: dict[bytes, PageRow] = {}
        marks: list[tuple[int, int, int]] = []
        for batch in batches(parts):
            fetched = await readers.fetch(*union_page_sql(batch, size), owner=owner, cost=cost)
            for created_at, event_id, raw, found in fetched:
                if raw is None:  # a part's marker: oldest time, row count, part number
                    marks.append((batch[found].tag, event_id, created_at))
                    continue
                tags = tuple(int(tag) for tag in found.split(","))
                if event_id in found_rows:
                    tags = (*tags, *found_rows[event_id][3])
                found_rows[event_id] = (created_at, event_id, raw, tags)
        page = sorted(found_rows.values(), key=_newest_first)[:size]
        return Fetched(page, _short(remaining, size, marks))

    async def count(
        self,
        filters: Sequence[Filter],
        now: int,
        *,
        viewer: frozenset[str] = frozenset(),
        owner: object = None,
        cost: Cost | None = None,
    ) -> CountResult:
        """Distinct events matching any filter, each filter no further than its own
        ``limit``; past ``max_count`` the answer is ``max_count``, approximate."""
        owner = object() if owner is None else owner
        cap = self._max_count + 1
        with read_errors():
            pieces = []
            for v in visible(filters, viewer):
                limit = cap if v.filter.limit is None else min(v.filter.limit, cap)
                pieces.append((limit, compile_filter(v, now, limit)))
            total = await self._count(pieces, cap, owner, cost)
        if total > self._max_count:
            return CountResult(self._max_count, approximate=True)
        return CountResult(total)

    async def _count(
        self, pieces: list[tuple[int, list[Part]]], cap: int, owner: object, cost: Cost | None
    ) -> int:
        readers = self._readers_or_fail()
        whole = [parts[0] for _, parts in pieces if len(parts) == 1]
        split = [(limit, parts) for limit, parts in pieces if len(parts) > 1]
        groups = list(batches(whole))
        if not split and len(groups) <= 1:
            if not groups:
                return 0
            rows = await readers.fetch(*count_sql(groups[0], cap), owner=owner, cost=cost)
            return int(rows[0][0])
        rids: set[int] = set()
        for group in groups:
            rows = await readers.fetch(*rids_sql(group), owner=owner, cost=cost)
            rids.update(row[0] for row in rows)
        for limit, parts in split:
            # Each piece of a split filter kept the whole limit: merge, then cut.
            merged: set[tuple[int, bytes, int]] = set()
            for part in parts:
                rows = await readers.fetch(*rows_sql(part), owner=owner, cost=cost)
                merged.update(tuple(row) for row in rows)
            rids.update(row[2] for row in sorted(merged, key=_newest_first)[:limit])
        return len(rids)

    async def items(
        self,
        filters: Sequence[Filter],
        now: int,
        *,
        viewer: frozenset[str] = frozenset(),
        owner: object = None,
        cost: Cost | None = None,
        cap: int,
    ) -> list[tuple[int, bytes]]:
        """See :meth:`EventStore.items`. One statement per part, each reading at most
        ``cap + 1`` index rows (no raw JSON); the rows are merged and sorted on a worker
        thread, since for a set of 100,000 that takes longer than the statement."""
        owner = object() if owner is None else owner
        pieces: list[tuple[int | None, list[Iterable[tuple[Any, ...]]]]] = []
        with read_errors():
            readers = self._readers_or_fail()
            for v in visible(filters, viewer):
                limit = None if v.filter.limit is None else min(v.filter.limit, cap + 1)
                fetched: list[Iterable[tuple[Any, ...]]] = []
                for part in compile_filter(v, now, limit):
                    sql = f"SELECT created_at, id FROM ({part.sql}) LIMIT ?"
                    params = [*part.params, cap + 1]
                    fetched.append(await readers.fetch(sql, params, owner=owner, cost=cost))
                pieces.append((limit, fetched))
        found = await asyncio.to_thread(_item_set, pieces, cap)
        if found is None:
            raise BlockedError("too many query results")
        return found

    def _readers_or_fail(self) -> ReaderPool:
        if self._closed or self._readers is None:
            raise StoreError("the store is not open")
        return self._readers
