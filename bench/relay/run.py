"""Every scenario asked for, on one relay: ingest, query and fan-out on one fresh
process (the query reads what ingest stored), the connection count on another; each
under the profiler when asked, a failure recorded rather than raised."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench import _load
from bench.relay.connections import scenario_connections
from bench.relay.dataset import Dataset
from bench.relay.fanout import scenario_fanout
from bench.relay.ingest import scenario_ingest
from bench.relay.procfs import log
from bench.relay.profiler import Profiler
from bench.relay.query import scenario_query
from bench.relay.relays import Relay
from bench.relay.report import brief


async def bench_relay(relay: Relay, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {}
    wanted = set(args.scenarios)
    prof = None

    def profile(scn: str) -> Profiler | None:
        if not args.profile or relay.name not in args.profile_relays:
            return None
        return Profiler(args.py_spy, Path(args.profile) / f"{relay.name}-{scn}.txt", relay.pid)

    async def run(scn: str, coro: Any) -> None:
        nonlocal prof
        prof = profile(scn)
        load = os.getloadavg()[0]
        log(f"{relay.name}: {scn} ... (1-min load average {load:.2f})")
        try:
            res[scn] = await coro
            res[scn]["loadavg"] = load
        except Exception as exc:
            res[scn] = {"error": repr(exc)}
            log(f"{relay.name}: {scn} failed: {exc!r}\n{relay.log_tail()}")
        finally:
            if prof:
                prof.stop()
        log(f"{relay.name}: {scn} {brief(res[scn])}")

    if wanted & {"ingest", "query", "fanout"}:
        await relay.start()
        log(f"{relay.name}: ready on ws://{_load.HOST}:{relay.port} (pid {relay.pid})")
        try:
            if wanted & {"ingest", "query"}:
                await run("ingest", scenario_ingest(relay, data, args.ingest_conns, args.window))
            if "query" in wanted:
                await run("query", scenario_query(relay, data, args.query_conns))
            if "fanout" in wanted:
                fan = scenario_fanout(
                    relay, data, args.subs, args.procs, args.rate, args.seconds, args.uvloop
                )
                await run("fanout", fan)
        finally:
            relay.stop()
    if "connections" in wanted:
        await relay.start()
        try:
            await run("connections", scenario_connections(relay, args.conns))
        finally:
            relay.stop()
    return res
