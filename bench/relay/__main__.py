"""``python -m bench.relay``: run the scenarios against each relay and print the tables.

Each relay runs as its own fresh subprocess (bench.relay.relays) with a fresh
database; ingest, query and fan-out share one process, the connection count gets
another. See the package's docstring for the scenarios and the options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench import _load
from bench.relay import __doc__ as DOC
from bench.relay.dataset import Dataset
from bench.relay.procfs import log
from bench.relay.profiler import summarize_profile
from bench.relay.relays import Relay, find_exe, runs_help
from bench.relay.report import report
from bench.relay.run import bench_relay
from bench.relay.script import print_preamble, script_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = script_parser(DOC)
    p.add_argument("--quick", action="store_true", help="smoke run: small N everywhere")
    p.add_argument(
        "--relays", default="ours,nostr-relay", help="comma list: ours, strfry, nostr-relay"
    )
    p.add_argument(
        "--strfry",
        default=os.environ.get("STRFRY_BIN"),
        help="strfry executable, built from upstream outside the repo (default $STRFRY_BIN)",
    )
    p.add_argument(
        "--mas-relay-config", help="--config FILE for mas-relay (default: rate limits off)"
    )
    p.add_argument("--ours-uvloop", action="store_true", help="run mas-relay with uvloop = true")
    p.add_argument(
        "--before",
        metavar="DIR",
        help="also run mas-relay as 'ours-before' with PYTHONPATH=DIR (a copy of an older "
        "commit laid out as DIR/shieldmutual/{shared,relay,client}): before/after in one run",
    )
    p.add_argument(
        "--nostr-relay",
        default=os.environ.get("NOSTR_RELAY_BIN"),
        help="nostr-relay executable (default $NOSTR_RELAY_BIN, else next to this python, "
        "else on PATH)",
    )
    p.add_argument("--scenarios", default="ingest,query,fanout,connections")
    p.add_argument("--events", type=int, help="ingest N (default 20000; quick 2000)")
    p.add_argument("--ingest-conns", type=int, default=4)
    p.add_argument("--window", type=int, default=500, help="outstanding EVENTs per connection")
    p.add_argument("--reqs", type=int, help="query M (default 2000; quick 200)")
    p.add_argument("--query-conns", type=int, default=8)
    p.add_argument("--subs", type=int, help="fan-out subscribers (default 200; quick 50)")
    p.add_argument("--procs", type=int, default=2, help="subscriber worker processes")
    p.add_argument("--rate", type=float, default=200.0, help="fan-out events/s")
    p.add_argument("--seconds", type=float, help="fan-out duration (default 10; quick 2)")
    p.add_argument("--conns", type=int, help="idle connections (default 2000; quick 200)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-uvloop", dest="uvloop", action="store_false", help="plain asyncio loop")
    p.add_argument("--profile", metavar="DIR", help="py-spy record each scenario into DIR")
    p.add_argument("--profile-relays", default="ours", help="which relays to profile")
    p.add_argument("--py-spy", help="py-spy executable (default: next to this python)")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    a = p.parse_args(argv)
    q = a.quick
    a.events = a.events or (2000 if q else 20000)
    a.reqs = a.reqs or (200 if q else 2000)
    a.subs = a.subs or (50 if q else 200)
    a.seconds = a.seconds or (2.0 if q else 10.0)
    a.conns = a.conns or (200 if q else 2000)
    a.scenarios = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    a.relays = [s.strip() for s in a.relays.split(",") if s.strip()]
    a.profile_relays = [s.strip() for s in a.profile_relays.split(",")]
    return a


def ours(args: argparse.Namespace) -> list[Relay]:
    exe = find_exe(args.mas_relay, "mas-relay")
    if not exe:
        print("ours: mas-relay not found (pass --mas-relay PATH); skipped")
        return []
    broken = runs_help(exe)
    if broken:
        print(f"ours: {exe} --help failed ({broken}); skipped")
        return []
    how = (
        f"--config {args.mas_relay_config}"
        if args.mas_relay_config
        else f"rate limits off, uvloop {'on' if args.ours_uvloop else 'default'}, "
        "log level WARNING, other settings default"
    )
    print(f"ours: {exe} ({how})")
    relays = [Relay("ours", exe, args.mas_relay_config, args.ours_uvloop)]
    if args.before:
        before = Relay("ours-before", exe, args.mas_relay_config, args.ours_uvloop, args.before)
        relays.append(before)
        print(f"ours-before: the same, with PYTHONPATH={args.before}")
    return relays


def strfry(args: argparse.Namespace) -> list[Relay]:
    exe = find_exe(args.strfry, "strfry")
    if not exe:
        print("strfry: not found (pass --strfry PATH or set STRFRY_BIN); skipped")
        return []
    print(f"strfry: {exe} relay (NIP-42 off, nofiles = 0, other settings default)")
    return [Relay("strfry", exe)]


def nostr_relay(args: argparse.Namespace) -> list[Relay]:
    exe = find_exe(args.nostr_relay, "nostr-relay")
    if not exe:
        print(
            "nostr-relay: not found (pip install nostr-relay into its own venv and pass "
            "--nostr-relay PATH or set NOSTR_RELAY_BIN); skipped"
        )
        return []
    print(
        f"nostr-relay: {exe} serve --use-uvicorn (no rate limits, auth off, "
        "NIP-05 off, log level WARNING, default validators)"
    )
    return [Relay("nostr-relay", exe)]


RELAYS = {"ours": ours, "strfry": strfry, "nostr-relay": nostr_relay}


def make_relays(args: argparse.Namespace) -> list[Relay]:
    relays: list[Relay] = []
    for name in args.relays:
        if name in RELAYS:
            relays += RELAYS[name](args)
        else:
            print(f"unknown relay {name!r}; skipped")
    return relays


def setup_profile(args: argparse.Namespace) -> None:
    """``--profile DIR``: py-spy found (else profiling off) and DIR made."""
    if not args.profile:
        return
    args.py_spy = find_exe(args.py_spy, "py-spy")
    if not args.py_spy:
        print("py-spy not found: profiling off")
        args.profile = None
        return
    Path(args.profile).mkdir(parents=True, exist_ok=True)
    print(
        f"profiling {','.join(args.profile_relays)} with {args.py_spy} into {args.profile} "
        "(figures are taken with the profiler attached)"
    )


def print_profiles(
    relays: list[Relay], results: dict[str, dict[str, Any]], args: argparse.Namespace
) -> None:
    for relay in relays:
        if relay.name not in args.profile_relays:
            continue
        for scn in results.get(relay.name, {}):
            path = Path(args.profile) / f"{relay.name}-{scn}.txt"
            print(f"\nprofile {relay.name} / {scn}: {path}")
            print(summarize_profile(path))


async def amain(args: argparse.Namespace) -> int:
    print("Shield Mutual relay benchmark")
    print_preamble(args.conns)
    relays = make_relays(args)
    if not relays:
        print("no relay to benchmark")
        return 1
    setup_profile(args)
    data = Dataset(args.events, args.reqs, args.seed)
    print(
        f"data: {len(data.events):,} events signed in {data.sign_seconds:.1f} s (untimed), "
        f"{len(data.reqs):,} REQs; websockets without compression; "
        f"load generator loop: {_load.loop_name(args.uvloop)}"
    )
    results: dict[str, dict[str, Any]] = {}
    for relay in relays:
        try:
            results[relay.name] = await bench_relay(relay, data, args)
        except Exception as exc:
            log(f"{relay.name}: failed: {exc!r}")
            results[relay.name] = {}
        finally:
            relay.stop()
    print()
    print(report(results, args))
    if args.profile:
        print_profiles(relays, results, args)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


def main() -> int:
    args = parse_args()
    return int(_load.run(amain(args), args.uvloop))


if __name__ == "__main__":
    sys.exit(main())
