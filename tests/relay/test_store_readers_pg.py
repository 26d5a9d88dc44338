"""The fair reader pool of the PostgreSQL store (issue 10 #6) on a real server.

The same rules as test_store_readers.py tests for SQLite: one connection per owner,
round-robin among waiting owners, a time limit per statement, cancellation that drops a
queued statement and stops a running one on the server. ``pg_sleep`` stands for an
attacker's full-scan query; a separate monitor connection reads ``pg_stat_activity`` to
wait for "running" (and "stopped") instead of sleeping. A statement's ``cost`` is
charged once it held a connection, so a cost never charged proves a statement never ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import asyncpg
import pytest

from shieldmutual.relay.store.postgres_readers import FairPool, open_pool
from shieldmutual.shared.errors import StoreError
from tests.waiting import until

TIMEOUT = 5.0
QUICK = "SELECT $1::text"


def endless(name: str) -> str:
    """A statement that runs until stopped, recognisable in pg_stat_activity."""
    return f"SELECT pg_sleep(60), '{name}'"


class Server:
    """Pools on one database and a monitor connection that sees what runs."""

    def __init__(self, url: str, monitor: asyncpg.Connection) -> None:
        self.url = url
        self.monitor = monitor
        self.pools: list[FairPool] = []

    async def open(self, size: int, max_seconds: float = 30.0) -> FairPool:
        pool = await open_pool(self.url, size, max_seconds)
        self.pools.append(pool)
        return pool

    async def running(self) -> set[str]:
        """Names of the endless statements the server is executing right now."""
        rows = await self.monitor.fetch(
            "SELECT query FROM pg_stat_activity WHERE state = 'active'"
            " AND query LIKE 'SELECT pg_sleep(60), %' AND pid <> pg_backend_pid()"
        )
        return {row[0].rsplit("'", 2)[1] for row in rows}

    async def until_running(self, names: set[str]) -> None:
        async def exactly() -> bool:
            return await self.running() == names

        await until(exactly, TIMEOUT, f"exactly {sorted(names)} running on the server")


@pytest.fixture
async def server(pg_url: str) -> AsyncIterator[Server]:
    monitor = await asyncpg.connect(pg_url)
    made = Server(pg_url, monitor)
    yield made
    for pool in made.pools:
        await pool.close()
    await monitor.close()


def spawn(coro: Awaitable[object]) -> asyncio.Task[object]:
    return asyncio.ensure_future(coro)


async def test_one_owner_holds_one_connection_and_others_pass(server: Server) -> None:
    pool = await server.open(size=2)
    charged: list[float] = []
    flood = [
        spawn(pool.fetch(endless(f"a{i}"), [], owner="attacker", cost=charged.append))
        for i in range(5)
    ]
    await server.until_running({"a0"})
    assert pool.idle == 1  # five queries, one connection
    for victim in ("b", "c", "d"):
        async with asyncio.timeout(TIMEOUT):
            assert await pool.fetch(QUICK, [victim], owner=victim) == [(victim,)]
    assert await server.running() == {"a0"}
    for task in flood:
        task.cancel()
    await until(lambda: all(t.done() for t in flood) and pool.idle == 2, TIMEOUT)
    # The running statement was stopped on the server; the queued ones never ran.
    await server.until_running(set())
    assert len(charged) == 1
    assert await pool.fetch(QUICK, ["after"], owner="attacker") == [("after",)]


async def test_waiting_owners_are_served_round_robin(server: Server) -> None:
    pool = await server.open(size=1)
    blocker = spawn(pool.fetch(endless("x"), [], owner="x"))
    await server.until_running({"x"})
    served: list[str] = []

    async def quick(name: str) -> None:
        await pool.fetch(QUICK, [name], owner=name[0])
        served.append(name)

    queued = [spawn(quick(name)) for name in ("a1", "a2", "a3", "b1", "b2", "c1")]
    await until(lambda: pool.queued >= 6, TIMEOUT)
    blocker.cancel()
    await asyncio.wait_for(asyncio.gather(*queued), TIMEOUT)
    assert served == ["a1", "b1", "c1", "a2", "b2", "a3"]


async def test_a_statement_is_stopped_after_the_maximum_time(server: Server) -> None:
    pool = await server.open(size=1, max_seconds=0.2)
    costs: list[float] = []
    with pytest.raises(StoreError) as info:
        await asyncio.wait_for(pool.fetch(endless("slow"), [], "o", costs.append), TIMEOUT)
    assert info.value.wire() == "error: query took too long (over 0.2 s); ask for less"
    assert len(costs) == 1 and costs[0] >= 0.2
    assert pool.idle == 1 and await server.running() == set()
    assert await pool.fetch(QUICK, ["next"], "o", costs.append) == [("next",)]
    assert len(costs) == 2


async def test_a_cancelled_running_statement_is_stopped_before_its_connection_is_reused(
    server: Server,
) -> None:
    pool = await server.open(size=1)
    costs: list[float] = []
    running = spawn(pool.fetch(endless("x"), [], "x", costs.append))
    await server.until_running({"x"})
    running.cancel()
    # The next statement gets the connection only once the cancelled one has ended.
    assert await asyncio.wait_for(pool.fetch(QUICK, ["next"], "y"), TIMEOUT) == [("next",)]
    assert await server.running() == set()
    assert len(costs) == 1  # the cancelled statement's time is still charged
    assert pool.idle == 1


async def test_read_errors_are_store_errors(server: Server) -> None:
    pool = await server.open(size=1)
    with pytest.raises(StoreError, match="could not read the database"):
        await pool.fetch("SELECT * FROM no_such_table", [], "o")
    with pytest.raises(StoreError, match="could not read the database"):
        await pool.fetch("SELECT $1::bigint", [2**64], "o")
    with pytest.raises(StoreError, match="could not read the database"):
        await pool.fetch("CREATE TABLE t (x int)", [], "o")  # readers are read-only
    assert pool.idle == 1


async def test_closing_fails_the_waiting_statements(server: Server) -> None:
    pool = await server.open(size=1)
    running = spawn(pool.fetch(endless("x"), [], "x"))
    await server.until_running({"x"})
    waiting = spawn(pool.fetch(QUICK, ["w"], "w"))
    await until(lambda: pool.queued >= 1, TIMEOUT)
    running.cancel()
    closing = spawn(pool.close())
    with pytest.raises(StoreError, match="not open"):
        await asyncio.wait_for(waiting, TIMEOUT)
    await asyncio.wait_for(closing, TIMEOUT)
    with pytest.raises(StoreError, match="not open"):
        await pool.fetch(QUICK, ["late"], "o")
