"""Scenario 1, ingest: N pre-signed events over a few pipelined connections (a window of
outstanding EVENTs each); events/s until the last OK, and CPU on each side."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import orjson

from bench import _load
from bench.relay.dataset import Dataset
from bench.relay.procfs import cpu_seconds, machine_cpu
from bench.relay.relays import Relay


class Pipeliner(_load.WsClient):
    def __init__(self, frames: list[bytes], window: int) -> None:
        super().__init__()
        self.frames = frames
        self.window = window
        self.next = -1  # -1 until start(): after_data also runs after the handshake
        self.acked = 0
        self.accepted = 0
        self.rejections: Counter[str] = Counter()
        self.finished = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def start(self) -> None:
        self.next = min(self.window, len(self.frames))
        self.send_frames(self.frames[: self.next])

    def handle(self, payload: bytes) -> None:
        if payload.startswith(b'["OK"'):
            msg = orjson.loads(payload)
            self.acked += 1
            if msg[2] is True:
                self.accepted += 1
            else:
                self.rejections[str(msg[3])[:60]] += 1
        elif not payload.startswith(b'["AUTH"'):  # a NIP-42 challenge is not a problem
            self.rejections[payload[:60].decode("utf-8", "replace")] += 1

    def after_data(self) -> None:
        if self.next < 0:
            return
        room = self.window - (self.next - self.acked)
        if room > 0 and self.next < len(self.frames):
            end = min(len(self.frames), self.next + room)
            self.send_frames(self.frames[self.next : end])
            self.next = end
        if self.acked >= len(self.frames) and not self.done.done():
            self.finished = time.perf_counter()
            self.done.set_result(None)

    def lost(self) -> None:
        if not self.done.done():
            self.finished = time.perf_counter()
            self.done.set_result(None)


async def scenario_ingest(relay: Relay, data: Dataset, conns: int, window: int) -> dict[str, Any]:
    shares = [data.frames[i::conns] for i in range(conns)]
    clients = [await _load.connect(relay.port, lambda s=s: Pipeliner(s, window)) for s in shares]
    timeout = max(300.0, len(data.frames) / 50)
    cpu_r0, cpu_g0, cpu_m0 = cpu_seconds(relay.pid), time.process_time(), machine_cpu()
    t0 = time.perf_counter()
    for c in clients:
        c.start()
    await asyncio.wait([c.done for c in clients], timeout=timeout)
    t1 = max((c.finished or time.perf_counter()) for c in clients)
    cpu_r, cpu_g = cpu_seconds(relay.pid) - cpu_r0, time.process_time() - cpu_g0
    cpu_m = machine_cpu() - cpu_m0
    wall = t1 - t0
    for c in clients:
        c.close()
    acked = sum(c.acked for c in clients)
    rejections: Counter[str] = sum((c.rejections for c in clients), Counter())
    return {
        "events": len(data.frames),
        "acked": acked,
        "accepted": sum(c.accepted for c in clients),
        "rejections": dict(rejections.most_common(5)),
        "wall_s": wall,
        "events_per_s": acked / wall if wall else 0.0,
        "events_per_cpu_s": acked / cpu_r if cpu_r else float("nan"),
        "relay_cpu": cpu_r / wall,
        "machine_cpu": cpu_m / wall,
        "gen_cpu": cpu_g / wall,
        "gen_cpu_max": cpu_g / wall,
    }
