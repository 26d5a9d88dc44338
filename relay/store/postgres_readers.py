"""PostgreSQL connections for reads, shared fairly between clients, every statement bounded.

The same rules as the SQLite :class:`~.sqlite_readers.ReaderPool`, for the same reason
(issue 10 #6: one client's expensive queries must not slow down everyone else):

* an *owner* (the client a statement runs for) holds at most one connection at a time;
* owners waiting for one are served round-robin, one statement each;
* a statement runs at most ``max_seconds`` (the server's ``statement_timeout``, set on
  every reading connection), then fails with ``StoreError``;
* cancelling the awaiting task drops a statement still waiting for a connection and
  cancels a running one (asyncpg sends PostgreSQL a cancel request); the connection
  goes back only once asyncpg's pool has seen the cancellation through, so a cancel can
  never hit the next owner's statement;
* ``cost`` learns how long each statement ran.

The connections themselves are an :class:`asyncpg.Pool` of exactly ``size``; the pool
here only decides who gets one next.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import asyncpg

from shieldmutual.relay.store.base import Cost
from shieldmutual.shared.errors import StoreError


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset between statements: readers run single read-only statements and
    never change their session (no LISTEN, lock, prepared cursor or setting), so the
    default reset (``RESET ALL``, ``UNLISTEN *``... a round trip) would only double
    every read's latency. asyncpg still waits out a cancelled statement first."""


async def open_pool(url: str, size: int, max_seconds: float) -> FairPool:
    """``size`` read-only connections to ``url``, each statement bounded by the server's
    ``statement_timeout`` (it also stops the work on the server, unlike a client timeout)."""
    pool = await asyncpg.create_pool(
        url,
        min_size=size,
        max_size=size,
        reset=_keep_session,
        server_settings={
            "statement_timeout": str(max(1, round(max_seconds * 1000))),
            "default_transaction_read_only": "on",
        },
    )
    return FairPool(pool, size, max_seconds)


class FairPool:
    """``size`` connections handed out one per owner, round-robin among waiting owners."""

    def __init__(self, pool: asyncpg.Pool, size: int, max_seconds: float) -> None:
        self._pool = pool
        self._free = size
        self._max_seconds = max_seconds
        self._holding: set[object] = set()
        # Insertion order is the round-robin order: an owner served goes to the back.
        self._waiting: dict[object, deque[asyncio.Future[None]]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def idle(self) -> int:
        """Connections free right now (for tests and diagnostics)."""
        return self._free

    @property
    def queued(self) -> int:
        """Statements waiting for a connection (for tests and diagnostics)."""
        return sum(len(queue) for queue in self._waiting.values())

    async def fetch(
        self, sql: str, params: list[object], owner: object, cost: Cost | None = None
    ) -> list[Any]:
        """All rows of one statement, run for ``owner`` when its turn comes."""
        await self._acquire(owner)
        started = time.monotonic()
        try:
            conn = await self._pool.acquire()
        except BaseException as exc:
            self._finish(owner, started, cost)
            if isinstance(exc, Exception):
                raise StoreError(f"could not read the database: {exc}") from exc
            raise
        try:
            rows = await conn.fetch(sql, *params)
        except asyncio.CancelledError:
            task = asyncio.get_running_loop().create_task(self._settle(conn, owner, started, cost))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            raise
        except Exception as exc:
            await self._pool.release(conn)
            self._finish(owner, started, cost)
            if isinstance(exc, asyncpg.QueryCanceledError):
                raise StoreError(
                    f"query took too long (over {self._max_seconds:g} s); ask for less"
                ) from None
            raise StoreError(f"could not read the database: {exc}") from exc
        await self._pool.release(conn)
        self._finish(owner, started, cost)
        return [tuple(row) for row in rows]

    async def _settle(self, conn: Any, owner: object, started: float, cost: Cost | None) -> None:
        """Give a cancelled statement's connection back only once asyncpg's release has
        waited for PostgreSQL to end the statement (or dropped the connection)."""
        try:
            await self._pool.release(conn)
        except Exception:  # the pool is closing: nothing left to protect
            pass
        finally:
            self._finish(owner, started, cost)

    def _finish(self, owner: object, started: float, cost: Cost | None) -> None:
        self._holding.discard(owner)
        self._free += 1
        self._dispatch()
        if cost is not None:
            cost(time.monotonic() - started)

    # ---- the scheduler -------------------------------------------------------------

    async def _acquire(self, owner: object) -> None:
        if self._closed:
            raise StoreError("the store is not open")
        if self._free and owner not in self._holding and owner not in self._waiting:
            self._holding.add(owner)
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(owner, deque()).append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._finish(owner, time.monotonic(), None)  # handed over as we were cancelled
            else:
                self._forget(owner, future)
            raise

    def _forget(self, owner: object, future: asyncio.Future[None]) -> None:
        queue = self._waiting.get(owner)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[owner]

    def _dispatch(self) -> None:
        """Hand free connections to the first waiting owners that hold none."""
        while self._free:
            owner = next((o for o in self._waiting if o not in self._holding), None)
            if owner is None:
                return
            queue = self._waiting.pop(owner)
            future = queue.popleft()
            if queue:
                self._waiting[owner] = queue  # back of the line
            if future.done():  # its task was cancelled and has not run its cleanup yet
                continue
            self._holding.add(owner)
            self._free -= 1
            future.set_result(None)

    async def close(self) -> None:
        """Fail the waiting statements, let the running ones end, close the connections."""
        self._closed = True
        for queue in self._waiting.values():
            for future in queue:
                if not future.done():
                    future.set_exception(StoreError("the store is not open"))
        self._waiting.clear()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._pool.close()
