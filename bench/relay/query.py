"""Scenario 2, query: M REQs of four shapes on the ingested store from several
connections, one REQ in flight each; REQs/s and ms from REQ to EOSE."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from typing import Any

import orjson

from bench import _load
from bench.relay.dataset import SHAPES, Dataset
from bench.relay.procfs import cpu_seconds, machine_cpu, pct
from bench.relay.relays import Relay


class Querier(_load.WsClient):
    """One REQ in flight; on EOSE, CLOSE it and send the next, in one write."""

    def __init__(self, reqs: list[tuple[int, bytes]]) -> None:
        super().__init__()
        self.reqs = reqs
        self.i = -1
        self.sub = b""
        self.sent = 0.0
        self.now = 0.0
        self.events = 0
        self.lat: list[float] = []
        self.per_shape: dict[int, list[int]] = {s: [] for s in range(len(SHAPES))}
        self.problems: Counter[str] = Counter()
        self.finished = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.now = time.perf_counter()
        super().data_received(data)

    def advance(self) -> None:
        out = []
        if self.i >= 0:
            out.append(_load.frame(b'["CLOSE","' + self.sub + b'"]'))
        self.i += 1
        if self.i >= len(self.reqs):
            self.finished = time.perf_counter()
            if out:
                self.send_frames(out)
            if not self.done.done():
                self.done.set_result(None)
            return
        self.sub = b"q%d" % self.i
        flt = self.reqs[self.i][1]
        out.append(_load.frame(b'["REQ","' + self.sub + b'",' + flt + b"]"))
        self.events = 0
        self.sent = time.perf_counter()
        self.send_frames(out)

    def handle(self, payload: bytes) -> None:
        if payload.startswith(b'["EVENT"'):
            self.events += 1
        elif payload.startswith((b'["EOSE"', b'["CLOSED"')):
            msg = orjson.loads(payload)
            if msg[1].encode() != self.sub:
                return
            if msg[0] == "CLOSED":
                self.problems[f"CLOSED {msg[2]}"[:80]] += 1
            self.lat.append(self.now - self.sent)
            self.per_shape[self.reqs[self.i][0]].append(self.events)
            self.advance()
        elif not payload.startswith(b'["AUTH"'):
            self.problems[payload[:80].decode("utf-8", "replace")] += 1

    def lost(self) -> None:
        if not self.done.done():
            self.finished = time.perf_counter()
            self.done.set_result(None)


async def scenario_query(relay: Relay, data: Dataset, conns: int) -> dict[str, Any]:
    encoded = [(shape, orjson.dumps(flt)) for shape, flt in data.reqs]
    shares = [encoded[i::conns] for i in range(conns)]
    clients = [await _load.connect(relay.port, lambda s=s: Querier(s)) for s in shares]
    cpu_r0, cpu_g0, cpu_m0 = cpu_seconds(relay.pid), time.process_time(), machine_cpu()
    t0 = time.perf_counter()
    for c in clients:
        c.advance()
    await asyncio.wait([c.done for c in clients], timeout=max(300.0, len(encoded) / 5))
    t1 = max((c.finished or time.perf_counter()) for c in clients)
    cpu_r, cpu_g = cpu_seconds(relay.pid) - cpu_r0, time.process_time() - cpu_g0
    cpu_m = machine_cpu() - cpu_m0
    wall = t1 - t0
    for c in clients:
        c.close()
    lat = sorted(x for c in clients for x in c.lat)
    per_shape = {
        SHAPES[s]: statistics.fmean(v)
        for s in range(len(SHAPES))
        if (v := [n for c in clients for n in c.per_shape[s]])
    }
    problems: Counter[str] = sum((c.problems for c in clients), Counter())
    # A relay that closed the connections (strfry dies now and then) answered a few REQs
    # fast: an error, so no median takes that rate for a measurement.
    lost = len(encoded) - len(lat)
    errors = {"error": f"{lost} of {len(encoded)} REQs unanswered"} if lost else {}
    return {
        **errors,
        "reqs": len(encoded),
        "completed": len(lat),
        "wall_s": wall,
        "reqs_per_s": len(lat) / wall if wall else 0.0,
        "reqs_per_cpu_s": len(lat) / cpu_r if cpu_r else float("nan"),
        "median_ms": 1000 * statistics.median(lat) if lat else float("nan"),
        "p99_ms": 1000 * pct(lat, 0.99),
        "events_per_shape": per_shape,
        "problems": dict(problems.most_common(5)),
        "relay_cpu": cpu_r / wall,
        "machine_cpu": cpu_m / wall,
        "gen_cpu": cpu_g / wall,
        "gen_cpu_max": cpu_g / wall,
    }
