"""Read-only SQLite connections shared fairly between clients, every statement bounded.

One client sending expensive queries within its rate limit must not slow down anyone
else (issue 10 #6), so readers are handed out by :class:`~.fair.FairScheduler` rather
than in turn:

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

A statement that would get a reader at once (:meth:`.fair.FairScheduler.ready`) is first
tried on the event loop's own connection (:class:`Inline`) for at most
:data:`INLINE_SECONDS`, and handed to a reader only when it runs longer (issue 15): the
usual REQ's statement takes 30-100 us of SQLite, and the hop to a reader's thread and
back (a queue, a self-pipe wake-up, two futures and the GIL passed twice) cost more CPU
than that. Under contention nothing changes: a statement that would wait goes in line,
so the owners' turns are the same, and the deadline and interrupts apply as before to
whatever runs past the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiosqlite

from shieldmutual.relay.store.base import Cost
from shieldmutual.relay.store.fair import FairScheduler
from shieldmutual.relay.store.sqlite_schema import INLINE_PRAGMAS, READER_PRAGMAS
from shieldmutual.shared.errors import StoreError

# Seconds between interrupts of a statement past its deadline that has not ended yet.
_AGAIN = 0.05
# Seconds a statement may run on the event loop before it is stopped and given to a
# reader: long enough for a page of the usual REQ, short enough that an expensive one
# delays everybody else's messages by no more than a few REQs' worth.
INLINE_SECONDS = 0.001
# SQLite VM instructions between checks of that budget (a few microseconds each).
_STEPS = 1000
# Statements stopped on the loop waste its time: they may cost it this share of its time
# (after a burst of this many seconds), past which every statement goes to a reader until
# the share is back, so an attacker's slow queries cannot each block the loop for 1 ms.
WASTE_SHARE = 0.02
WASTE_BURST = 0.05


class Inline:
    """A read-only connection used on the event loop's thread, each statement stopped
    (by a progress handler) once it has run ``budget`` seconds."""

    def __init__(
        self,
        db: sqlite3.Connection,
        budget: float = INLINE_SECONDS,
        share: float = WASTE_SHARE,
        burst: float = WASTE_BURST,
    ) -> None:
        self._db = db
        self._budget = budget
        self._deadline = 0.0
        self._share = share
        self._burst = burst
        self._credit = burst  # seconds the loop may still waste on stopped statements
        self._checked = time.monotonic()
        self.answered = 0  # statements answered here (for tests and diagnostics)
        self.handed_on = 0  # statements that ran past the budget
        db.set_progress_handler(self._over, _STEPS)

    def _over(self) -> bool:
        """True (stop the statement) once it has used its budget."""
        return time.monotonic() > self._deadline

    def usable(self) -> bool:
        """Whether statements may be tried here: stopped ones have not used up the
        loop's share (credit comes back with time)."""
        now = time.monotonic()
        self._credit = min(self._burst, self._credit + (now - self._checked) * self._share)
        self._checked = now
        return self._credit > 0

    def fetch(self, sql: str, params: list[object]) -> list[Any] | None:
        """All rows of the statement, or None when it ran past the budget or SQLite
        could not run it here (then a reader runs it again, with its deadline)."""
        started = time.monotonic()
        self._deadline = started + self._budget
        try:
            rows = self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # stopped, busy, or an error a reader will report
            self.handed_on += 1
            self._credit -= time.monotonic() - started
            return None
        self.answered += 1
        return rows

    def setting(self, name: str) -> Any:
        """``PRAGMA name`` on this connection (for tests and diagnostics)."""
        return self._db.execute(f"PRAGMA {name}").fetchone()[0]

    def close(self) -> None:
        self._db.close()


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

    def __init__(
        self,
        readers: list[aiosqlite.Connection],
        max_seconds: float,
        inline: Inline | None = None,
    ) -> None:
        self._readers = list(readers)
        self._fair = FairScheduler(self._readers)
        self._max_seconds = max_seconds
        self._background: set[asyncio.Task[None]] = set()
        self.inline = inline

    @property
    def idle(self) -> int:
        """Readers free right now (for tests and diagnostics)."""
        return self._fair.idle

    @property
    def queued(self) -> int:
        """Statements waiting for a reader (for tests and diagnostics)."""
        return self._fair.queued

    async def fetch(
        self, sql: str, params: list[object], owner: object, cost: Cost | None = None
    ) -> list[Any]:
        """All rows of one statement, run for ``owner`` when its turn comes."""
        if self.inline is not None and self._fair.ready(owner) and self.inline.usable():
            answered = self._run_inline(self.inline, sql, params, cost)
            if answered is not None:
                return answered
        reader = await self._fair.acquire(owner)
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

    @staticmethod
    def _run_inline(
        inline: Inline, sql: str, params: list[object], cost: Cost | None
    ) -> list[Any] | None:
        started = time.monotonic()
        try:
            return inline.fetch(sql, params)
        except Exception as exc:  # what a reader would fail with too (a bad parameter)
            raise StoreError(f"could not read the database: {exc}") from exc
        finally:
            if cost is not None:
                cost(time.monotonic() - started)

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
        self._fair.release(owner, reader)
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

    async def setting(self, name: str) -> list[Any]:
        """``PRAGMA name`` as each connection reports it, the readers' then the loop's
        (for tests and diagnostics: every one must have been opened alike)."""
        answers = []
        for reader in self._readers:
            (row,) = await reader.execute_fetchall(f"PRAGMA {name}")
            answers.append(row[0])
        if self.inline is not None:
            answers.append(self.inline.setting(name))
        return answers

    async def close(self) -> None:
        """Fail the waiting statements, then close every reader (after its statement)."""
        self._fair.close()
        for reader in self._readers:
            await reader.close()
        inline, self.inline = self.inline, None
        if inline is not None:
            inline.close()


async def open_pool(path: Path, count: int, max_seconds: float) -> ReaderPool:
    """``count`` readers and the loop's connection on the file at ``path``, read-only,
    each with its pragmas (sqlite_schema)."""
    uri = path.resolve().as_uri() + "?mode=ro"
    readers = []
    for _ in range(count):
        reader = await aiosqlite.connect(uri, uri=True, isolation_level=None, cached_statements=256)
        for pragma in READER_PRAGMAS:
            await reader.execute_fetchall(pragma)
        readers.append(reader)
    inline = sqlite3.connect(uri, uri=True, isolation_level=None, cached_statements=256)
    for pragma in INLINE_PRAGMAS:
        inline.execute(pragma).fetchall()
    return ReaderPool(readers, max_seconds, Inline(inline))
