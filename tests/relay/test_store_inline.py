"""Statements tried on the event loop's own connection first (issue 15), on real
connections to a real file: the usual cheap statement never hops to a reader's thread,
one that runs past the budget is run again by a reader (deadline and interrupts as
before), and under contention the owners' turns are exactly those of the fair pool.

The loop's connection records the statements it began as ``inline:<name>``, the readers
as ``<name>`` (``Pools`` of test_store_readers.py), so each test can tell which ran where.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.relay.store.sqlite_readers import Inline, ReaderPool
from shieldmutual.shared.errors import StoreError
from shieldmutual.shared.filter import Filter
from tests.relay.test_store import ALICE, NOW, note
from tests.relay.test_store_readers import (
    ENDLESS,
    QUICK,
    TIMEOUT,
    Pools,
    queue_behind_a_blocker,
    readers_db,
    spawn,
)

# Counts to a million: far past the inline budget, yet it ends on its own.
LONG = (
    "WITH RECURSIVE c(x) AS (SELECT started(?) UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)"
    " SELECT count(*) FROM c"
)


class InlinePools(Pools):
    """Pools whose statements are tried on a loop-side connection first."""

    async def open_inline(
        self, readers: int, max_seconds: float = 30.0, **inline_options: float
    ) -> tuple[ReaderPool, Inline]:
        pool = await self.open(readers, max_seconds)
        db = sqlite3.connect(self.path.as_uri() + "?mode=ro", uri=True)
        db.create_function("started", 1, self._mark_inline)
        pool.inline = inline = Inline(db, **inline_options)
        return pool, inline

    def _mark_inline(self, name: str) -> int:  # runs on the loop's thread
        self._record("inline:" + name)
        return 0


@pytest.fixture
async def pools(tmp_path: Path) -> AsyncIterator[InlinePools]:
    made = InlinePools(readers_db(tmp_path))
    yield made
    await made.close()


async def test_a_quick_statement_is_answered_on_the_loop(pools: InlinePools) -> None:
    pool, inline = await pools.open_inline(readers=1)
    costs: list[float] = []
    assert await pool.fetch(QUICK, ["q"], "o", costs.append) == [(0,)]
    assert pools.started == ["inline:q"]  # no reader ran it
    assert (inline.answered, inline.handed_on) == (1, 0)
    assert len(costs) == 1  # its time is charged like a reader's
    assert pool.idle == 1


async def test_a_statement_past_the_budget_is_run_again_by_a_reader(pools: InlinePools) -> None:
    pool, inline = await pools.open_inline(readers=1)
    costs: list[float] = []
    rows = await asyncio.wait_for(pool.fetch(LONG, ["long"], "o", costs.append), TIMEOUT)
    assert rows == [(1000001,)]  # whole, from the reader
    assert pools.started == ["inline:long", "long"]
    assert (inline.answered, inline.handed_on) == (0, 1)
    assert len(costs) == 2  # the attempt on the loop is charged too


async def test_stopped_statements_may_waste_only_their_share_of_the_loop(
    pools: InlinePools,
) -> None:
    """Slow statements (an attacker's) are tried on the loop only while the time they
    wasted there is within its share; past it every statement goes to a reader."""
    pool, inline = await pools.open_inline(readers=1, share=0.0, burst=0.0001)
    for name in ("long1", "long2"):
        assert await asyncio.wait_for(pool.fetch(LONG, [name], "o"), TIMEOUT) == [(1000001,)]
    assert await pool.fetch(QUICK, ["q"], "o") == [(0,)]
    assert pools.started == ["inline:long1", "long1", "long2", "q"]
    assert (inline.answered, inline.handed_on) == (0, 1)


async def test_an_endless_statement_is_still_interrupted_at_the_deadline(
    pools: InlinePools,
) -> None:
    pool, inline = await pools.open_inline(readers=1, max_seconds=0.2)
    with pytest.raises(StoreError) as info:
        await asyncio.wait_for(pool.fetch(ENDLESS, ["slow"], "o"), TIMEOUT)
    assert info.value.wire() == "error: query took too long (over 0.2 s); ask for less"
    assert pools.started == ["inline:slow", "slow"]
    assert inline.handed_on == 1
    assert pool.idle == 1


async def test_an_owner_holding_a_reader_waits_its_turn_instead(pools: InlinePools) -> None:
    """The inline connection is no second reader for an owner that already holds one:
    its next statement queues; another owner, with a reader free, is answered at once."""
    pool, _ = await pools.open_inline(readers=2)
    flood = spawn(pool.fetch(ENDLESS, ["a0"], owner="attacker"))
    await pools.until(lambda: pools.started == ["inline:a0", "a0"])
    second = spawn(pool.fetch(QUICK, ["a1"], owner="attacker"))
    await pools.until(lambda: pool.queued == 1)
    async with asyncio.timeout(TIMEOUT):
        assert await pool.fetch(QUICK, ["b"], owner="victim") == [(0,)]
    assert pools.started == ["inline:a0", "a0", "inline:b"]
    flood.cancel()
    assert await asyncio.wait_for(second, TIMEOUT) == [(0,)]
    assert pools.started == ["inline:a0", "a0", "inline:b", "a1"]  # a1 on its reader


async def test_waiting_owners_are_still_served_round_robin(pools: InlinePools) -> None:
    """With every reader busy nothing runs on the loop: the line keeps its order."""
    pool, inline = await pools.open_inline(readers=1)
    await queue_behind_a_blocker(pools, pool)
    assert pools.started == ["inline:x", "x", "a1", "b1", "c1", "a2", "b2", "a3"]
    assert inline.answered == 0


async def test_read_errors_on_the_loop_are_store_errors(pools: InlinePools) -> None:
    pool, _ = await pools.open_inline(readers=1)
    with pytest.raises(StoreError, match="could not read the database"):
        await pool.fetch("SELECT * FROM no_such_table", [], "o")  # reported by the reader
    with pytest.raises(StoreError, match="could not read the database"):
        await pool.fetch("SELECT ?", [2**64], "o")  # OverflowError, not sqlite3.Error
    assert pool.idle == 1


async def test_closing_closes_the_loop_connection(pools: InlinePools) -> None:
    pool, _ = await pools.open_inline(readers=1)
    await pool.close()
    assert pool.inline is None
    with pytest.raises(StoreError, match="not open"):
        await pool.fetch(QUICK, ["late"], "o")


async def test_a_store_pages_a_req_from_the_last_commit(tmp_path: Path) -> None:
    """The loop's connection reads the last committed snapshot (WAL) like the readers:
    a REQ read a page at a time while another event commits gets every page whole, and
    a query after the commit finds the new event."""
    async with SQLiteStore(tmp_path / "relay.db", readers=1) as store:
        saved = [note(ALICE, content=f"n{i}", at=NOW - i) for i in range(300)]
        for event in saved:
            assert (await store.save(event, event.to_json())).accepted
        mine = [Filter(authors=frozenset({ALICE.public_hex}))]
        pages = store.query(mine, NOW + 1, page_size=64)
        first = await anext(pages)
        late = note(ALICE, content="late", at=NOW + 1)
        assert (await store.save(late, late.to_json())).accepted
        rest = [raw async for page in pages for raw in page]
        assert [raw[7:71].decode() for raw in first + rest] == [e.id for e in saved]
        newest = await anext(store.query(mine, NOW + 2, page_size=1))
        assert newest == [late.to_json()]
