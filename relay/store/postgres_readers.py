"""PostgreSQL connections for reads, shared fairly between clients, every statement bounded.

The same rules as the SQLite :class:`~.sqlite_readers.ReaderPool`, with the same
scheduler (:class:`~.fair.FairScheduler`), for the same reason (issue 10 #6: one
client's expensive queries must not slow down everyone else):

* an *owner* (the client a statement runs for) holds at most one connection at a time;
* owners waiting for one are served round-robin, one statement each;
* a statement runs at most ``max_seconds`` (the server's ``statement_timeout``, set on
  every reading connection), then fails with ``StoreError``;
* cancelling the awaiting task drops a statement still waiting for a connection and
  cancels a running one (asyncpg sends PostgreSQL a cancel request); the connection
  goes back only once asyncpg's pool has seen the cancellation through, so a cancel can
  never hit the next owner's statement;
* ``cost`` learns how long each statement ran.

The connections themselves are an :class:`asyncpg.Pool` of exactly ``size``; the
scheduler only decides who gets one next.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from shieldmutual.relay.store.base import Cost
from shieldmutual.relay.store.fair import FairScheduler
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
            "application_name": "mas-relay reader",
            "statement_timeout": str(max(1, round(max_seconds * 1000))),
            "default_transaction_read_only": "on",
        },
    )
    return FairPool(pool, size, max_seconds)


class FairPool:
    """``size`` connections handed out one per owner, round-robin among waiting owners."""

    def __init__(self, pool: asyncpg.Pool, size: int, max_seconds: float) -> None:
        self._pool = pool
        # What is scheduled are turns, one per connection; asyncpg picks the connection.
        self._fair = FairScheduler(list(range(size)))
        self._max_seconds = max_seconds
        self._background: set[asyncio.Task[None]] = set()

    @property
    def idle(self) -> int:
        """Connections free right now (for tests and diagnostics)."""
        return self._fair.idle

    @property
    def queued(self) -> int:
        """Statements waiting for a connection (for tests and diagnostics)."""
        return self._fair.queued

    async def fetch(
        self, sql: str, params: list[object], owner: object, cost: Cost | None = None
    ) -> list[Any]:
        """All rows of one statement, run for ``owner`` when its turn comes."""
        turn = await self._fair.acquire(owner)
        started = time.monotonic()
        try:
            conn = await self._pool.acquire()
        except BaseException as exc:
            self._finish(owner, turn, started, cost)
            if isinstance(exc, Exception):
                raise StoreError(f"could not read the database: {exc}") from exc
            raise
        try:
            rows = await conn.fetch(sql, *params)
        except asyncio.CancelledError:
            give_back = self._give_back(conn, owner, turn, started, cost)
            task = asyncio.get_running_loop().create_task(give_back)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            raise
        except Exception as exc:
            await self._give_back(conn, owner, turn, started, cost)
            if isinstance(exc, asyncpg.QueryCanceledError):
                raise StoreError(
                    f"query took too long (over {self._max_seconds:g} s); ask for less"
                ) from None
            raise StoreError(f"could not read the database: {exc}") from exc
        await self._give_back(conn, owner, turn, started, cost)
        return [tuple(row) for row in rows]

    async def _give_back(
        self, conn: Any, owner: object, turn: int, started: float, cost: Cost | None
    ) -> None:
        """The turn goes to the next owner only once asyncpg's release is over, which for
        a cancelled statement waits until PostgreSQL has ended it (or drops the
        connection): a cancel can never reach the next owner's statement."""
        try:
            await self._pool.release(conn)
        except Exception:  # a broken connection is dropped by the pool; the turn is free
            pass
        finally:
            self._finish(owner, turn, started, cost)

    def _finish(self, owner: object, turn: int, started: float, cost: Cost | None) -> None:
        self._fair.release(owner, turn)
        if cost is not None:
            cost(time.monotonic() - started)

    async def close(self) -> None:
        """Fail the waiting statements, let the running ones end, close the connections."""
        self._fair.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._pool.close()
