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
when the awaiting task was cancelled and says nothing when it ends, so on cancellation
the pool interrupts the statement while it still holds the reader (never a statement
of the next owner) and keeps the reader until a no-op queued behind the statement
returns, which proves the reader's thread idle.
An interrupt sent before aiosqlite's thread picked the statement up does nothing; the
deadline, still armed, then interrupts it, again and again until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import aiosqlite

from shieldmutual.relay.store.base import Cost
from shieldmutual.shared.errors import StoreError

# Seconds between interrupts of a statement past its deadline that has not ended yet.
_AGAIN = 0.05


class _Lease:
    """One statement's hold on a reader; ``active`` until its thread is done with it."""

    __slots__ = ("active", "deadline", "started", "timed_out")

    def __init__(self, started: float) -> None:
        self.active = True
        self.timed_out = False
        self.started = started
        self.deadline: asyncio.TimerHandle | None = None


class ReaderPool:
    """Readers handed out one per owner, round-robin among waiting owners."""

    def __init__(self, readers: list[aiosqlite.Connection], max_seconds: float) -> None:
        self._readers = list(readers)
        self._free = list(readers)
        self._max_seconds = max_seconds
        self._holding: set[object] = set()
        # Insertion order is the round-robin order: an owner served goes to the back.
        self._waiting: dict[object, deque[asyncio.Future[aiosqlite.Connection]]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def idle(self) -> int:
        """Readers free right now (for tests and diagnostics)."""
        return len(self._free)

    @property
    def queued(self) -> int:
        """Statements waiting for a reader (for tests and diagnostics)."""
        return sum(len(queue) for queue in self._waiting.values())

    async def fetch(
        self, sql: str, params: list[object], owner: object, cost: Cost | None = None
    ) -> list[Any]:
        """All rows of one statement, run for ``owner`` when its turn comes."""
        reader = await self._acquire(owner)
        lease = _Lease(time.monotonic())
        lease.deadline = asyncio.get_running_loop().call_later(
            self._max_seconds, self._expire, reader, lease
        )
        try:
            rows = await reader.execute_fetchall(sql, params)
        except asyncio.CancelledError:
            # Never suspends, so the reader is still this statement's; a reader closed
            # meanwhile (the store is closing) has nothing left to interrupt.
            with contextlib.suppress(ValueError):
                await reader.interrupt()
            task = asyncio.get_running_loop().create_task(self._settle(reader, owner, lease, cost))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            raise
        except Exception as exc:
            self._finish(reader, owner, lease, cost)
            if lease.timed_out:
                raise StoreError(
                    f"query took too long (over {self._max_seconds:g} s); ask for less"
                ) from None
            raise StoreError(f"could not read the database: {exc}") from exc
        self._finish(reader, owner, lease, cost)
        return list(rows)

    async def _settle(
        self, reader: aiosqlite.Connection, owner: object, lease: _Lease, cost: Cost | None
    ) -> None:
        """Keep a cancelled statement's reader until its thread is idle: a no-op queued
        behind the statement returns only once the statement has ended."""
        try:
            await reader.execute_fetchall("SELECT 1")
        except Exception:  # interrupted too, or the store is closing: idle all the same
            pass
        finally:
            self._finish(reader, owner, lease, cost)

    def _finish(
        self, reader: aiosqlite.Connection, owner: object, lease: _Lease, cost: Cost | None
    ) -> None:
        lease.active = False
        if lease.deadline is not None:
            lease.deadline.cancel()
        self._release(owner, reader)
        if cost is not None:
            cost(time.monotonic() - lease.started)

    def _expire(self, reader: aiosqlite.Connection, lease: _Lease) -> None:
        lease.timed_out = True
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._interrupt(reader, lease))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        # Again until the statement ends: an interrupt sent before the reader's thread
        # picked the statement up (a very busy machine) is lost.
        lease.deadline = loop.call_later(_AGAIN, self._expire, reader, lease)

    @staticmethod
    async def _interrupt(reader: aiosqlite.Connection, lease: _Lease) -> None:
        # Checked and sent without suspending, so the reader cannot change hands between.
        if lease.active:
            with contextlib.suppress(ValueError):  # closed meanwhile
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
