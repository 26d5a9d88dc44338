"""The PostgreSQL event store: one batching writer connection and a fair pool of readers.

Selected by ``[store] url = "postgresql://..."``; the same contract and answers as the
SQLite store, so one conformance suite runs against both. Several relay processes may
share one database (their writers serialize per author, see :mod:`.postgres_write`).

Writes: :meth:`PostgresStore.save` queues the event; one asyncio task takes up to
``batch_max`` queued saves, applies them in one transaction on its own connection,
commits, and only then resolves each save, so ``OK true`` always means committed (the
server's ``synchronous_commit`` decides what committed means; it is on by default).

Reads: :class:`~.postgres_readers.FairPool`, a page at a time with keyset pagination
(``created_at, id``), each page only when the caller asks for it. Any failure, whatever
it is, reaches the caller as :class:`StoreError`. The URL is never logged or put in an
error message: it may hold a password.

What it does not do: hide the order in which events arrived from someone who seizes
the database (issue 9). PostgreSQL appends rows to its heap and WAL in arrival order
whatever their key, so the SQLite store's random rids have no equivalent here; gift
wraps' random ``created_at`` still hide their time from clients, not from the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg

from shieldmutual.relay.access import Visible
from shieldmutual.relay.store import postgres_write
from shieldmutual.relay.store.base import Cost, CountResult, SaveResult
from shieldmutual.relay.store.paging import Fetched, PagedStore, PageRow, read_errors, visible
from shieldmutual.relay.store.postgres_query import count_sql, items_sql, page_sql
from shieldmutual.relay.store.postgres_readers import FairPool, open_pool
from shieldmutual.relay.store.postgres_schema import (
    SAVE_FUNCTION,
    SCHEMA,
    SCHEMA_LOCK,
    SCHEMA_VERSION,
    check_postgres,
)
from shieldmutual.relay.store.sqlite_write import STORED
from shieldmutual.shared.errors import BlockedError, StoreError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.kinds import is_ephemeral

# The queue holds a save (the event and its mas_event row) or an expiry sweep (``now``),
# and the future its answer goes to; None stops the writer.
Item = tuple["Event | int", "postgres_write.Row | None", "asyncio.Future[Any]"]


def _failure(exc: BaseException) -> str:
    """What went wrong, without the connection URL (asyncpg's messages never hold it)."""
    return f"{type(exc).__name__}: {exc}"


class PostgresStore(PagedStore):
    """:class:`~shieldmutual.relay.store.base.EventStore` in a PostgreSQL database.

    ``readers`` connections serve reads (one client holds at most one); a filter without
    ``limit`` gets ``default_limit`` results, none more than ``max_limit``; COUNT stops
    at ``max_count``; a read statement is cancelled after ``max_query_seconds``.
    """

    def __init__(
        self,
        url: str,
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
        self._url = url
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue()
        self._writer: Any = None
        self._writer_task: asyncio.Task[None] | None = None
        self._readers: FairPool | None = None

    # ---- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Create the schema if the database is new, then start the writer and readers."""
        try:
            self._writer = await self._connect()
            await self._create_schema()
            readers = await open_pool(self._url, self._reader_count, self._max_query_seconds)
        except StoreError:
            await self._drop_writer()
            raise
        except Exception as exc:
            await self._drop_writer()
            raise StoreError(f"cannot open the PostgreSQL store: {_failure(exc)}") from None
        self._readers = readers
        self._writer_task = asyncio.create_task(self._write_loop(), name="postgres-writer")

    async def _create_schema(self) -> None:
        check_postgres(self._writer.get_server_version().major)
        async with self._writer.transaction():
            await self._writer.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            await self._writer.execute(SCHEMA)
            await self._writer.execute(SAVE_FUNCTION)
            version = await self._writer.fetchval(
                "SELECT value FROM store_meta WHERE key = 'schema_version'"
            )
        if version != str(SCHEMA_VERSION):
            raise StoreError(
                f"the database has schema version {version}, expected {SCHEMA_VERSION}"
            )

    async def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.terminate()
            self._writer = None

    async def close(self) -> None:
        """Write everything already queued, then close the readers and the writer."""
        if self._closed:
            return
        self._closed = True
        if self._writer_task is not None:
            self._queue.put_nowait(None)
            await self._writer_task
        if self._readers is not None:
            await self._readers.close()
        if self._writer is not None:
            await self._writer.close()

    # ---- writes ------------------------------------------------------------------

    async def save(self, event: Event, raw: bytes) -> SaveResult:
        """Queue the event; return once its transaction has committed."""
        if is_ephemeral(event.kind):
            return STORED
        result: SaveResult = await self._submit(event, postgres_write.row(event, raw))
        return result

    async def delete_expired(self, now: int) -> int:
        """Through the writer queue, like saves."""
        removed: int = await self._submit(now, None)
        return removed

    def _queue_save(self, event: Event, raw: bytes) -> asyncio.Future[SaveResult]:
        return self._enqueue(event, postgres_write.row(event, raw))

    async def _submit(self, what: Event | int, row: postgres_write.Row | None) -> Any:
        return await self._enqueue(what, row)

    def _enqueue(self, what: Event | int, row: postgres_write.Row | None) -> asyncio.Future[Any]:
        if self._closed or self._writer_task is None:
            raise StoreError("the store is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((what, row, future))
        return future

    async def _write_loop(self) -> None:
        while True:
            batch: list[Item] = []
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

    async def _write(self, batch: list[Item]) -> None:
        try:
            results = await self._transaction(batch)
        except Exception as exc:
            # Rolled back, nothing acknowledged. Retry one by one so that an event that
            # cannot be written fails alone instead of taking its whole batch with it.
            if len(batch) > 1:
                for item in batch:
                    await self._write([item])
            elif not batch[0][2].done():
                batch[0][2].set_exception(StoreError(f"could not write the event: {_failure(exc)}"))
            return
        self._commits += 1
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():  # the caller may have given up waiting
                future.set_result(result)

    async def _connect(self) -> Any:
        # Named, so an operator can tell the relay's connections apart in pg_stat_activity.
        return await asyncpg.connect(
            self._url, server_settings={"application_name": "mas-relay writer"}
        )

    async def _transaction(self, batch: list[Item]) -> list[Any]:
        try:
            return await self._apply(batch)
        except Exception:
            if not self._writer.is_closed():
                raise
        # The connection was lost (a restart, a failover, pg_terminate_backend), not the
        # batch refused: nothing of it was acknowledged, so once more on a new one.
        self._writer = await self._connect()
        return await self._apply(batch)

    async def _apply(self, batch: list[Item]) -> list[Any]:
        """The batch's saves in one mas_save call, then any expiry sweep, one commit."""
        db = self._writer
        # An event's item always has its row; only the expiry sweep's has none.
        saves = [(e, row) for e, row, _ in batch if isinstance(e, Event) and row is not None]
        async with db.transaction():
            answers = iter(
                await postgres_write.save_rows(db, [r for _, r in saves], [e for e, _ in saves])
                if saves
                else []
            )
            return [
                next(answers)
                if isinstance(what, Event)
                else await postgres_write.delete_expired(db, what)
                for what, _, _ in batch
            ]

    # ---- reads -------------------------------------------------------------------

    def _pool(self) -> FairPool:
        if self._closed or self._readers is None:
            raise StoreError("the store is not open")
        return self._readers

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
        """See :meth:`.paging.PagedStore.fetch_page`: one statement for the whole page."""
        parts = [(tag, plans[tag], left) for tag, left in remaining.items()]
        sql, params = page_sql(parts, now, before, size)
        fetched = await self._pool().fetch(sql, params, owner, cost)
        if len(parts) == 1:  # a lone filter short of its limit leaves the page short
            return Fetched(fetched, {})
        rows: list[PageRow] = []
        short: dict[int, int | None] = dict.fromkeys(remaining)
        for row in fetched:
            if row[2] is not None:
                rows.append(row)
                continue
            tag, count = row[3]  # a filter's marker: oldest time, [tag, row count]
            if count >= min(remaining[tag], size):
                del short[tag]
            else:
                short[tag] = row[0]
        return Fetched(rows, short)

    async def count(
        self,
        filters: Sequence[Filter],
        now: int,
        *,
        viewer: frozenset[str] = frozenset(),
        owner: object = None,
        cost: Cost | None = None,
    ) -> CountResult:
        """Distinct events matching any filter, each no further than its own ``limit``;
        past ``max_count`` the answer is ``max_count``, approximate."""
        owner = object() if owner is None else owner
        cap = self._max_count + 1
        with read_errors():
            pieces = []
            for v in visible(filters, viewer):
                if v.filter.limit is not None and v.filter.limit < cap:
                    pieces.append((v, v.filter.limit, True))
                else:
                    pieces.append((v, cap, False))
            if not pieces:
                return CountResult(0)
            sql, params = count_sql(pieces, now, cap)
            total = int((await self._pool().fetch(sql, params, owner, cost))[0][0])
        if total > self._max_count:
            return CountResult(self._max_count, approximate=True)
        return CountResult(total)

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
        """See :meth:`EventStore.items`: one statement reading ``created_at, id`` only,
        at most ``cap + 1`` rows, so an oversized set is refused early."""
        owner = object() if owner is None else owner
        with read_errors():
            pieces = [
                (v, None if v.filter.limit is None else min(v.filter.limit, cap + 1))
                for v in visible(filters, viewer)
            ]
            if not pieces:
                return []
            sql, params = items_sql(pieces, now, cap)
            rows = await self._pool().fetch(sql, params, owner, cost)
        if len(rows) > cap:
            raise BlockedError("too many query results")
        return [(created_at, event_id) for created_at, event_id in rows]
