"""Issue 10 #3: one slow reader must not flood the relay's log.

Live events for a subscription whose stored results are still being sent wait in that
subscription; past 10,000 of them the relay called the connection "too slow", and
logged it, for every further event on every such subscription, before checking that
the connection was already being closed: 128,620 lines in 5 s from one client.

Here one client that stopped reading holds 20 subscriptions whose back-fill has
stalled, while 60 others publish 12,000 short notes (each within its own default rate
limit) that all of them match.
"""

from __future__ import annotations

import asyncio
import hashlib

from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey

MAX_LOG_LINES = 5  # lines the relay may write about the slow reader over the attack
PUBLISHERS = 60
BURST = 200  # [rate_limits] events_burst by default
SUBSCRIPTIONS = 20


async def test_a_stalled_reader_writes_a_few_log_lines_at_most(
    arena, connect, stalled, big_events_db, db_copy
):
    relay = await arena(db=db_copy(big_events_db))
    await relay.canary_rounds(3)
    before = len(relay.proc.log)
    reader = await stalled(relay.url)
    for i in range(SUBSCRIPTIONS):  # ~2.4 MB of stored notes each: back-fills stall
        await reader.send("REQ", f"notes{i}", {"kinds": [1], "limit": 300})
    keys = [SecretKey(hashlib.sha256(b"log-flood-%d" % i).digest()) for i in range(PUBLISHERS)]
    batches = [[sign(k, 1, f"flood {n}", [["t", "flood"]]) for n in range(BURST)] for k in keys]
    publishers = [await connect(relay.url) for _ in keys]

    async def publish(client, batch) -> None:
        for event in batch:
            await client.send("EVENT", event)
        await client.expect(lambda m: m[0] == "OK" and m[1] == batch[-1].id, timeout=60)

    await asyncio.gather(*(publish(c, b) for c, b in zip(publishers, batches, strict=True)))
    await relay.canary_rounds(5)
    lines = relay.proc.log[before:]
    assert len(lines) <= MAX_LOG_LINES, f"{len(lines)} lines, first: {''.join(lines[:5])}"
    await relay.finish()
