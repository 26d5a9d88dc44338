"""The relay over the PostgreSQL store, end to end: ``[store] url`` selects it, NIP-01,
NIP-09, NIP-45, NIP-50 and gift-wrap access over real websockets, and ``OK true`` still
means committed when the relay process is killed with SIGKILL right after it.

The store's own rules are tested on both backends in test_store*.py; these check that
the relay really runs on PostgreSQL when configured (and only then) and that its answers
on the wire are the same as on SQLite.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.relay.config import from_dict
from shieldmutual.relay.server import Relay
from shieldmutual.relay.store.factory import describe
from shieldmutual.relay.store.postgres import PostgresStore
from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.shared.errors import ConfigError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.nip59 import make_rumor, wrap


@pytest.fixture
async def pg_relay(start_relay: Callable[..., Awaitable[Relay]], pg_url: str) -> Relay:
    return await start_relay(store={"url": pg_url})


async def test_the_url_selects_postgresql_and_sqlite_stays_the_default(
    pg_relay: Relay, start_relay: Callable[..., Awaitable[Relay]], tmp_path: Path
) -> None:
    assert isinstance(pg_relay.store, PostgresStore)
    assert isinstance((await start_relay()).store, SQLiteStore)
    # Only the SQLite relay made a file: the PostgreSQL one never touched [server] db.
    assert [p.name for p in tmp_path.glob("*.db")] == ["relay1.db"]


def test_a_url_that_is_not_postgresql_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        from_dict({"store": {"url": "mysql://mas:hunter2@db/relay"}})
    assert "hunter2" not in str(info.value)
    assert describe("postgresql://mas:hunter2@db:5433/relay?password=x") == (
        "postgresql://mas@db:5433/relay"
    )


WITHOUT_ASYNCPG = """
import sys
sys.modules["asyncpg"] = None  # as if the 'postgres' extra were not installed
from shieldmutual.relay.config import from_dict
from shieldmutual.relay.server import Relay
from shieldmutual.shared.errors import StoreError
Relay(from_dict({"server": {"db": sys.argv[1]}}))  # SQLite needs no asyncpg
try:
    Relay(from_dict({"store": {"url": "postgresql://mas:hunter2@db/relay"}}))
except StoreError as exc:
    print(exc)
"""


def test_asyncpg_is_needed_only_for_postgresql(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_ASYNCPG, str(tmp_path / "relay.db")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == (
        "[store] url names PostgreSQL but its driver is not installed:"
        " pip install 'shieldmutual[postgres]'"
    )


async def test_publish_query_count_and_live_over_postgresql(
    pg_relay: Relay, connect: Any, keys: Any, note: Callable[..., Event]
) -> None:
    writer, reader = await connect(pg_relay.url), await connect(pg_relay.url)
    first = note(keys.alice, "rent help needed", tags=[["t", "rent"]])
    assert await writer.publish(first) == ["OK", first.id, True, ""]
    assert (await writer.publish(first))[3].startswith("duplicate:")
    assert [e["id"] for e in await reader.req("s", {"#t": ["rent"]})] == [first.id]
    assert [e["id"] for e in await reader.req("q", {"search": "RENT"})] == [first.id]
    assert await reader.count("c", {"authors": [keys.alice.public_hex]}) == 1
    # Live: the subscription "s" is still open after its EOSE.
    second = note(keys.alice, "second", tags=[["t", "rent"]])
    assert (await writer.publish(second))[2] is True
    live = await reader.expect(lambda m: m[0] == "EVENT" and m[1] == "s")
    assert live[2]["id"] == second.id


async def test_replaceable_and_deletion_over_postgresql(
    pg_relay: Relay, connect: Any, keys: Any
) -> None:
    client = await connect(pg_relay.url)
    now = int(time.time())
    old = sign(keys.alice, 0, '{"name":"old"}', created_at=now - 10)
    new = sign(keys.alice, 0, '{"name":"new"}', created_at=now - 5)
    for event in (new, old):
        await client.publish(event)
    assert [e["id"] for e in await client.req("p", {"kinds": [0]})] == [new.id]
    doomed = sign(keys.alice, 1, "oops", created_at=now - 3)
    await client.publish(doomed)
    deletion = sign(keys.alice, 5, "", [["e", doomed.id]], created_at=now - 2)
    assert (await client.publish(deletion))[2] is True
    assert await client.req("d", {"ids": [doomed.id]}) == []
    refused = await client.publish(doomed)
    assert refused[2:] == [False, "blocked: this event was deleted by its author"]


async def test_gift_wraps_only_to_their_authenticated_recipient(
    pg_relay: Relay, connect: Any, keys: Any
) -> None:
    rumor = make_rumor(keys.alice.public_hex, 14, "private")
    sealed = wrap(keys.alice, keys.bob.public_hex, rumor)
    sender = await connect(pg_relay.url)
    assert (await sender.publish(sealed))[2] is True
    stranger, bob = await connect(pg_relay.url), await connect(pg_relay.url)
    assert await stranger.req("all", {}) == []  # hidden inside the query, before limits
    assert await stranger.count("n", {}) == 0
    assert (await stranger.refused("REQ", "w", {"kinds": [1059]})).startswith("auth-required:")
    assert (await bob.auth(keys.bob, pg_relay.url))[2] is True
    assert [e["id"] for e in await bob.req("w", {"kinds": [1059]})] == [sealed.id]


async def test_ok_true_survives_kill_9_of_the_relay_process(
    relay_process: Any, pg_url: str, tmp_path: Path, keys: Any, connect: Any
) -> None:
    # Trust authentication ignores the password: it is here to show it is never printed.
    with_password = pg_url.replace("://shield@", "://shield:hunter2@")
    config = tmp_path / "relay.toml"
    config.write_text(f'[store]\nurl = "{with_password}"\n')
    proc = relay_process("--config", str(config))
    client = await connect(proc.url)
    events = [sign(keys.alice, 1, f"acknowledged {i}") for i in range(20)]
    await client.publish_many(events)  # every OK true
    proc.proc.kill()  # SIGKILL: no shutdown, no flush
    await asyncio.to_thread(proc.proc.wait, 10)
    assert "hunter2" not in "".join(proc.log)
    async with PostgresStore(pg_url) as store:
        stored = [raw async for page in store.query([Filter()], 0) for raw in page]
    assert len(stored) == len(events)
    wanted = {e.id for e in events}
    assert {Event.from_json(raw).id for raw in stored} == wanted


async def test_nip77_reconciles_against_the_postgresql_store(
    start_relay: Callable[..., Awaitable[Relay]], pg_url: str, connect: Any, keys: Any
) -> None:
    relay = await start_relay(store={"url": pg_url}, rate_limits={"events_per_second": 0})
    client = await connect(relay.url)
    base = int(time.time()) - 1000
    common = [sign(keys.alice, 1, f"common {i}", created_at=base + i % 7) for i in range(120)]
    relay_only = [sign(keys.bob, 1, f"relay {i}", created_at=base + i) for i in range(9)]
    client_only = [sign(keys.carol, 1, f"client {i}", created_at=base + i) for i in range(11)]
    await client.publish_many(common + relay_only)
    items = [(e.created_at, bytes.fromhex(e.id)) for e in common + client_only]
    have, need = await client.neg_sync("sync", {}, items)
    assert have == {e.id for e in client_only}
    assert need == {e.id for e in relay_only}
