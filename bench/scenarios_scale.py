"""Issue 15's larger scenarios, side by side with strfry: bench.relay's load generator at scale.

    ingest-50k  50,000 signed events over 8 pipelined connections (window 500 each).
    sizes       the query scenario (2,000 REQs of four shapes, 8 connections) on a store of
                each --store-sizes; the store is prefilled through the relay's websocket
                with the same signed events for every relay (4 connections), so each size
                also gives the ingest rate into a store of that size.
    fanout-1k   1,000 subscribers (kind 1 + one #t, over --procs processes) and one
                publisher at 1,000 events/s for --seconds: 1,000,000 deliveries a second.
    idle-10k    10,000 connections, each with one open subscription (its own #t, EOSE
                received), idle; relay RSS growth per connection.

Every scenario runs on a fresh relay subprocess and temporary store, per relay, and the
whole set --rounds times; the table shows the median of the rounds, the load average
before each scenario and ours/strfry. Usage:

    python -m bench.scenarios_scale --strfry /path/to/strfry [--relays ours,strfry]
        [--scenarios ingest-50k,sizes,fanout-1k,idle-10k] [--store-sizes 20000,100000,500000]
        [--rounds 3] [--reqs 2000] [--stores DIR] [--profile DIR] [--json FILE]

Only 127.0.0.1 is ever contacted. This is a benchmark that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench import _load
from bench.relay.dataset import Dataset
from bench.relay.fanout import scenario_fanout
from bench.relay.ingest import scenario_ingest
from bench.relay.procfs import log, rss_kb
from bench.relay.profiler import Profiler, summarize_profile
from bench.relay.query import scenario_query
from bench.relay.relays import Relay, find_exe, mas_relay_exe
from bench.relay.report import brief, fnum, ratio, ratio_pair
from bench.relay.script import print_preamble, script_parser

SCENARIOS = ("ingest-50k", "sizes", "fanout-1k", "idle-10k")


class IdleSubscriber(_load.WsClient):
    """One open subscription of its own (a distinct #t), then silence."""

    def __init__(self, i: int) -> None:
        super().__init__()
        self.req = orjson.dumps(["REQ", "idle", {"kinds": [1], "#t": [f"idle-{i}"]}])
        self.eose: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def handle(self, payload: bytes) -> None:
        if payload.startswith(b'["EOSE"') and not self.eose.done():
            self.eose.set_result(None)

    def lost(self) -> None:
        if not self.eose.done():
            self.eose.set_exception(ConnectionError("closed before EOSE"))


async def scenario_idle_subscribed(relay: Relay, count: int) -> dict[str, Any]:
    """RSS growth per idle connection holding one subscription; measured once every
    subscription has its EOSE, so each connection's state on the relay is complete."""
    before = rss_kb(relay.pid)
    t0 = time.perf_counter()
    factories = [lambda i=i: IdleSubscriber(i) for i in range(count)]
    clients = await _load.connect_many(relay.port, factories, parallel=100)
    subs = [c for c in clients if isinstance(c, IdleSubscriber)]
    for s in subs:
        s.send(s.req)
    if subs:
        await asyncio.wait([s.eose for s in subs], timeout=120)
    open_s = time.perf_counter() - t0
    after = rss_kb(relay.pid)
    ready = [s for s in subs if s.eose.done() and s.eose.exception() is None and s.is_open]
    for s in subs:
        s.close()
    return {
        "requested": count,
        "open": len(ready),
        "open_s": open_s,
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_conn": (after - before) / len(ready) if ready else float("nan"),
    }


async def on_fresh_relay(
    relay: Relay, args: argparse.Namespace, steps: list[tuple[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Run ``steps`` (label, coroutine function of the relay) on one fresh relay process,
    each under the profiler when asked; a failed step is recorded, not raised."""
    out: dict[str, dict[str, Any]] = {}
    await relay.start()
    try:
        for label, step in steps:
            load = os.getloadavg()[0]
            log(f"{relay.name}: {label} ... (1-min load average {load:.2f})")
            prof = None
            if args.profile and relay.name in args.profile_relays:
                path = Path(args.profile) / f"{relay.name}-{label}.txt"
                prof = Profiler(args.py_spy, path, relay.pid)
            try:
                out[label] = await step(relay)
            except Exception as exc:
                out[label] = {"error": repr(exc)}
                log(f"{relay.name}: {label} failed: {exc!r}\n{relay.log_tail()}")
            finally:
                if prof:
                    prof.stop()
            out[label]["loadavg"] = load
            log(f"{relay.name}: {label} {brief(out[label])}")
    finally:
        relay.stop()
    return out


async def on_sized_store(
    relay: Relay, args: argparse.Namespace, size: int, d: Dataset
) -> dict[str, dict[str, Any]]:
    """Prefill a fresh store with ``size`` events, then query it; with ``--stores``, a
    store kept by an earlier run with the same seed is copied in instead of prefilled
    (mas-relay's trees share theirs: the file format is the same)."""
    steps: list[tuple[str, Any]] = [
        (f"query-{size}", lambda rl: scenario_query(rl, d, 8)),
    ]
    kept = None
    if args.stores:
        kind = "ours" if relay.is_mas_relay else relay.name
        kept = Path(args.stores) / f"{kind}-{size}-seed{args.seed}"
    if kept is not None and kept.exists():
        relay.seed = kept
    else:
        relay.keep = kept
        steps.insert(0, (f"prefill-{size}", lambda rl: scenario_ingest(rl, d, 4, args.window)))
    try:
        return await on_fresh_relay(relay, args, steps)
    finally:
        relay.seed = relay.keep = None


async def one_round(
    relays: list[Relay], args: argparse.Namespace, data: dict[str, Dataset]
) -> dict[str, dict[str, dict[str, Any]]]:
    res: dict[str, dict[str, dict[str, Any]]] = {r.name: {} for r in relays}
    for relay in relays:
        r = res[relay.name]
        if "ingest-50k" in args.scenarios:
            d = data["ingest-50k"]
            r |= await on_fresh_relay(
                relay,
                args,
                [("ingest-50k", lambda rl, d=d: scenario_ingest(rl, d, 8, args.window))],
            )
        if "sizes" in args.scenarios:
            for size in args.store_sizes:
                r |= await on_sized_store(relay, args, size, data[f"size-{size}"])
        if "fanout-1k" in args.scenarios:
            d = data["fanout"]
            r |= await on_fresh_relay(
                relay,
                args,
                [
                    (
                        "fanout-1k",
                        lambda rl, d=d: scenario_fanout(
                            rl, d, args.subs, args.procs, args.rate, args.seconds, True
                        ),
                    )
                ],
            )
        if "idle-10k" in args.scenarios:
            r |= await on_fresh_relay(
                relay,
                args,
                [("idle-10k", lambda rl: scenario_idle_subscribed(rl, args.conns))],
            )
    return res


def median_of(rounds: list[dict[str, Any]], key: str) -> Any:
    """The median over the rounds that ended without an error."""
    vals = [
        r[key]
        for r in rounds
        if not r.get("error") and isinstance(r.get(key), int | float) and r[key] == r[key]
    ]
    return statistics.median(vals) if vals else None


ROWS: list[tuple[str, str, int]] = [
    ("ingest-50k", "events_per_s", 0),
    ("ingest-50k", "events_per_cpu_s", 0),
    ("fanout-1k", "median_ms", 1),
    ("fanout-1k", "p99_ms", 1),
    ("fanout-1k", "delivered_pct", 1),
    ("fanout-1k", "relay_us_per_delivery", 2),
    ("idle-10k", "kb_per_conn", 1),
    ("idle-10k", "open", 0),
]
NOTE_KEYS = ("error", "rejections", "problems", "notes")
SIZE_ROWS = [
    ("prefill", "events_per_s", 0),
    ("query", "reqs_per_s", 0),
    ("query", "reqs_per_cpu_s", 0),
    ("query", "median_ms", 1),
    ("query", "p99_ms", 1),
]


def report(
    rounds: list[dict[str, dict[str, dict[str, Any]]]], names: list[str], sizes: list[int]
) -> str:
    """A markdown table: the median over rounds per relay, ours/strfry, and the range of
    load averages seen before the scenario."""
    rows = list(ROWS[:2])
    for size in sizes:
        rows += [(f"{scn}-{size}", key, d) for scn, key, d in SIZE_ROWS]
    rows += ROWS[2:]
    head = ["scenario", "metric", *names]
    pair = ratio_pair(names)
    if pair:
        head.append("ours/" + pair[1])
    head.append("load avg")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for scn, key, digits in rows:
        per = {n: [rd[n].get(scn, {}) for rd in rounds if n in rd] for n in names}
        if not any(per[n] and any(per[n]) for n in names):
            continue
        vals = {n: median_of(per[n], key) for n in names}
        cells = [scn, key, *(fnum(vals[n], digits) for n in names)]
        if pair:
            cells.append(ratio(vals[pair[0]], vals[pair[1]]))
        loads = [r["loadavg"] for n in names for r in per[n] if "loadavg" in r]
        cells.append(f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-")
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        f"{n}/{scn}: {json.dumps({k: r[k] for k in NOTE_KEYS if r.get(k)})[:300]}"
        for rd in rounds
        for n in names
        for scn, r in rd.get(n, {}).items()
        if any(r.get(k) for k in NOTE_KEYS)
    ]
    return "\n".join(lines + [f"  note {x}" for x in notes[:20]])


def with_delivery_share(rounds: list[dict[str, dict[str, dict[str, Any]]]]) -> None:
    for rd in rounds:
        for res in rd.values():
            f = res.get("fanout-1k")
            if f and f.get("expected"):
                f["delivered_pct"] = 100 * f["delivered"] / f["expected"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = script_parser(__doc__)
    p.add_argument("--relays", default="ours,strfry", help="comma list: ours, strfry")
    p.add_argument(
        "--before",
        metavar="DIR",
        help="also run mas-relay as 'ours-before' with PYTHONPATH=DIR (a copy of an older "
        "commit laid out as DIR/shieldmutual/{shared,relay,client}); rounds alternate which "
        "runs first",
    )
    p.add_argument(
        "--strfry",
        default=os.environ.get("STRFRY_BIN"),
        help="strfry executable, built from upstream outside the repo (default $STRFRY_BIN)",
    )
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--store-sizes", default="20000,100000,500000")
    p.add_argument("--rounds", type=int, default=1, help="repeat everything; table = median")
    p.add_argument("--window", type=int, default=500, help="outstanding EVENTs per connection")
    p.add_argument("--subs", type=int, default=1000, help="fan-out-1k subscribers")
    p.add_argument("--procs", type=int, default=2, help="subscriber worker processes")
    p.add_argument("--rate", type=float, default=1000.0, help="fan-out-1k events/s")
    p.add_argument("--seconds", type=float, default=5.0, help="fan-out-1k duration")
    p.add_argument("--conns", type=int, default=10000, help="idle subscribed connections")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reqs", type=int, default=2000, help="REQs of the sizes scenario's query")
    p.add_argument(
        "--stores",
        metavar="DIR",
        help="keep each prefilled store in DIR and reuse it in later runs (same seed): "
        "the query of a 500k store without its minutes of prefill; no prefill row then",
    )
    p.add_argument("--profile", metavar="DIR", help="py-spy record each scenario into DIR")
    p.add_argument("--profile-relays", default="ours")
    p.add_argument("--py-spy", help="py-spy executable (default: next to this python)")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    a = p.parse_args(argv)
    a.relays = [s.strip() for s in a.relays.split(",") if s.strip()]
    a.scenarios = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    a.store_sizes = [int(s) for s in a.store_sizes.split(",") if s.strip()]
    a.profile_relays = [s.strip() for s in a.profile_relays.split(",")]
    unknown = set(a.scenarios) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return a


def make_relays(args: argparse.Namespace) -> list[Relay]:
    relays = []
    for name in args.relays:
        if name == "ours":
            exe = mas_relay_exe(args.mas_relay)
            if exe:
                relays.append(Relay("ours", exe))
                if args.before:
                    relays.append(Relay("ours-before", exe, pythonpath=args.before))
        elif name == "strfry":
            exe = find_exe(args.strfry, "strfry")
            if exe:
                relays.append(Relay("strfry", exe))
            else:
                print("strfry: not found (pass --strfry PATH); skipped")
        else:
            print(f"relay {name!r} not supported here (bench.relay runs nostr-relay); skipped")
    return relays


def datasets(args: argparse.Namespace) -> dict[str, Dataset]:
    """Signed once, untimed, and shared by every relay and round: the same events for all."""
    out = {}
    if "ingest-50k" in args.scenarios:
        out["ingest-50k"] = Dataset(50_000, 0, args.seed)
    if "sizes" in args.scenarios:
        for size in args.store_sizes:
            out[f"size-{size}"] = Dataset(size, args.reqs, args.seed)
    if "fanout-1k" in args.scenarios:
        out["fanout"] = Dataset(1, 0, args.seed)  # only its author signs live events
    return out


async def amain(args: argparse.Namespace) -> int:
    print("Shield Mutual relay benchmark, issue 15 scenarios")
    print_preamble(args.conns)
    relays = make_relays(args)
    if not relays:
        print("no relay to benchmark")
        return 1
    if args.profile:
        args.py_spy = find_exe(args.py_spy, "py-spy")
        if not args.py_spy:
            print("py-spy not found: profiling off")
            args.profile = None
        else:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = datasets(args)
    print(f"data: signed in {time.perf_counter() - t0:.1f} s (untimed)")
    rounds = []
    for k in range(args.rounds):
        log(f"round {k + 1} of {args.rounds}")
        order = relays if k % 2 == 0 else relays[::-1]  # neither always runs first
        rounds.append(await one_round(order, args, data))
    with_delivery_share(rounds)
    names = [r.name for r in relays]
    print()
    print(f"median of {args.rounds} round(s)")
    print(report(rounds, names, args.store_sizes if "sizes" in args.scenarios else []))
    if args.profile:
        for path in sorted(Path(args.profile).glob("*.txt")):
            print(f"\nprofile {path.stem}: {path}")
            print(summarize_profile(path))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rounds": rounds}, indent=2))
    return 0


def main() -> int:
    return int(_load.run(amain(parse_args())))


if __name__ == "__main__":
    sys.exit(main())
