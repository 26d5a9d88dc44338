"""The one-part page statement (issue 15): a part that walks one index range in time
order reads ``raw`` as it goes, any other is cut to its limit before ``raw`` is read.
Both forms must return the same rows, in the same order, from the first page and after
a cursor, on a real store whose events share timestamps (ties broken by id)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from shieldmutual.relay.access import for_viewer
from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.relay.store.sqlite_query import Part, compile_filter, page_sql
from shieldmutual.shared.filter import Filter
from tests.relay.test_store import ALICE, BOB, NOW, note

EVENTS = [
    note(
        (ALICE, BOB)[i % 2],
        kind=(1, 7)[i % 3 == 0],
        content=f"word{i % 4} text {i}",
        tags=[["t", f"topic{i % 3}"], ["t", "all"]],
        at=NOW - i // 4,  # four events a second: ties at every page edge
    )
    for i in range(240)
]

# (filter, whether its part reads raw as it goes)
SHAPES = [
    (Filter(kinds=frozenset({1})), True),
    (Filter(authors=frozenset({ALICE.public_hex})), True),
    (Filter(authors=frozenset({ALICE.public_hex}), kinds=frozenset({7})), True),
    (Filter(tags={"t": frozenset({"topic1"})}), True),
    (Filter(tags={"t": frozenset({"topic1"})}, kinds=frozenset({1, 7})), True),
    (Filter(), True),
    (Filter(ids=frozenset(e.id for e in EVENTS[:5])), True),
    (Filter(ids=frozenset(e.id for e in EVENTS[:90])), False),  # more than the limit
    (Filter(kinds=frozenset({1, 7})), False),
    (Filter(authors=frozenset({ALICE.public_hex, BOB.public_hex})), False),
    (Filter(tags={"t": frozenset({"topic1", "topic2"})}), False),
    (Filter(search="word1"), False),
    (Filter(search="word1", tags={"t": frozenset({"all"})}), True),
]


def by_rid(part: Part) -> tuple[str, list[object]]:
    """The statement every part used before: the part cut first, then ``raw`` read."""
    return page_sql(Part(part.sql, part.params, part.tag))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    path = Path(tmp_path_factory.mktemp("page_sql")) / "relay.db"

    async def fill() -> None:
        async with SQLiteStore(path) as store:
            outcomes = await store.save_many([(e, e.to_json()) for e in EVENTS])
            assert all(not isinstance(o, BaseException) and o.accepted for o in outcomes)

    asyncio.run(fill())
    return sqlite3.connect(path)


@pytest.mark.parametrize(("flt", "in_order"), SHAPES)
def test_both_forms_give_the_same_page(db: sqlite3.Connection, flt: Filter, in_order: bool) -> None:
    plan = for_viewer(flt, frozenset())
    assert plan is not None
    (first,) = compile_filter(plan, NOW + 1, 40)
    assert (first.raw_sql is not None) is in_order
    rows = db.execute(*page_sql(first)).fetchall()
    assert rows == db.execute(*by_rid(first)).fetchall()
    assert rows  # every shape matches something
    cursor = (rows[-1][0], rows[-1][1])  # the next page, from a tie at the edge
    (after,) = compile_filter(plan, NOW + 1, 40, cursor)
    more = db.execute(*page_sql(after)).fetchall()
    assert more == db.execute(*by_rid(after)).fetchall()
    assert not {r[1] for r in rows} & {r[1] for r in more}
