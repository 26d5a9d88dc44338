"""What the pool benchmarks share (bench.pool, pool_feed, pool_fanout): the relays'
config, the pool's options, signed events and the direct floor for storing them (a
socket per relay, every EVENT pipelined). The relays run through bench.harness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from hashlib import sha256

import orjson
from websockets.asyncio.client import connect

from shieldmutual.client.pool import PoolOptions
from shieldmutual.shared import event as nostr_event
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey

OPTIONS = PoolOptions(connect_timeout=10, ok_timeout=120, eose_timeout=120)


# mas-relay's per-connection rate limits (20 events/s by default) are for strangers on the
# internet; a throughput benchmark turns them off, as bench.relay does.
BENCH_RELAY_CONFIG = """\
[rate_limits]
events_per_second = 0
reqs_per_second = 0

[limits]
# A feed back-fill of the whole store in one REQ (the default caps a filter at 500).
default_limit = 1000000
max_limit = 1000000
"""


def make_events(n: int, tag: str, seed: str) -> list[Event]:
    keys = [SecretKey(sha256(f"pool-bench-{seed}-{i}".encode()).digest()) for i in range(20)]
    now = int(time.time())
    return [
        nostr_event.sign(
            keys[i % len(keys)],
            1,
            f"mutual aid bench event {i} of {n}: water, food, a ride to the clinic",
            [["t", tag], ["t", "mutualaid"]],
            now - i,
        )
        for i in range(n)
    ]


async def direct_publish(urls: list[str], events: list[Event]) -> None:
    """The floor: one socket per relay, every EVENT pipelined, wait for every OK."""

    async def one(url: str) -> None:
        # No keepalive pings: a relay busy storing a large batch may not answer one in time.
        async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
            waiting = {e.id for e in events}
            for event in events:
                await ws.send(b'["EVENT",' + event.to_json() + b"]", text=True)
            async for raw in ws:
                msg = orjson.loads(raw)
                if msg[0] == "OK":
                    if not msg[2]:
                        raise RuntimeError(f"{url} rejected an event: {msg[3]}")
                    waiting.discard(msg[1])
                    if not waiting:
                        return

    await asyncio.gather(*(one(u) for u in urls))


async def gather(*aws: Awaitable[None]) -> None:
    await asyncio.gather(*aws)
