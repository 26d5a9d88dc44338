"""Issue 10 #6: one connection's expensive queries must not starve everyone else.

Within its own REQ/COUNT rate limit (a burst of 100, then 10 a second) one client
could queue enough full scans to keep every store reader busy for many seconds, and
its queries went on running after it left. The canary's REQ->EOSE p99 must stay under
the bound during the attack, and its first rounds after the attacker leaves must be
fast again (its queued and running queries are dropped with it).

Scaled down to a 10,000-note store; bench/attack/query_flood.py runs the same attack
on 100,000 notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

BURST = 100  # [rate_limits] reqs_burst by default
RATE = 10.0  # [rate_limits] reqs_per_second by default
AFTER_BURST = 30  # paced requests after the burst


def expensive(n: int) -> list[Any]:
    """A COUNT (or, every third, a REQ) of ten filters that each scan the whole store."""
    now = int(time.time())
    filters = [{"since": n % 7 + i, "until": now + i} for i in range(10)]
    if n % 3 == 2:
        return ["REQ", f"scan{n}", *({**f, "limit": 5000} for f in filters)]
    return ["COUNT", f"scan{n}", *filters]


async def read_all(client: Any) -> None:
    """The attacker reads its answers (it is flooding queries, not memory)."""
    with contextlib.suppress(Exception):
        while True:
            await client.ws.recv()


async def test_full_scans_within_the_rate_limit_do_not_starve_the_canary(
    arena, connect, small_events_db, db_copy
):
    relay = await arena(db=db_copy(small_events_db))
    await relay.canary_rounds(3)
    attacker = await connect(relay.url)
    reading = asyncio.create_task(read_all(attacker))
    for n in range(BURST):
        await attacker.send(*expensive(n))
    for n in range(BURST, BURST + AFTER_BURST):
        await asyncio.sleep(1 / RATE)  # the attacker's pace: within its rate limit
        await attacker.send(*expensive(n))
    await attacker.close()  # while its last requests are still queued or running
    await reading
    recovered = relay.canary.mark()
    await relay.canary_rounds(3, timeout=5)
    after = relay.canary.eose_ms[recovered:]
    assert max(after) < relay.canary_bound_ms, f"canary REQ->EOSE after the attacker left: {after}"
    await relay.finish()
