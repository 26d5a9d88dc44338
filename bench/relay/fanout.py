"""Scenario 3, live fan-out: S subscribers (split over worker processes) hold a kind 1 +
#t subscription; one publisher sends R events/s for T s with its send time in the
content; delivery latency per (event, subscriber)."""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import statistics
import time
from array import array
from collections import Counter
from typing import Any

import orjson

from bench import _load
from bench.relay.dataset import Dataset
from bench.relay.procfs import cpu_seconds, machine_cpu, pct
from bench.relay.relays import Relay
from shieldmutual.shared import event as nostr_event


class Publisher(_load.WsClient):
    def __init__(self) -> None:
        super().__init__()
        self.acked = 0
        self.accepted = 0
        self.rejections: Counter[str] = Counter()
        self.sent: dict[str, float] = {}
        self.ok_lat: list[float] = []
        self.now = 0.0

    def data_received(self, data: bytes) -> None:
        self.now = time.time()
        super().data_received(data)

    def handle(self, payload: bytes) -> None:
        if payload.startswith(b'["OK"'):
            msg = orjson.loads(payload)
            self.acked += 1
            self.accepted += msg[2] is True
            if msg[2] is not True:
                self.rejections[str(msg[3])[:60]] += 1
            sent = self.sent.pop(msg[1], None)
            if sent is not None:
                self.ok_lat.append(self.now - sent)


async def _recv(conn: Any, timeout: float) -> Any:
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, conn.poll, timeout):
        raise TimeoutError("worker did not answer")
    return conn.recv()


class Workers:
    """The subscriber processes, each holding ``count`` subscriptions, talked to over pipes."""

    def __init__(self, port: int, subs: int, procs: int, tag: str, uvloop: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.all: list[tuple[Any, Any]] = []
        first = 0
        for k in range(procs):
            count = subs // procs + (k < subs % procs)
            parent, child = ctx.Pipe()
            p = ctx.Process(
                target=_load.fanout_worker,
                args=(port, first, count, tag, child, uvloop),
                daemon=True,
            )
            p.start()
            self.all.append((p, parent))
            first += count
        self.notes: list[str] = []

    async def ready(self) -> int:
        """How many subscriptions are open, once every worker has opened its own."""
        ready = 0
        for _, conn in self.all:
            msg = await _recv(conn, 120)
            if msg[0] != "ready":
                raise RuntimeError(f"fan-out worker failed: {msg}")
            ready += msg[1]
            if msg[2]:
                self.notes.append(f"{msg[2]} subscribers failed to connect")
            self.notes += msg[3]
        return ready

    def send(self, message: tuple[Any, ...]) -> None:
        for _, conn in self.all:
            conn.send(message)

    async def results(self) -> tuple[array[float], array[int], list[int], list[float]]:
        """Every delivery's latency and event number, per-subscriber counts, worker CPU."""
        lat_arr, seq_arr = array("d"), array("l")
        per_sub: list[int] = []
        cpu_workers: list[float] = []
        for _, conn in self.all:
            msg = await _recv(conn, 600)
            if msg[0] != "done":
                raise RuntimeError(f"fan-out worker failed: {msg}")
            lat_arr.frombytes(msg[1])
            seq_arr.frombytes(msg[2])
            per_sub += msg[3]
            cpu_workers.append(msg[4])
            self.notes += msg[5]
        return lat_arr, seq_arr, per_sub, cpu_workers

    def join(self) -> None:
        for p, _ in self.all:
            p.join(10)
            if p.is_alive():
                p.terminate()


async def publish(pub: Publisher, data: Dataset, tag: str, rate: float, total: int) -> float:
    """``total`` events at ``rate``/s, each with its send time; the achieved rate."""
    author = data.authors[0]
    t0 = time.perf_counter()
    for i in range(total):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.time()
        ev = nostr_event.sign(author, 1, f"bench-fanout {i} {now:.6f}", [["t", tag]])
        pub.sent[ev.id] = now
        pub.send(b'["EVENT",' + ev.to_json() + b"]")
    t_pub = time.perf_counter() - t0
    # Under 1,000 x 1,000 both relays answer OKs a minute late: wait for them, so a
    # late OK is counted as published rather than the relay's deliveries undercounted.
    deadline = time.monotonic() + 180
    while pub.acked < total and time.monotonic() < deadline and pub.is_open:
        await asyncio.sleep(0.02)
    return total / t_pub if t_pub else 0.0


def first_and_last(seq_arr: array[int], lat_arr: array[float]) -> tuple[list[float], list[float]]:
    """Per event: the first and the last subscriber served. The first is the ingest path
    (verify, commit, match); last - first is the relay's loop over the sockets."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for seq, x in zip(seq_arr, lat_arr, strict=True):
        if x < first.get(seq, math.inf):
            first[seq] = x
        if x > last.get(seq, -math.inf):
            last[seq] = x
    return list(first.values()), list(last.values())


def median_ms(values: list[float]) -> float:
    return 1000 * statistics.median(values) if values else float("nan")


async def scenario_fanout(
    relay: Relay,
    data: Dataset,
    subs: int,
    procs: int,
    rate: float,
    seconds: float,
    uvloop: bool,
) -> dict[str, Any]:
    tag = f"bench-fanout-{os.getpid()}-{relay.port}"
    workers = Workers(relay.port, subs, procs, tag, uvloop)
    total = int(rate * seconds)
    try:
        ready = await workers.ready()
        pub = await _load.connect(relay.port, Publisher)
        workers.send(("go",))
        cpu_r0, cpu_g0, cpu_m0 = cpu_seconds(relay.pid), time.process_time(), machine_cpu()
        t0 = time.perf_counter()
        publish_rate = await publish(pub, data, tag, rate, total)
        workers.send(("expect", pub.accepted, 5.0))
        lat_arr, seq_arr, per_sub, cpu_workers = await workers.results()
        wall = time.perf_counter() - t0
        cpu_r, cpu_g = cpu_seconds(relay.pid) - cpu_r0, time.process_time() - cpu_g0
        cpu_m = machine_cpu() - cpu_m0
        pub.close()
    finally:
        workers.join()
    lat = sorted(lat_arr)
    first, last = first_and_last(seq_arr, lat_arr)
    ok_lat = sorted(pub.ok_lat)
    return {
        "subs": subs,
        "subs_ready": ready,
        "published": total,
        "accepted": pub.accepted,
        "rejections": dict(pub.rejections.most_common(3)),
        "publish_rate": publish_rate,
        "expected": pub.accepted * subs,
        "delivered": len(lat),
        "min_per_sub": min(per_sub) if per_sub else 0,
        "median_ms": median_ms(lat),
        "p99_ms": 1000 * pct(lat, 0.99),
        "max_ms": 1000 * lat[-1] if lat else float("nan"),
        "ok_median_ms": median_ms(ok_lat),
        "ok_p99_ms": 1000 * pct(ok_lat, 0.99),
        "first_median_ms": median_ms(first),
        "last_median_ms": median_ms(last),
        "last_p99_ms": 1000 * pct(sorted(last), 0.99),
        "wall_s": wall,
        "relay_cpu": cpu_r / wall,
        "relay_us_per_delivery": 1e6 * cpu_r / len(lat) if lat else float("nan"),
        "machine_cpu": cpu_m / wall,
        "gen_cpu": (cpu_g + sum(cpu_workers)) / wall,
        "gen_cpu_max": max([cpu_g, *cpu_workers]) / wall,
        "gen_procs": 1 + len(cpu_workers),
        "notes": workers.notes[:5],
    }
