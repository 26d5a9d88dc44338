"""The fair reader pool (issue 10 #6) on real aiosqlite connections to a real file.

A statement that never ends on its own (a recursive CTE without a bound) stands for
an attacker's full-scan query: only an interrupt stops it. Each reader has a SQL
function ``started(name)`` that records which statements actually began executing,
so the tests can wait for "running" instead of sleeping, and prove that a dropped
statement never ran.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiosqlite
import pytest

from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.relay.store.sqlite_readers import ReaderPool, open_pool
from shieldmutual.relay.store.sqlite_schema import READER_MMAP_SIZE
from shieldmutual.shared.errors import StoreError

TIMEOUT = 5.0
ENDLESS = (
    "WITH RECURSIVE c(x) AS (SELECT started(?) UNION ALL SELECT x + 1 FROM c)"
    " SELECT count(*) FROM c"
)
QUICK = "SELECT started(?)"


class Pools:
    """Opens pools over one database file and records which statements started."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started: list[str] = []
        self.changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._pools: list[ReaderPool] = []
        self.connections: list[aiosqlite.Connection] = []  # the last pool's

    def _mark(self, name: str) -> int:  # runs on a reader's thread
        self._loop.call_soon_threadsafe(self._record, name)
        return 0

    def _record(self, name: str) -> None:
        self.started.append(name)
        self.changed.set()

    async def open(self, readers: int, max_seconds: float = 30.0) -> ReaderPool:
        connections = []
        for _ in range(readers):
            reader = await aiosqlite.connect(self.path.as_uri() + "?mode=ro", uri=True)
            await reader.create_function("started", 1, self._mark)
            connections.append(reader)
        pool = ReaderPool(connections, max_seconds)
        self._pools.append(pool)
        self.connections = connections
        return pool

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait (at most TIMEOUT) until ``condition`` holds after some statement started
        or some task finished."""
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                self.changed.clear()
                waiter = asyncio.ensure_future(self.changed.wait())
                try:
                    await asyncio.wait([waiter], timeout=0.05)
                finally:
                    waiter.cancel()

    async def close(self) -> None:
        for pool in self._pools:
            await pool.close()


def readers_db(tmp_path: Path) -> Path:
    """A database file with one table, for the pools' statements."""
    path = tmp_path / "readers.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    return path


@pytest.fixture
async def pools(tmp_path: Path) -> AsyncIterator[Pools]:
    made = Pools(readers_db(tmp_path))
    yield made
    await made.close()


def spawn(coro: Awaitable[object]) -> asyncio.Task[object]:
    return asyncio.ensure_future(coro)


async def test_one_owner_holds_one_reader_and_others_pass(pools: Pools) -> None:
    pool = await pools.open(readers=2)
    flood = [spawn(pool.fetch(ENDLESS, [f"a{i}"], owner="attacker")) for i in range(5)]
    await pools.until(lambda: pools.started == ["a0"])
    assert pool.idle == 1  # five queries, one reader
    for victim in ("b", "c", "d"):
        async with asyncio.timeout(TIMEOUT):
            assert await pool.fetch(QUICK, [victim], owner=victim) == [(0,)]
    assert pools.started == ["a0", "b", "c", "d"]
    for task in flood:
        task.cancel()
    await pools.until(lambda: all(t.done() for t in flood) and pool.idle == 2)
    # The running statement was interrupted, the queued ones never started.
    assert pools.started == ["a0", "b", "c", "d"]
    assert await pool.fetch(QUICK, ["after"], owner="attacker") == [(0,)]


async def queue_behind_a_blocker(pools: Pools, pool: ReaderPool) -> None:
    """Owner x holds the only reader while a1-a3, b1, b2 and c1 (owners a, b, c) queue
    in that order; then x lets go and every queued statement runs."""
    blocker = spawn(pool.fetch(ENDLESS, ["x"], owner="x"))
    await pools.until(lambda: pools.started[-1:] == ["x"])
    queued = [
        spawn(pool.fetch(QUICK, [name], owner=name[0]))
        for name in ("a1", "a2", "a3", "b1", "b2", "c1")
    ]
    await pools.until(lambda: pool.queued == 6)
    blocker.cancel()
    await asyncio.wait_for(asyncio.gather(*queued), TIMEOUT)


async def test_waiting_owners_are_served_round_robin(pools: Pools) -> None:
    pool = await pools.open(readers=1)
    await queue_behind_a_blocker(pools, pool)
    assert pools.started == ["x", "a1", "b1", "c1", "a2", "b2", "a3"]


async def test_a_statement_is_interrupted_after_the_maximum_time(pools: Pools) -> None:
    pool = await pools.open(readers=1, max_seconds=0.2)
    costs: list[float] = []
    with pytest.raises(StoreError) as info:
        await asyncio.wait_for(pool.fetch(ENDLESS, ["slow"], "o", costs.append), TIMEOUT)
    assert info.value.wire() == "error: query took too long (over 0.2 s); ask for less"
    assert len(costs) == 1 and costs[0] >= 0.2
    assert pool.idle == 1
    assert await pool.fetch(QUICK, ["next"], "o", costs.append) == [(0,)]
    assert len(costs) == 2


async def test_an_interrupt_sent_before_the_statement_started_is_sent_again(
    pools: Pools,
) -> None:
    """The reader's thread is still busy (here: with a statement run around the pool)
    when the deadline's first interrupt goes out; the statement must still be stopped."""
    pool = await pools.open(readers=1, max_seconds=0.2)
    (reader,) = pools.connections  # the pool's one connection, used behind its back
    outside = spawn(reader.execute_fetchall(ENDLESS, ["outside"]))
    await pools.until(lambda: pools.started == ["outside"])
    with pytest.raises(StoreError, match="took too long"):
        await asyncio.wait_for(pool.fetch(ENDLESS, ["pooled"], "o"), TIMEOUT)
    assert pools.started == ["outside", "pooled"]
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        await outside


async def test_a_cancelled_queued_statement_never_runs(pools: Pools) -> None:
    pool = await pools.open(readers=1)
    blocker = spawn(pool.fetch(ENDLESS, ["x"], owner="x"))
    await pools.until(lambda: pools.started == ["x"])
    dropped = spawn(pool.fetch(QUICK, ["dropped"], owner="y"))
    kept = spawn(pool.fetch(QUICK, ["kept"], owner="z"))
    await pools.until(lambda: pool.queued == 2)
    dropped.cancel()
    blocker.cancel()
    assert await asyncio.wait_for(kept, TIMEOUT) == [(0,)]
    assert pools.started == ["x", "kept"]
    assert dropped.cancelled() and blocker.cancelled()


async def test_a_cancelled_running_statement_keeps_its_reader_until_it_stops(
    pools: Pools,
) -> None:
    pool = await pools.open(readers=1)
    costs: list[float] = []
    running = spawn(pool.fetch(ENDLESS, ["x"], "x", costs.append))
    await pools.until(lambda: pools.started == ["x"])
    running.cancel()
    # The next statement gets the reader only once the interrupted one has ended, and
    # the interrupt does not touch it.
    assert await asyncio.wait_for(pool.fetch(QUICK, ["next"], "y"), TIMEOUT) == [(0,)]
    assert len(costs) == 1  # the cancelled statement's time is still charged
    assert pool.idle == 1


async def test_read_errors_are_store_errors(pools: Pools) -> None:
    pool = await pools.open(readers=1)
    with pytest.raises(StoreError, match="could not read the database"):
        await pool.fetch("SELECT * FROM no_such_table", [], "o")
    with pytest.raises(StoreError, match="could not read the database"):
        await pool.fetch("SELECT ?", [2**64], "o")  # OverflowError, not sqlite3.Error
    assert pool.idle == 1


async def test_closing_fails_the_waiting_statements(pools: Pools) -> None:
    pool = await pools.open(readers=1)
    running = spawn(pool.fetch(ENDLESS, ["x"], "x"))
    await pools.until(lambda: pools.started == ["x"])
    waiting = spawn(pool.fetch(QUICK, ["w"], "w"))
    await pools.until(lambda: pool.queued == 1)
    running.cancel()
    closing = spawn(pool.close())
    with pytest.raises(StoreError, match="not open"):
        await asyncio.wait_for(waiting, TIMEOUT)
    await asyncio.wait_for(closing, TIMEOUT)
    with pytest.raises(StoreError, match="not open"):
        await pool.fetch(QUICK, ["late"], "o")


async def test_every_connection_maps_the_whole_file(tmp_path: Path) -> None:
    """Issue 15: each reader and the loop's connection map the file up to SQLite's
    ceiling, not 256 MiB, so a 500k-event store (~600 MB) is read in place by all."""
    path = tmp_path / "relay.db"
    async with SQLiteStore(path, readers=3):  # the real schema and writer
        pool = await open_pool(path, 3, 1.0)
        try:
            mapped = await pool.setting("mmap_size")
        finally:
            await pool.close()
    with sqlite3.connect(readers_db(tmp_path)) as db:  # this build's ceiling for the setting
        ceiling = db.execute(f"PRAGMA mmap_size = {READER_MMAP_SIZE}").fetchone()[0]
    assert ceiling > 1 << 28  # the build can map more than the old 256 MiB
    assert mapped == [ceiling] * 4
