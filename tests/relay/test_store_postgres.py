"""What only the PostgreSQL store has to get right: several stores (relay processes,
``--workers``) writing one database at once, and a database it did not create.

Every storage rule is tested on both backends in test_store.py; here two stores on one
database race each other with conflicting writes: versions of one address, and a
deletion against the event it deletes. The per-author advisory lock must make every
race end as if the saves had come one after another.
"""

from __future__ import annotations

import asyncio
import socket

import asyncpg
import pytest

from shieldmutual.relay.store.base import EventStore, SaveResult
from shieldmutual.relay.store.postgres import PostgresStore
from shieldmutual.shared.errors import StoreError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

ALICE = SecretKey(bytes([5]) * 32)
NOW = 2_000_000_000
SUPERSEDED = "duplicate: a newer version of this event is already stored"


async def stored(store: EventStore, *filters: Filter) -> list[Event]:
    return [Event.from_json(raw) async for page in store.query(filters, NOW) for raw in page]


async def test_two_stores_racing_on_one_address_keep_only_the_newest(pg_url: str) -> None:
    versions = [sign(ALICE, 30402, f"v{i}", [["d", "x"]], created_at=1000 + i) for i in range(60)]
    async with PostgresStore(pg_url) as one, PostgresStore(pg_url) as two:
        saves = [(one if i % 2 else two).save(e, e.to_json()) for i, e in enumerate(versions)]
        results = await asyncio.gather(*saves)
        assert all(r.message in ("", SUPERSEDED) for r in results)
        for store in (one, two):
            assert [e.id for e in await stored(store, Filter())] == [versions[-1].id]


async def test_a_deletion_racing_its_event_in_another_store_always_wins(pg_url: str) -> None:
    """Without the lock, each store's transaction checked before the other committed:
    the note found no tombstone, the deletion found no note, and both were kept."""
    async with PostgresStore(pg_url) as one, PostgresStore(pg_url) as two:
        for round in range(8):
            notes = [sign(ALICE, 1, f"{round} {i}", created_at=1000 + i) for i in range(40)]
            deletions = [sign(ALICE, 5, "", [["e", n.id]], created_at=2000) for n in notes]
            await asyncio.gather(
                *(one.save(n, n.to_json()) for n in notes),
                *(two.save(d, d.to_json()) for d in deletions),
            )
            assert await stored(one, Filter(kinds=frozenset({1}))) == [], round


async def test_a_store_opened_twice_on_one_new_database_creates_it_once(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    for store in stores:
        await store.close()


async def test_a_newer_schema_is_refused(pg_url: str) -> None:
    async with PostgresStore(pg_url):
        pass
    conn = await asyncpg.connect(pg_url)
    await conn.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    await conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        await PostgresStore(pg_url).open()


async def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        url = f"postgresql://shield:hunter2@127.0.0.1:{probe.getsockname()[1]}/tests"
        with pytest.raises(StoreError) as info:
            await PostgresStore(url).open()
    assert "cannot open the PostgreSQL store" in str(info.value)
    assert "hunter2" not in str(info.value)


async def test_a_lost_writer_connection_is_replaced_without_failing_a_save(pg_url: str) -> None:
    """PostgreSQL restarted, a failover, an operator's pg_terminate_backend: the next save
    must still be committed and acknowledged, not fail because of the old connection."""
    monitor = await asyncpg.connect(pg_url)
    try:
        async with PostgresStore(pg_url) as store:
            first = sign(ALICE, 1, "before", created_at=1000)
            assert (await store.save(first, first.to_json())).accepted
            ended = await monitor.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'mas-relay writer' AND pid <> pg_backend_pid()"
            )
            assert ended == 1
            second = sign(ALICE, 1, "after", created_at=1001)
            assert await store.save(second, second.to_json()) == SaveResult(True, "")
            assert [e.id for e in await stored(store, Filter())] == [second.id, first.id]
    finally:
        await monitor.close()
