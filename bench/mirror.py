"""Benchmark of relay mirroring (relay/mirror.py): reconciling with NIP-77 versus
downloading everything.

Not a test. Run from the repository root with the project installed:

    python -m bench.mirror [--events 20000] [--missing 0.001,0.01,0.1]

Relay A holds ``--events`` aid events (NIP-22 comments under requests, about 750 bytes
of JSON each, spread over 30 days); relay B holds the same minus a random share
(``--missing``). B starts with ``[mirror] peers = [A]`` and the time is taken from its
start until its first reconciliation is over and every missing event is saved (its
log line "reconciled with"), which is the time to converge. Bytes: the NEG frames both
ways plus the EVENT frames of the missing events, against a client downloading every
event of the same filters from A (REQ pages of 5,000 until nothing new). Both relays
run in this process on one event loop, so the figures include both sides' work; the
rate limits are the defaults (the mirror is one well-behaved client of its peer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import tempfile
import time
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from shieldmutual.relay.config import Config
from shieldmutual.relay.server import Relay
from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.shared.aid.traffic import aid_filters
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

DAY = 86_400
PAGE = 5000


def make_events(count: int) -> list[Event]:
    """Pledges and updates (kind 1111) under 50 requests by 20 authors."""
    keys = [SecretKey(bytes([i + 1]) * 32) for i in range(20)]
    owner = keys[0].public_key.hex()
    now = int(time.time())
    rng = random.Random(7)
    events = []
    for i in range(count):
        address = f"30402:{owner}:request-{i % 50}"
        tags = [["A", address], ["K", "30402"], ["P", owner], ["t", "mas-north"]]
        text = f"Pledge {i}: I can bring groceries on Saturday and help with the rent. " * 3
        at = now - rng.randrange(30 * DAY)
        events.append(sign(keys[i % len(keys)], 1111, text, tags, created_at=at))
    return events


async def fill(path: Path, events: list[Event]) -> None:
    store = SQLiteStore(path)
    await store.open()
    try:
        for start in range(0, len(events), 2000):
            chunk = events[start : start + 2000]
            await asyncio.gather(*(store.save(e, e.to_json()) for e in chunk))
    finally:
        await store.close()


def config(db: Path, **mirror: object) -> Config:
    base = Config().replace("server", host="127.0.0.1", port=0, db=str(db), expire_interval=0.0)
    return base.replace("web", enabled=False).replace("mirror", **mirror) if mirror else base


async def download_all(url: str) -> tuple[int, int, float]:
    """Events, bytes and seconds of a client fetching every aid event from ``url``."""
    began = time.perf_counter()
    seen: set[str] = set()
    size = 0
    async with connect(url, max_size=2**24, compression=None) as ws:
        for number, flt in enumerate(aid_filters()):
            until: int | None = None
            while True:
                page = {**flt.to_dict(), "limit": PAGE, **({"until": until} if until else {})}
                sub = f"all-{number}"
                await ws.send(orjson.dumps(["REQ", sub, page]).decode())
                fresh = 0
                oldest = None
                while True:
                    frame = await ws.recv()
                    message = orjson.loads(frame)
                    if message[0] == "EVENT" and message[1] == sub:
                        size += len(frame)
                        event = message[2]
                        fresh += event["id"] not in seen
                        seen.add(event["id"])
                        oldest = min(oldest or event["created_at"], event["created_at"])
                    elif message[0] in ("EOSE", "CLOSED") and message[1] == sub:
                        break
                await ws.send(orjson.dumps(["CLOSE", sub]).decode())
                if not fresh or oldest is None:
                    break
                until = oldest
    return len(seen), size, time.perf_counter() - began


async def run_one(folder: Path, events: list[Event], a_db: Path, share: float) -> dict:
    rng = random.Random(11)
    kept = [e for e in events if rng.random() >= share]
    b_db = folder / f"b-{share}.db"
    await fill(b_db, kept)
    async with Relay(config(a_db)) as a:
        began = time.perf_counter()
        b = Relay(config(b_db, peers=frozenset({a.url}), interval=3600.0))
        await b.start()
        try:
            assert b.mirror is not None
            peer = b.mirror.peers[a.url]
            while peer.stats.reconciliations < 1:
                await asyncio.sleep(0.01)
            converge = time.perf_counter() - began
            stats = peer.stats
        finally:
            await b.stop()
        count, all_bytes, all_seconds = await download_all(a.url)
    missing = len(events) - len(kept)
    assert stats.need == missing and stats.stored == missing, (stats, missing)
    mirror_bytes = stats.neg_bytes + stats.fetched_bytes
    return {
        "missing": missing,
        "converge_s": converge,
        "neg_bytes": stats.neg_bytes,
        "fetched_bytes": stats.fetched_bytes,
        "mirror_bytes": mirror_bytes,
        "download_events": count,
        "download_bytes": all_bytes,
        "download_s": all_seconds,
        "ratio": mirror_bytes / all_bytes,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--missing", default="0.001,0.01,0.1")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    folder = Path(tempfile.mkdtemp(prefix="bench-mirror-"))
    try:
        events = make_events(args.events)
        a_db = folder / "a.db"
        await fill(a_db, events)
        print(f"{args.events} events on A ({sum(len(e.to_json()) for e in events)} bytes of JSON)")
        header = "missing  converge   NEG bytes  fetched bytes  mirror/all    all: bytes, s"
        print(header)
        for share in (float(s) for s in args.missing.split(",")):
            row = await run_one(folder, events, a_db, share)
            print(
                f"{row['missing']:7d}  {row['converge_s']:7.2f}s  {row['neg_bytes']:10d}"
                f"  {row['fetched_bytes']:13d}  {row['ratio']:9.2%}"
                f"    {row['download_bytes']:d}, {row['download_s']:.2f}s"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
