"""Micro-benchmark of a store alone: ingest rate and REQ-shaped query latency.

    python -m bench.store [--events 20000] [--queries 2000] [--in-flight 500]
                          [--store sqlite|postgres|both] [--pg-url postgresql://...]

``--store postgres`` without ``--pg-url`` starts a throwaway local cluster with the
tests' helper (tests/pgcluster.py: Debian's PostgreSQL binaries, fsync on), so both
stores are measured on the same disk with their durability settings as shipped.

Events are signed before the clock starts (the relay verifies before it saves), then
saved with ``--in-flight`` saves outstanding, as a busy relay would. Queries are the
shapes clients send most: an author's notes, the latest of a kind, a hashtag, and a
handful of ids. Latency is measured one query at a time; queries/s with 16 at once.
CPU seconds are printed too: on a shared machine they vary far less than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from shieldmutual.relay.store.base import EventStore
from shieldmutual.relay.store.postgres import PostgresStore
from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

START = 1_700_000_000
HASHTAGS = [f"mas-society-{i}" for i in range(30)]


def corpus(count: int, rng: random.Random) -> list[Event]:
    """Notes with hashtags, replies and mentions, reactions, profiles and listings."""
    keys = [SecretKey(rng.randbytes(32)) for _ in range(50)]
    events: list[Event] = []
    for i in range(count):
        key = rng.choice(keys)
        when = START + i * 3 + rng.randrange(3)
        roll = rng.random()
        tags: list[list[str]] = [["t", rng.choice(HASHTAGS)]]
        if events and roll < 0.3:
            parent = rng.choice(events)
            tags += [["e", parent.id], ["p", parent.pubkey]]
        if roll < 0.85:
            kind, content = 1, f"note {i} about {rng.choice(['rent', 'bail', 'food', 'legal'])}"
        elif roll < 0.93:
            kind, content = 7, "+"
        elif roll < 0.96:
            kind, content, tags = 0, '{"name":"member"}', []
        else:
            kind, content = 30402, f"aid request {i}"
            tags += [["d", f"request-{rng.randrange(200)}"], ["title", "help needed"]]
        events.append(sign(key, kind, content, tags, created_at=when))
    return events


async def ingest(store: EventStore, events: list[Event], in_flight: int) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of this process) to save ``events``."""
    raws = [e.to_json() for e in events]
    gate = asyncio.Semaphore(in_flight)

    async def one(event: Event, raw: bytes) -> None:
        async with gate:
            await store.save(event, raw)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(e, r) for e, r in zip(events, raws, strict=True)))
    return time.perf_counter() - start, time.process_time() - cpu


def req_filters(events: list[Event], count: int, rng: random.Random) -> list[list[Filter]]:
    authors = sorted({e.pubkey for e in events})
    shapes: list[dict[str, Any]] = []
    for i in range(count):
        shape = i % 4
        if shape == 0:
            shapes.append({"authors": [rng.choice(authors)], "kinds": [1], "limit": 50})
        elif shape == 1:
            shapes.append({"kinds": [1], "limit": 50})
        elif shape == 2:
            shapes.append({"#t": [rng.choice(HASHTAGS)], "limit": 50})
        else:
            shapes.append({"ids": [rng.choice(events).id for _ in range(10)]})
    return [[Filter.from_dict(s)] for s in shapes]


async def read_all(store: EventStore, filters: list[Filter], now: int) -> int:
    """Read every page of a query, as the relay does for a REQ."""
    return sum([len(page) async for page in store.query(filters, now)])


async def measure(store: EventStore, events: list[Event], args: argparse.Namespace) -> None:
    rng = random.Random(8)
    seconds, cpu = await ingest(store, events, args.in_flight)
    print(
        f"ingest: {len(events) / seconds:,.0f} events/s "
        f"({seconds:.2f}s, {cpu:.2f}s CPU, {getattr(store, 'commits', '?')} commits)"
    )
    reqs = req_filters(events, args.queries, rng)
    now = START + 10 * args.events
    latencies = []
    for filters in reqs:
        start = time.perf_counter()
        await read_all(store, filters, now)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    median = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(f"query latency: median {median:.2f} ms, p99 {p99:.2f} ms (one at a time)")
    gate = asyncio.Semaphore(16)

    async def one(filters: list[Filter]) -> None:
        async with gate:
            await read_all(store, filters, now)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(f) for f in reqs))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"queries: {len(reqs) / seconds:,.0f}/s, {len(reqs) / cpu:,.0f} per CPU second"
        " of this process (16 at once, each its own owner)"
    )


def throwaway_cluster() -> Any:
    """tests/pgcluster.py's cluster (loaded by path: tests/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "pgcluster.py"
    spec = importlib.util.spec_from_file_location("pgcluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pgcluster"] = module
    spec.loader.exec_module(module)
    return module.start_cluster()


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    began = time.perf_counter()
    events = corpus(args.events, rng)
    print(f"signed {len(events)} events in {time.perf_counter() - began:.1f}s (not timed)")
    if args.store in ("sqlite", "both"):
        print("-- SQLite")
        with tempfile.TemporaryDirectory() as folder:
            async with SQLiteStore(Path(folder) / "bench.db") as store:
                await measure(store, events, args)
    if args.store in ("postgres", "both"):
        cluster = None if args.pg_url else throwaway_cluster()
        try:
            url = args.pg_url or cluster.new_database()
            print("-- PostgreSQL" + ("" if args.pg_url else " (throwaway local cluster)"))
            async with PostgresStore(url) as store:
                await measure(store, events, args)
        finally:
            if cluster is not None:
                cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--in-flight", type=int, default=500)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--pg-url", help="an existing, empty PostgreSQL database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
