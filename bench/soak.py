"""Soak: does mas-relay stay fast and level off in memory under hours of ordinary use?

Issue 10 saw REQ->EOSE p50/p99 go from 1.3/5.6 ms to 3.3/48.8 ms over a 10-minute,
50-connection soak while RSS rose steadily (42 -> 98 MB, ~3.7 MB/min). This script
repeats that load for longer and says whether it still happens:

* one fresh ``mas-relay`` subprocess on a temporary database (bench.relay's ``Relay``),
  default settings except log level WARNING, unless ``--config`` is given;
* ``--conns`` well-behaved connections (default 50). Each one, every ``--interval``
  seconds (jittered), publishes a signed kind-1 note and runs one small REQ of four
  shapes (topic, author, recent notes, ids), closing it at EOSE; every fifth connection
  also holds a live subscription on its topic. All well within the default rate limits;
* every ``--sample-seconds`` (default 60, fewer for short runs so there are at least 8
  samples): relay RSS (VmRSS, RssAnon, RssFile), relay CPU, REQ->EOSE and
  publish->OK p50/p99 of that window, live deliveries, errors; a table at the end and
  a verdict: anonymous RSS (RssAnon: the heap, not the database pages SQLite maps)
  levels off when the least-squares slope over the last half of the run is at most a
  quarter of the first half's, or under ``--flat-mb-per-min``; latency holds when the
  median p99 of the last half is within 2x (+ 5 ms) of the first half's.

Usage:  python -m bench.soak [--minutes 60] [--conns 50] [--json-out FILE]
        python -m bench.soak --minutes 2     # smoke run
Only 127.0.0.1 is ever contacted; the run ends after ``--minutes`` plus shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import _load
from bench.relay.procfs import cpu_seconds, log, pct
from bench.relay.relays import Relay, mas_relay_exe
from bench.relay.script import command_line, git_describe, script_parser
from bench.wellbehaved import REPLY_TIMEOUT, Window, relay_config, user


@dataclass
class Sample:
    minute: float
    rss_mb: float  # VmRSS
    anon_mb: float  # RssAnon: the heap, what a leak grows
    file_mb: float  # RssFile: mostly the database pages SQLite maps (page cache)
    # The database file: SQLite's page caches (relay/store/sqlite_schema.py's cache_size)
    # fill with it, so RssAnon rises with it until they are full.
    db_mb: float
    relay_cpu: float  # share of one core since the previous sample
    reqs: int
    eose_p50_ms: float
    eose_p99_ms: float
    publishes: int
    ok_p50_ms: float
    ok_p99_ms: float
    live: int
    live_p99_ms: float
    errors: dict[str, int]


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of ``pid`` in kB."""
    out = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name in out:
                    out[name] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def summarize(
    window: Window, minute: float, mem: dict[str, int], cpu: float, seconds: float
) -> Sample:
    eose, ok, live = sorted(window.eose_ms), sorted(window.ok_ms), sorted(window.live_ms)
    p = pct
    return Sample(
        minute=round(minute, 2),
        rss_mb=round(mem["VmRSS"] / 1024, 1),
        anon_mb=round(mem["RssAnon"] / 1024, 1),
        file_mb=round(mem["RssFile"] / 1024, 1),
        db_mb=round(mem["db"] / 1024, 1),
        relay_cpu=round(cpu / seconds, 3) if seconds else 0.0,
        reqs=len(eose),
        eose_p50_ms=round(p(eose, 0.5), 2),
        eose_p99_ms=round(p(eose, 0.99), 2),
        publishes=len(ok),
        ok_p50_ms=round(p(ok, 0.5), 2),
        ok_p99_ms=round(p(ok, 0.99), 2),
        live=len(live),
        live_p99_ms=round(p(live, 0.99), 2),
        errors=dict(window.errors),
    )


def slope(samples: list[Sample], field: str) -> float:
    """Least-squares MB per minute of ``field``; 0 with fewer than two samples."""
    if len(samples) < 2:
        return 0.0
    values = [getattr(s, field) for s in samples]
    return statistics.linear_regression([s.minute for s in samples], values).slope


def verdict(samples: list[Sample], flat: float) -> tuple[bool, list[str]]:
    """(passed, lines): anonymous RSS levels off and REQ->EOSE p99 holds. The verdict
    reads RssAnon: the database file SQLite maps grows with every event stored, and its
    pages (RssFile) are page cache the kernel can take back, not memory the relay holds."""
    if len(samples) < 4:
        return False, ["too few samples for a verdict (run longer or sample more often)"]
    half = len(samples) // 2
    first, last = slope(samples[:half], "anon_mb"), slope(samples[half:], "anon_mb")
    total = slope(samples[:half], "rss_mb"), slope(samples[half:], "rss_mb")
    levels = last <= flat or last <= first / 4
    # medians of each half's p99s, so one slow warm-up minute is not the baseline
    p99_first = statistics.median(s.eose_p99_ms for s in samples[:half])
    p99_last = statistics.median(s.eose_p99_ms for s in samples[half:])
    holds = p99_last <= 2 * p99_first + 5
    lines = [
        f"VmRSS slope: first half {total[0]:+.2f} MB/min, last half {total[1]:+.2f} MB/min",
        f"RssAnon slope: first half {first:+.2f} MB/min, last half {last:+.2f} MB/min "
        f"(levels off if <= {flat:g} MB/min or <= a quarter of the first half): "
        + ("LEVELS OFF" if levels else "STILL GROWING"),
        f"store {samples[0].db_mb:.0f} -> {samples[-1].db_mb:.0f} MB (SQLite's page caches "
        "fill with it: RssAnon follows until they are full)",
        f"REQ->EOSE p99, median of each half: first {p99_first:.1f} ms, last {p99_last:.1f} ms "
        "(holds if last <= 2 x first + 5 ms): " + ("HOLDS" if holds else "DEGRADES"),
    ]
    return levels and holds, lines


def table(samples: list[Sample]) -> str:
    head = (
        f"{'min':>6} {'RSS MB':>7} {'anon':>6} {'file':>6} {'db':>6} {'CPU':>5} {'REQs':>6} "
        f"{'EOSE p50':>9} {'p99':>7} "
        f"{'pubs':>6} {'OK p50':>7} {'p99':>7} {'live':>6} {'live p99':>9} errors"
    )
    rows = [head, "-" * len(head)]
    for s in samples:
        errors = sum(s.errors.values())
        rows.append(
            f"{s.minute:6.1f} {s.rss_mb:7.1f} {s.anon_mb:6.1f} {s.file_mb:6.1f} {s.db_mb:6.1f} "
            f"{s.relay_cpu:5.2f} {s.reqs:6d} "
            f"{s.eose_p50_ms:9.2f} {s.eose_p99_ms:7.2f} {s.publishes:6d} {s.ok_p50_ms:7.2f} "
            f"{s.ok_p99_ms:7.2f} {s.live:6d} {s.live_p99_ms:9.2f} {errors}"
        )
    return "\n".join(rows)


async def soak(args: argparse.Namespace) -> int:
    exe = mas_relay_exe(args.mas_relay)
    if not exe:
        return 1
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        relay = Relay("ours", exe, relay_config(args.config, tmp))
        await relay.start()
        try:
            samples = await drive(relay, args)
        finally:
            relay.stop()
    print()
    print(table(samples))
    errors: dict[str, int] = {}
    for s in samples:
        for what, n in s.errors.items():
            errors[what] = errors.get(what, 0) + n
    if errors:
        print("errors: " + json.dumps(errors)[:1000])
    passed, lines = verdict(samples, args.flat_mb_per_min)
    print("\n".join(lines))
    print("verdict: " + ("PASS" if passed else "FAIL"))
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"args": vars(args), "samples": [asdict(s) for s in samples]}, indent=2)
        )
    return 0 if passed else 2


async def drive(relay: Relay, args: argparse.Namespace) -> list[Sample]:
    stats = [Window()]
    stop = asyncio.Event()
    users = [asyncio.create_task(user(relay.port, n, args, stats, stop)) for n in range(args.conns)]
    samples: list[Sample] = []
    db = relay.db
    start = last = time.monotonic()
    cpu_last = cpu_seconds(relay.pid)
    end = start + 60 * args.minutes
    log(f"soak: {args.conns} connections for {args.minutes:g} min on port {relay.port}")
    try:
        while (now := time.monotonic()) < end:
            await asyncio.sleep(min(args.sample_seconds, end - now))  # the sampling clock
            if not relay.running:
                raise RuntimeError(f"mas-relay exited:\n{relay.log_tail()}")
            window, stats[0] = stats[0], Window()
            now, cpu = time.monotonic(), cpu_seconds(relay.pid)
            mem = memory_kb(relay.pid)
            mem["db"] = db.stat().st_size // 1024  # the file alone: the WAL is recycled
            sample = summarize(window, (now - start) / 60, mem, cpu - cpu_last, now - last)
            last, cpu_last = now, cpu
            samples.append(sample)
            log(
                f"{sample.minute:6.1f} min  RSS {sample.rss_mb:.1f} MB "
                f"(anon {sample.anon_mb:.1f}, store {sample.db_mb:.1f})  "
                f"EOSE p50/p99 {sample.eose_p50_ms:.1f}/{sample.eose_p99_ms:.1f} ms  "
                f"{sample.reqs} REQs  errors {sum(sample.errors.values())}"
            )
    finally:
        stop.set()
        await asyncio.wait(users, timeout=REPLY_TIMEOUT + 5)
        for task in users:
            task.cancel()
    return samples


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--minutes", type=float, default=60.0, help="length of the soak")
    p.add_argument("--conns", type=int, default=50, help="well-behaved connections")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between a user's rounds")
    p.add_argument("--sample-seconds", type=float, help="default 60, or minutes*60/8 if shorter")
    p.add_argument("--flat-mb-per-min", type=float, default=0.2, help="RSS slope that is flat")
    p.add_argument("--config", help="--config FILE for mas-relay (default: see SOAK_CONFIG)")
    p.add_argument("--json-out", metavar="FILE", help="write the samples as JSON")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-uvloop", dest="uvloop", action="store_false", help="plain asyncio loop")
    a = p.parse_args(argv)
    if a.sample_seconds is None:
        a.sample_seconds = min(60.0, a.minutes * 60 / 8)
    return a


def main() -> int:
    args = parse_args()
    print(f"command: {command_line()}")
    print(f"source: {git_describe()}")
    return _load.run(soak(args), args.uvloop)


if __name__ == "__main__":
    sys.exit(main())
