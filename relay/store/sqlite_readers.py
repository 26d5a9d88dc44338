"""Read-only SQLite connections shared fairly between clients, every statement bounded.

One client sending expensive queries within its rate limit must not slow down anyone
else (issue 10 #6), so readers are handed out by a scheduler rather than in turn:

* an *owner* (the client a statement runs for) holds at most one reader at a time,
  so however many queries one client sends it occupies one reader and the others
  stay free for everyone else;
* owners waiting for a reader are served round-robin, one statement each, so a
  client with a hundred queued queries waits its turn like a client with one;
* a statement runs at most ``max_seconds``, then is interrupted
  (``sqlite3_interrupt``) and fails with ``StoreError``;
* cancelling the awaiting task (CLOSE, the client left) drops a statement still
  waiting for a reader and interrupts a running one; the reader returns to the pool
  only once its thread is really idle again;
* ``cost`` learns how long each statement ran, so the caller can budget its client.

Each reader is an :mod:`aiosqlite` connection. aiosqlite runs a call it has queued even
when the awaiting task was cancelled and says nothing when it ends, so a statement is
started as its own task: the pool keeps it, interrupts it while it still holds the
reader (never a statement of the next owner), and releases the reader when it ends.
An interrupt sent before aiosqlite's thread picked the statement up does nothing; the
deadline's interrupt, still armed, then stops it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import aiosqlite

from shieldmutual.relay.store.base import Cost
from shieldmutual.shared.errors import StoreError


class _Lease:
    """One statement's hold on a reader; ``active`` until its thread is done with it."""

    __slots__ = ("active", "timed_out")

    def __init__(self) -> None:
        self.active = True
        self.timed_out = False


class ReaderPool:
    """Readers handed out one per owner, round-robin among waiting owners."""

    def __init__(self, readers: list[aiosqlite.Connection], max_seconds: float) -> None:
        self._readers = list(readers)
        self._free = list(readers)
        self._max_seconds = max_seconds
        self._holding: set[object] = set()
        # Insertion order is the round-robin order: an owner served goes to the back.
        self._waiting: dict[object, deque[asyncio.Future[aiosqlite.Connection]]] = {}
        self._interrupts: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def idle(self) -> int:
        """Readers free right now (for tests and diagnostics)."""
        return len(self._free)

    async def fetch(
        self, sql: str, params: list[object], owner: object, cost: Cost | None = None
    ) -> list[Any]:
        """All rows of one statement, run for ``owner`` when its turn comes."""
        reader = await self._acquire(owner)
        lease = _Lease()
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        work = asyncio.ensure_future(reader.execute_fetchall(sql, params))
        deadline = loop.call_later(self._max_seconds, self._expire, reader, lease)

        def finished(task: asyncio.Future[Any]) -> None:
            lease.active = False
            deadline.cancel()
            if not task.cancelled():
                task.exception()  # retrieved here: the caller may be gone
            self._release(owner, reader)
            if cost is not None:
                cost(time.monotonic() - started)

        work.add_done_callback(finished)
        try:
            return list(await asyncio.shield(work))
        except asyncio.CancelledError:
            if lease.active:
                await reader.interrupt()  # never suspends: the statement is still ours
            raise
        except Exception as exc:
            if lease.timed_out:
                raise StoreError(
                    f"query took too long (over {self._max_seconds:g} s); ask for less"
                ) from None
            raise StoreError(f"could not read the database: {exc}") from exc

    def _expire(self, reader: aiosqlite.Connection, lease: _Lease) -> None:
        lease.timed_out = True
        task = asyncio.get_running_loop().create_task(self._interrupt(reader, lease))
        self._interrupts.add(task)
        task.add_done_callback(self._interrupts.discard)

    @staticmethod
    async def _interrupt(reader: aiosqlite.Connection, lease: _Lease) -> None:
        # Checked and sent without suspending, so the reader cannot change hands between.
        if lease.active:
            await reader.interrupt()

    # ---- the scheduler -------------------------------------------------------------

    async def _acquire(self, owner: object) -> aiosqlite.Connection:
        if self._closed:
            raise StoreError("the store is not open")
        if self._free and owner not in self._holding and owner not in self._waiting:
            self._holding.add(owner)
            return self._free.pop()
        future: asyncio.Future[aiosqlite.Connection] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(owner, deque()).append(future)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release(owner, future.result())  # handed over as we were cancelled
            else:
                self._forget(owner, future)
            raise

    def _forget(self, owner: object, future: asyncio.Future[aiosqlite.Connection]) -> None:
        queue = self._waiting.get(owner)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[owner]

    def _release(self, owner: object, reader: aiosqlite.Connection) -> None:
        self._holding.discard(owner)
        self._free.append(reader)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand free readers to the first waiting owners that hold none."""
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
            future.set_result(self._free.pop())

    async def close(self) -> None:
        """Fail the waiting statements, then close every reader (after its statement)."""
        self._closed = True
        for queue in self._waiting.values():
            for future in queue:
                if not future.done():
                    future.set_exception(StoreError("the store is not open"))
        self._waiting.clear()
        for reader in self._readers:
            await reader.close()
