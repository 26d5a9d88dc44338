"""What the pool benchmarks share (bench/pool.py, pool_feed.py, pool_fanout.py): fresh
mas-relay processes on 127.0.0.1, the pool's options, signed events and the direct floor
for storing them (a socket per relay, every EVENT pipelined)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import threading
import time
from collections.abc import Awaitable
from hashlib import sha256
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from shieldmutual.client.pool import PoolOptions
from shieldmutual.shared import event as nostr_event
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey

READY = re.compile(rb"mas-relay ready on (ws://\S+)")
OPTIONS = PoolOptions(connect_timeout=10, ok_timeout=120, eose_timeout=120)


# mas-relay's per-connection rate limits (20 events/s by default) are for strangers on the
# internet; a throughput benchmark turns them off, as bench/relay.py does.
BENCH_RELAY_CONFIG = """\
[rate_limits]
events_per_second = 0
reqs_per_second = 0

[limits]
# A feed back-fill of the whole store in one REQ (the default caps a filter at 500).
default_limit = 1000000
max_limit = 1000000
"""


class RelayProc:
    def __init__(self, db: Path, exe: str, config: Path | None, code: str | None) -> None:
        argv = [exe, "--host", "127.0.0.1", "--port", "0", "--db", str(db)]
        if config is not None:
            argv += ["--config", str(config)]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=None if code is None else {**os.environ, "PYTHONPATH": code},
        )
        self.url = ""

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("mas-relay exited before it was ready")
            match = READY.search(line)
            if match:
                self.url = match.group(1).decode()
                # Keep draining its log so a full pipe never stalls the relay.
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise RuntimeError("mas-relay was not ready in time")

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for _ in self.proc.stderr:
            pass

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


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
