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
aiosqlite connections, used in turn, each reading the last committed snapshot (WAL)
without ever waiting for the writer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import aiosqlite

from shieldmutual.relay.store import sqlite_write
from shieldmutual.relay.store.base import SaveResult
from shieldmutual.relay.store.sqlite_query import (
    Part,
    batches,
    compile_filter,
    count_sql,
    rids_sql,
    rows_sql,
)
from shieldmutual.relay.store.sqlite_schema import (
    READER_PRAGMAS,
    SCHEMA,
    SCHEMA_VERSION,
    WRITER_PRAGMAS,
)
from shieldmutual.shared.errors import StoreError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.kinds import is_ephemeral

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]
Row = tuple[int, bytes, bytes]  # created_at, id, raw


def _newest_first(row: Row) -> tuple[int, bytes]:
    return -row[0], row[1]


class SQLiteStore:
    """:class:`~shieldmutual.relay.store.base.EventStore` in one SQLite file (WAL).

    ``path`` must be a file: readers open it separately. A filter without ``limit``
    gets ``default_limit`` results (an ``ids`` filter: as many as it names), and no
    filter gets more than ``max_limit``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch_max: int = 500,
        readers: int = 2,
        default_limit: int = 500,
        max_limit: int = 5000,
    ) -> None:
        if batch_max < 1 or readers < 1:
            raise ValueError("batch_max and readers must be at least 1")
        if not 0 < default_limit <= max_limit:
            raise ValueError("need 0 < default_limit <= max_limit")
        self._path = Path(path)
        self._batch_max = batch_max
        self._reader_count = readers
        self._default_limit = default_limit
        self._max_limit = max_limit
        self._queue: asyncio.Queue[tuple[Work, asyncio.Future[Any]] | None] = asyncio.Queue()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._writer: sqlite3.Connection | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._next_reader = 0
        self._commits = 0
        self._closed = False

    @property
    def commits(self) -> int:
        """Write transactions committed since :meth:`open` (how well saves are batched)."""
        return self._commits

    async def __aenter__(self) -> SQLiteStore:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Create the schema if the file is new, then start the writer and the readers."""
        loop = asyncio.get_running_loop()
        self._writer = await loop.run_in_executor(self._thread, self._open_writer)
        uri = self._path.resolve().as_uri() + "?mode=ro"
        for _ in range(self._reader_count):
            reader = await aiosqlite.connect(
                uri, uri=True, isolation_level=None, cached_statements=256
            )
            for pragma in READER_PRAGMAS:
                await reader.execute_fetchall(pragma)
            self._readers.append(reader)
        self._writer_task = asyncio.create_task(self._write_loop(), name="sqlite-writer")

    def _open_writer(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        for pragma in WRITER_PRAGMAS:
            db.execute(pragma)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            db.executescript(f"BEGIN; {SCHEMA} COMMIT;")
        elif version != SCHEMA_VERSION:
            db.close()
            raise StoreError(
                f"{self._path} has schema version {version}, expected {SCHEMA_VERSION}"
            )
        return db

    async def close(self) -> None:
        """Write everything already queued, then close the readers and the writer (last,
        so its close checkpoints the WAL into the database file)."""
        if self._closed:
            return
        self._closed = True
        if self._writer_task is not None:
            self._queue.put_nowait(None)
            await self._writer_task
        for reader in self._readers:
            await reader.close()
        self._readers.clear()
        if self._writer is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._writer.close)
        self._thread.shutdown()

    # ---- writes ------------------------------------------------------------------

    async def save(self, event: Event, raw: bytes) -> SaveResult:
        """Queue the event; return once its transaction has committed. The answers are
        the constants in :mod:`~shieldmutual.relay.store.sqlite_write`."""
        if is_ephemeral(event.kind):
            return sqlite_write.STORED
        return await self._submit(partial(sqlite_write.save_event, event=event, raw=raw))

    async def delete_expired(self, now: int) -> int:
        """Through the writer queue, like saves, so it never contends for the write lock."""
        return await self._submit(partial(sqlite_write.delete_expired, now=now))

    async def _submit(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or self._writer_task is None:
            raise StoreError("the store is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((work, future))
        return cast(T, await future)

    async def _write_loop(self) -> None:
        while True:
            batch: list[tuple[Work, asyncio.Future[Any]]] = []
            item = await self._queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) == self._batch_max or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if batch:
                await self._write(batch)
            if item is None:
                return

    async def _write(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
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

    def _transaction(self, works: list[Work]) -> list[Any]:
        db = cast(sqlite3.Connection, self._writer)
        db.execute("BEGIN IMMEDIATE")
        try:
            results = [work(db) for work in works]
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return results

    # ---- reads -------------------------------------------------------------------

    def _limit(self, f: Filter) -> int:
        if f.limit is not None:
            return min(f.limit, self._max_limit)
        if f.ids is not None:
            return min(len(f.ids), self._max_limit)
        return self._default_limit

    async def query(self, filters: Sequence[Filter], now: int) -> list[bytes]:
        whole: list[Part] = []
        split: list[tuple[int, list[Part]]] = []
        for f in filters:
            if f.is_empty_result():
                continue
            limit = self._limit(f)
            parts = compile_filter(f, now, limit)
            if len(parts) == 1:
                whole += parts
            else:
                split.append((limit, parts))
        results = [await self._rows(batch) for batch in batches(whole)]
        for limit, parts in split:
            # Each piece of a split filter kept the whole limit: merge, then cut.
            pieces = [row for part in parts for row in await self._rows([part])]
            results.append(sorted(set(pieces), key=_newest_first)[:limit])
        if len(results) == 1:
            return [raw for _, _, raw in results[0]]
        merged = {row[1]: row for rows in results for row in rows}
        return [raw for _, _, raw in sorted(merged.values(), key=_newest_first)]

    async def count(self, filters: Sequence[Filter], now: int) -> int:
        """Distinct events matching any filter; ``limit`` plays no part (NIP-45)."""
        parts = [
            part
            for f in (dataclasses.replace(f, limit=None) for f in filters)
            if not f.is_empty_result()
            for part in compile_filter(f, now, None)
        ]
        groups = list(batches(parts))
        if not groups:
            return 0
        if len(groups) == 1:
            return int((await self._fetch(*count_sql(groups[0])))[0][0])
        rids = set()
        for group in groups:
            rids.update(row[0] for row in await self._fetch(*rids_sql(group)))
        return len(rids)

    async def _rows(self, parts: list[Part]) -> list[Row]:
        return cast(list[Row], await self._fetch(*rows_sql(parts)))

    async def _fetch(self, sql: str, params: list[object]) -> list[Any]:
        if self._closed or not self._readers:
            raise StoreError("the store is not open")
        reader = self._readers[self._next_reader % len(self._readers)]
        self._next_reader += 1
        try:
            return list(await reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"could not read the database: {exc}") from exc
