"""Issue 10 #2 at full size: memory one connection makes the relay hold.

tests/attack/test_memory.py runs these attacks on 4,000 notes of 8 KB; this is closer
to the issue's sizes. One ``mas-relay`` subprocess per scenario (default settings, log
level WARNING, ``--config`` to change them) on one store of ``--events`` notes of ~8 KB
seeded through the relay within the default event burst, and a canary (bench.wellbehaved's
well-behaved user) beside each attack:

  stalled-1   one client that stops reading, 20 REQs with limit 5000
  slow-5      five clients reading one chunk every 5 ms, 20 such REQs each
  stalled-2   two clients that stop reading, 20 such REQs each

Each attack lasts ``--seconds``; then the attackers' sockets are read again to see
whether the relay closed them, dropped, and the relay's RSS is watched for
``--settle`` seconds. A scenario stops early when RSS passes ``--rss-cap`` (default
2 GiB; before the fixes these attacks reached several GB).

Printed per scenario: RSS before / peak / after, whether the relay closed the
attackers, the canary's REQ->EOSE p99. The issue's figures: 2.16 GB, 8.24 GB and
6.81 GB, never closed, memory not returned.

Usage:  python -m bench.attack.memory [--events 11000] [--seconds 10]
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import _load
from bench.attack.query_flood import seed
from bench.relay.procfs import log, pct, rss_kb
from bench.relay.relays import Relay, mas_relay_exe
from bench.relay.script import run_script, script_parser
from bench.wellbehaved import Canary, relay_config
from shieldmutual.shared import event as nostr_event
from shieldmutual.shared import keys

MiB = 2**20
SCENARIOS = {"stalled-1": (1, False), "slow-5": (5, True), "stalled-2": (2, False)}
BIG_REQS = [orjson.dumps(["REQ", f"big{i}", {"kinds": [1], "limit": 5000}]) for i in range(20)]


class Attacker(_load.WsClient):
    """Sends 20 big REQs; then reads nothing (stalled) or a chunk every 5 ms (slow)."""

    def __init__(self, slow: bool) -> None:
        super().__init__()
        self.slow = slow
        self.stalled = False

    def start(self) -> None:
        self.send_frames([_load.frame(r) for r in BIG_REQS])
        if not self.slow:
            self.stalled = True
            self.transport.pause_reading()

    def after_data(self) -> None:
        if self.slow and self.is_open:
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(0.005, self._resume)

    def _resume(self) -> None:
        if self.is_open and not self.stalled:
            self.transport.resume_reading()

    async def closed_by_relay(self, timeout: float) -> bool:
        """Read again; True when the relay ends the connection within ``timeout``."""
        self.stalled, self.slow = True, False
        self.transport.resume_reading()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            return False
        return True


def copy_db(src: Path, dest: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dest}{suffix}")
    return dest


async def scenario(
    exe: str, db: Path, config: str, name: str, args: argparse.Namespace
) -> dict[str, Any]:
    count, slow = SCENARIOS[name]
    with tempfile.TemporaryDirectory(prefix="attack-memory-") as tmp:
        relay = Relay("ours", exe, config, db=copy_db(db, Path(tmp) / "relay.db"))
        await relay.start()
        try:
            return await attack(relay, count, slow, args)
        finally:
            relay.stop()


async def attack(relay: Relay, count: int, slow: bool, args: argparse.Namespace) -> dict[str, Any]:
    canary = Canary(relay.port, 1)
    before = rss_kb(relay.pid) * 1024
    attackers = [await _load.connect(relay.port, lambda: Attacker(slow)) for _ in range(count)]
    for a in attackers:
        a.start()
    peak, capped = before, False
    end = time.monotonic() + args.seconds
    while time.monotonic() < end and not capped:
        await asyncio.sleep(0.05)  # RSS sampling clock
        peak = max(peak, rss_kb(relay.pid) * 1024)
        capped = peak > args.rss_cap
    closed = await asyncio.gather(*(a.closed_by_relay(5.0) for a in attackers))
    for a in attackers:
        a.transport.abort()
    after = peak
    end = time.monotonic() + args.settle
    while time.monotonic() < end:
        await asyncio.sleep(0.1)  # RSS sampling clock
        after = rss_kb(relay.pid) * 1024
    window = await canary.stop()
    eose = sorted(window.eose_ms)
    return {
        "rss_before_mib": before / MiB,
        "rss_peak_mib": peak / MiB,
        "rss_after_mib": after / MiB,
        "stopped_at_cap": capped,
        "closed_by_relay": f"{sum(closed)}/{count}",
        "canary_p99_ms": pct(eose, 0.99),
        "canary_reqs": len(eose),
        "canary_errors": sum(window.errors.values()),
    }


async def run(args: argparse.Namespace) -> int:
    exe = mas_relay_exe(args.mas_relay)
    if not exe:
        return 1
    with tempfile.TemporaryDirectory(prefix="attack-memory-seed-") as tmp:
        config = relay_config(args.config, tmp)
        saved = Path(tmp) / "seed.db"
        filler = "mutual aid " * 740
        author = keys.SecretKey(hashlib.sha256(b"attack-memory").digest())
        start = int(time.time()) - args.events
        events = [
            nostr_event.sign(author, 1, f"{i} {filler}", [], start + i).to_json()
            for i in range(args.events)
        ]
        seeder = Relay("ours", exe, config, db=saved)
        await seeder.start()
        try:
            seconds = await seed(seeder.port, events)
        finally:
            seeder.stop()  # SIGTERM: a clean stop, everything committed
        log(f"seeded {args.events:,} notes of ~8 KB in {seconds:.1f} s")
        print(f"{'scenario':<10} {'RSS before':>10} {'peak':>8} {'after':>8} closed  canary p99")
        failed = False
        for name in args.scenarios.split(","):
            r = await scenario(exe, saved, config, name, args)
            cap = " (stopped at the cap)" if r["stopped_at_cap"] else ""
            print(
                f"{name:<10} {r['rss_before_mib']:8.0f} MiB {r['rss_peak_mib']:5.0f} MiB "
                f"{r['rss_after_mib']:5.0f} MiB {r['closed_by_relay']:>6}  "
                f"{r['canary_p99_ms']:7.1f} ms ({r['canary_reqs']} REQs, "
                f"{r['canary_errors']} errors){cap}"
            )
            failed |= r["stopped_at_cap"] or r["canary_p99_ms"] >= 100 or r["canary_errors"] > 0
    return 2 if failed else 0


def main() -> int:
    p = script_parser(__doc__)
    p.add_argument("--events", type=int, default=11_000)
    p.add_argument("--seconds", type=float, default=10.0, help="length of each attack")
    p.add_argument("--settle", type=float, default=5.0, help="seconds to watch RSS after")
    p.add_argument("--rss-cap", type=int, default=2 * 1024 * MiB, help="bytes; stop a scenario")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--config", help="--config FILE for mas-relay (default: bench.wellbehaved)")
    return run_script(p, run)


if __name__ == "__main__":
    sys.exit(main())
