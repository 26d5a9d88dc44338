"""Scenario 4, idle connections: C websockets opened and left idle; the relay's RSS
growth per connection."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from bench import _load
from bench.relay.procfs import rss_kb
from bench.relay.relays import Relay


async def scenario_connections(relay: Relay, count: int) -> dict[str, Any]:
    warm = await _load.connect_many(relay.port, [_load.WsClient] * 10)
    for w in warm:
        if isinstance(w, _load.WsClient):
            w.close()
    await asyncio.sleep(0.5)  # let the relay drop the warm-up connections
    before = rss_kb(relay.pid)
    t0 = time.perf_counter()
    clients = await _load.connect_many(relay.port, [_load.WsClient] * count, parallel=100)
    open_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # settle: every handler has run its first await
    after = rss_kb(relay.pid)
    alive = [c for c in clients if isinstance(c, _load.WsClient) and c.is_open]
    errors = Counter(type(c).__name__ for c in clients if not isinstance(c, _load.WsClient))
    for c in alive:
        c.close()
    return {
        "requested": count,
        "open": len(alive),
        "errors": dict(errors),
        "open_s": open_s,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_conn": (after - before) / len(alive) if alive else float("nan"),
    }
