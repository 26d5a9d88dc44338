"""Issue 10 #2: memory a connection can make the relay hold.

The relay read every REQ's stored results into memory at once (5,000 events of 8 KB
are 40 MB per subscription) before pacing them to the reader, so a client with 20
subscriptions that never reads, or reads slowly, made it hold gigabytes. The fix
bounds what one connection holds (``[server] max_connection_memory``, closing it with
1008 beyond that) and what all of them hold (``[server] max_memory``). Here the relay's
RSS must stay under a 256 MiB ``max_memory``, the attacker be closed with 1008, the
memory come back once it is gone and the canary be served throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

MiB = 2**20
CONNECTION_MEMORY = 16 * MiB
CONFIG = f"""\
[server]
max_memory = {256 * MiB}
max_connection_memory = {CONNECTION_MEMORY}
# The relay waits this long for a stalled client's close handshake: long enough for the
# test to start reading and see the close code.
close_timeout = 30.0
"""
SUBSCRIPTIONS = 20
BIG_REQ = {"kinds": [1], "limit": 5000}
# Anonymous RSS over the pre-attack baseline still allowed once the attackers are gone
# (allocator slack, SQLite's page caches), and RSS on top of max_connection_memory per
# attacker during the attack (also the database file's pages SQLite maps, up to ~35 MB).
RETURNED = 48 * MiB
# What a closed connection may still receive before its close frame: what the relay
# held for it plus both sockets' kernel buffers.
BEFORE_CLOSE = 3 * CONNECTION_MEMORY


async def subscribe_all(client: Any) -> None:
    for i in range(SUBSCRIPTIONS):
        await client.send("REQ", f"big{i}", BIG_REQ)


@pytest.mark.parametrize("attackers", [1, 2], ids=["one-stalled", "two-stalled"])
async def test_stalled_readers_are_closed_1008_and_their_memory_returned(
    arena, stalled, close_code_of, big_events_db, db_copy, attackers
):
    relay = await arena(CONFIG, db=db_copy(big_events_db))
    await relay.canary_rounds(3)
    baseline, anon = relay.rss, relay.anon
    hostiles = [await stalled(relay.url) for _ in range(attackers)]
    for hostile in hostiles:
        await subscribe_all(hostile)
    await relay.canary_rounds(20)  # the attack lasts while the canary does 20 rounds
    held = relay.rss_max - baseline
    assert held <= attackers * CONNECTION_MEMORY + RETURNED, f"held {held / MiB:.0f} MiB"
    codes = await asyncio.gather(*(close_code_of(h, BEFORE_CLOSE) for h in hostiles))
    assert codes == [1008] * attackers
    await relay.until(lambda: relay.anon <= anon + RETURNED, 15, "memory back near baseline")
    await relay.finish()


async def slow_reader(client: Any, received: list[int]) -> int | None:
    """Read one message every 5 ms until the connection ends; the close code the relay
    sent, None if it sent none (the test dropped the connection)."""
    with contextlib.suppress(Exception):
        while True:
            await client.ws.recv()
            received.append(1)
            await asyncio.sleep(0.005)  # the pace of a slow reader, not a wait
    rcvd = client.ws.protocol.close_rcvd
    return None if rcvd is None else rcvd.code


async def test_slow_readers_are_paced_or_closed_within_the_budget(
    arena, connect, big_events_db, db_copy
):
    relay = await arena(CONFIG, db=db_copy(big_events_db))
    await relay.canary_rounds(3)
    anon = relay.anon
    received: list[int] = []
    readers = [await connect(relay.url, max_queue=1) for _ in range(4)]
    for reader in readers:
        await subscribe_all(reader)
    tasks = [asyncio.create_task(slow_reader(r, received)) for r in readers]
    await relay.canary_rounds(12)
    assert len(received) > 100, "the slow readers were served nothing"
    for reader in readers:  # they go away without a closing handshake
        reader.ws.transport.abort()
    codes = await asyncio.gather(*tasks)
    # Closed by the relay only for being too slow: never an internal error.
    assert set(codes) <= {None, 1008}, codes
    await relay.until(lambda: relay.anon <= anon + RETURNED, 15, "memory back near baseline")
    await relay.finish()
