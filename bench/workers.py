"""mas-relay on SQLite vs PostgreSQL with 1 and 2 worker processes (issue 14).

bench.relay's ingest, query and fan-out scenarios (its load generators, data set and
figures), run against three set-ups of mas-relay, each a fresh subprocess and a fresh
database:

    sqlite-1   the default SQLite store, one process
    pg-1       the PostgreSQL store, one process
    pg-2       the PostgreSQL store, --workers 2 (SO_REUSEPORT; live events of the other
               worker arrive through LISTEN/NOTIFY)

PostgreSQL is a throwaway cluster from the distribution's binaries (tests/pgcluster.py,
the tests' own), on this machine, with fsync on. Usage:

    python -m bench.workers [--quick] [--events N] [--reqs M] [--subs S] [--rate R]
                            [--seconds T] [--setups sqlite-1,pg-1,pg-2]

Only 127.0.0.1 is ever contacted. This is a benchmark that prints figures, not a test.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from pathlib import Path
from typing import Any

from bench import _load
from bench.relay.dataset import Dataset
from bench.relay.relays import Relay, find_exe
from bench.relay.report import fnum
from bench.relay.run import bench_relay
from bench.relay.script import command_line, git_describe, script_parser

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """\
# Written by bench/workers.py: bench.relay's settings (rate limits off, log level
# WARNING), plus the store.
[rate_limits]
events_per_second = 0
reqs_per_second = 0

[server]
uvloop = {uvloop}
log_level = "WARNING"
{store}"""


def load_pgcluster() -> Any:
    spec = importlib.util.spec_from_file_location("pgcluster", ROOT / "tests" / "pgcluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pgcluster"] = module
    spec.loader.exec_module(module)
    return module


class Setup(Relay):
    """bench.relay's mas-relay subprocess with a store and a worker count (ready, as every
    mas-relay there, once its ready line says all the workers are up)."""

    def __init__(self, name: str, exe: str, workers: int, pg: Any, uvloop: bool) -> None:
        super().__init__(name, exe, None, uvloop)
        self.is_mas_relay = True
        self.workers = workers
        self.pg = pg  # the cluster, or None for SQLite

    def argv(self, workdir: Path) -> list[str]:
        store = f'\n[store]\nurl = "{self.pg.new_database()}"\n' if self.pg else ""
        config = workdir / "mas-relay.toml"
        config.write_text(CONFIG.format(uvloop=str(self.uvloop).lower(), store=store))
        argv = [self.exe, "--host", _load.HOST, "--port", str(self.port)]
        argv += ["--db", str(workdir / "relay.db"), "--config", str(config)]
        return [*argv, "--workers", str(self.workers)] if self.workers > 1 else argv


def cpu(r: dict[str, Any]) -> str:
    """Cores busy: the relay's processes, and the whole machine (PostgreSQL and the load
    generator included)."""
    return f"{fnum(r.get('relay_cpu'), 2)} / {fnum(r.get('machine_cpu'), 2)}"


def row(name: str, r: dict[str, Any]) -> str:
    ing, qry, fan = r.get("ingest", {}), r.get("query", {}), r.get("fanout", {})
    cells = [
        name,
        fnum(ing.get("events_per_s")),
        cpu(ing),
        fnum(qry.get("reqs_per_s")),
        fnum(qry.get("median_ms"), 1),
        cpu(qry),
        f"{fan.get('delivered', 0):,}/{fan.get('expected', 0):,}",
        fnum(fan.get("median_ms"), 1),
        fnum(fan.get("p99_ms"), 1),
        cpu(fan),
    ]
    errors = [f"{s}: {v['error']}" for s, v in r.items() if isinstance(v, dict) and "error" in v]
    return "| " + " | ".join(cells) + " |" + (f"  <!-- {'; '.join(errors)} -->" if errors else "")


HEADER = (
    "| set-up | ingest ev/s | cores relay / machine | REQ/s | REQ→EOSE median ms "
    "| cores relay / machine | fan-out delivered | live median ms | live p99 ms "
    "| cores relay / machine |\n"
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)


async def amain(args: Any) -> int:
    print("mas-relay: SQLite vs PostgreSQL, 1 vs 2 workers")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(f"command: {command_line()}")
    print(f"source: {git_describe()}; 1-min load average {os.getloadavg()[0]:.2f}")
    exe = find_exe(args.mas_relay, "mas-relay")
    if not exe:
        print("mas-relay not found (pass --mas-relay PATH)")
        return 1
    pgcluster = load_pgcluster()
    cluster = pgcluster.start_cluster() if any(s.startswith("pg") for s in args.setups) else None
    if cluster is not None:
        version = cluster.psql("SHOW server_version").strip()
        print(f"PostgreSQL {version}: throwaway cluster, fsync on, 127.0.0.1 TCP")
    data = Dataset(args.events, args.reqs, args.seed)
    print(
        f"data: {len(data.events):,} events, {len(data.reqs):,} REQs; fan-out {args.subs} "
        f"subscribers, {args.rate:g} events/s for {args.seconds:g} s"
    )
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in args.setups:
            store, _, workers = name.partition("-")
            setup = Setup(name, exe, int(workers), cluster if store == "pg" else None, args.uvloop)
            try:
                results[name] = await bench_relay(setup, data, args)
            finally:
                setup.stop()
    finally:
        if cluster is not None:
            cluster.stop()
    print()
    print(HEADER)
    for name, r in results.items():
        print(row(name, r))
    return 0


def parse_args(argv: list[str] | None = None) -> Any:
    p = script_parser(__doc__)
    p.add_argument("--quick", action="store_true", help="smoke run: small N everywhere")
    p.add_argument("--setups", default="sqlite-1,pg-1,pg-2")
    p.add_argument("--events", type=int, help="ingest N (default 20000; quick 2000)")
    p.add_argument("--reqs", type=int, help="query M (default 2000; quick 200)")
    p.add_argument("--subs", type=int, help="fan-out subscribers (default 200; quick 50)")
    p.add_argument("--rate", type=float, default=200.0, help="fan-out events/s")
    p.add_argument("--seconds", type=float, help="fan-out duration (default 10; quick 2)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-uvloop", dest="uvloop", action="store_false", help="plain asyncio loop")
    a = p.parse_args(argv)
    q = a.quick
    a.events = a.events or (2000 if q else 20000)
    a.reqs = a.reqs or (200 if q else 2000)
    a.subs = a.subs or (50 if q else 200)
    a.seconds = a.seconds or (2.0 if q else 10.0)
    a.setups = [s.strip() for s in a.setups.split(",") if s.strip()]
    # What bench_relay reads: the scenarios and their fixed shapes, no profiling.
    a.scenarios = ["ingest", "query", "fanout"]
    a.ingest_conns, a.window, a.query_conns, a.procs = 4, 500, 8, 2
    a.profile = None
    return a


def main() -> int:
    args = parse_args()
    return _load.run(amain(args), args.uvloop)


if __name__ == "__main__":
    sys.exit(main())
