"""Benchmark of the client relay pool (client/pool.py) against real mas-relay processes.

Not a test. Run from the repository root with the project installed:

    python -m bench.pool [--events 1000] [--relays 3] [--repeat 3]

Starts ``--relays`` fresh ``mas-relay`` processes on 127.0.0.1 (``--port 0``, a temporary
SQLite file each) and measures, best of ``--repeat`` runs, in the same process and run:

publish   N pre-signed events, all submitted at once, until every relay has answered OK
          * direct: one ``websockets`` connection per relay, EVENT frames pipelined, OKs
            matched by id (the floor: no pool, no per-relay result objects)
          * pool:   ``Pool.publish`` for every event concurrently (per-relay results)
          to 1 relay and to all relays; events/s and pool time / direct time.

fan-in    the same N events stored on every relay, one REQ (kind + tag, limit N):
          * direct: one connection, REQ until EOSE, parse each event (and: + verify)
          * pool:   ``Pool.fetch`` over 1 relay and over all relays (each event arrives
            from every relay; the pool verifies the first copy and drops the rest)
          events/s of distinct events delivered, and pool time / direct (+verify) time.

feed      (``--feed N``, issue 15; bench.pool_feed) N aid requests read as ``mas feed``
          reads them, over 3 relays, each run in a fresh child process.

publish-one (``--fanout 10 [--rtt 0,10,50]``, issue 15; bench.pool_fanout) one event at a
          time to 1 and to all ``--fanout`` relays, directly and through a delay proxy
          (bench.rtt_proxy): the median wall time, the ratio (target <= 1.2x) and the
          client's CPU per publish.

The relays run through bench.harness; the pool's options and the events come from
bench.pool_harness.

Each row also gives this process's CPU time per event (the client side only; the relays
are other processes): on a shared 2-core machine the relays and the client compete for
the same cores, so client CPU is the steadier measure of the pool's own cost. Each
publish run uses freshly signed events, so no relay ever answers "duplicate". mas-relay
runs with its per-connection rate limits off (they are for strangers, not benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from bench.harness import RelayProcess
from bench.pool_fanout import fanout_bench
from bench.pool_feed import feed_bench
from bench.pool_harness import BENCH_RELAY_CONFIG, OPTIONS, direct_publish, make_events
from shieldmutual.client.pool import Pool
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

# ---- publish -----------------------------------------------------------------------------


async def pool_publish(urls: list[str], events: list[Event]) -> None:
    async with Pool(urls, options=OPTIONS) as pool:
        reports = await asyncio.gather(*(pool.publish(e) for e in events))
    bad = [r for rep in reports for r in rep.results if not r.ok]
    if bad:
        raise RuntimeError(f"{len(bad)} publish results were not ok, e.g. {bad[0]}")


# ---- fan-in ------------------------------------------------------------------------------


async def direct_fetch(url: str, flt: dict, n: int, verify: bool) -> None:
    async with connect(url, compression=None, max_size=None) as ws:
        await ws.send(orjson.dumps(["REQ", "bench", flt]).decode())
        got = 0
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[0] == "EVENT":
                event = Event.from_dict(msg[2])
                if verify:
                    event.verify()
                got += 1
            elif msg[0] == "EOSE":
                break
    if got != n:
        raise RuntimeError(f"direct REQ got {got} events, expected {n}")


async def pool_fetch(urls: list[str], flt: dict, n: int) -> None:
    async with Pool(urls, options=OPTIONS) as pool:
        events = await pool.fetch([Filter.from_dict(flt)])
    if len(events) != n:
        raise RuntimeError(f"pool fetch got {len(events)} events, expected {n}")


# ---- harness -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds, best of the runs
    cpu: float  # this process's CPU seconds (the client side only), best of the runs


def best_of(repeat: int, make: Callable[[int], Awaitable[None]]) -> Timing:
    walls, cpus = [], []
    for i in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        asyncio.run(make(i))  # type: ignore[arg-type]
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return Timing(min(walls), min(cpus))


def row(label: str, n: int, t: Timing, base: Timing | None = None) -> None:
    text = f"  {label:<34} {n / t.wall:>8,.0f} ev/s {t.wall * 1000:7.1f} ms"
    text += f"  client CPU {t.cpu / n * 1e6:6.0f} us/ev"
    if base is not None:
        text += f"   wall x{t.wall / base.wall:.2f}  CPU x{t.cpu / base.cpu:.2f}"
    print(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--relays", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--relay-exe",
        default=str(Path(sys.executable).with_name("mas-relay")),
        help="relay executable taking --host/--port/--db (default: mas-relay)",
    )
    parser.add_argument("--feed", type=int, metavar="N", help="only the feed scenario")
    parser.add_argument("--fanout", type=int, metavar="K", help="only publish-one to 1 vs K")
    parser.add_argument("--samples", type=int, default=200, help="events for --fanout")
    parser.add_argument(
        "--rtt",
        default="0",
        help="--fanout: round trips in ms, e.g. 0,10,50: the relays behind bench.rtt_proxy",
    )
    parser.add_argument(
        "--compare",
        metavar="DIR",
        help="--feed, --fanout: also the client code at DIR (a PYTHONPATH); --feed also this"
        " tree with every signature checked inline (no worker process)",
    )
    parser.add_argument(
        "--relay-code", metavar="DIR", help="PYTHONPATH for the relays (a fixed copy)"
    )
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="--feed, --fanout: py-spy each run to PREFIX-... (variants as printed, from 0)",
    )
    args = parser.parse_args(argv)
    if args.fanout is not None:
        args.relays = args.fanout
    n, k, repeat = args.events, args.relays, args.repeat

    print("Shield Mutual relay pool benchmark (client/pool.py)")
    print(f"  platform : {platform.platform()}")
    print(f"  cpus     : {os.cpu_count()} (relays, and this client, share them)")
    print(f"  python   : {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"  events   : {n:,}, relays: {k} mas-relay processes on 127.0.0.1, best of {repeat}")
    print(f"  load     : {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()

    with tempfile.TemporaryDirectory(prefix="pool-bench-") as tmp:
        config = None
        if Path(args.relay_exe).name == "mas-relay":
            config = Path(tmp) / "relay.toml"
            config.write_text(BENCH_RELAY_CONFIG)
        config_args = [] if config is None else ["--config", str(config)]
        env = None if args.relay_code is None else {**os.environ, "PYTHONPATH": args.relay_code}
        procs = [
            RelayProcess.mas_relay(
                Path(tmp) / f"r{i}.sqlite", *config_args, exe=args.relay_exe, env=env
            )
            for i in range(k)
        ]
        try:
            for proc in procs:
                proc.wait_ready()
            urls = [p.url for p in procs]
            one = urls[:1]
            if args.feed is not None:
                pids = tuple(p.pid for p in procs)
                feed_bench(urls, args.feed, repeat, args.compare, args.profile, pids)
                return 0
            if args.fanout is not None:
                pids = tuple(p.pid for p in procs)
                rtts = [float(x) for x in args.rtt.split(",")]
                fanout_bench(urls, args.samples, repeat, rtts, args.compare, args.profile, pids)
                return 0

            # Fresh events for every run, signed before the clock starts.
            batches = {
                name: [make_events(n, "bench-pub", f"{name}-{i}") for i in range(repeat)]
                for name in ("d1", "p1", "dk", "pk")
            }
            t_d1 = best_of(repeat, lambda i: direct_publish(one, batches["d1"][i]))
            t_p1 = best_of(repeat, lambda i: pool_publish(one, batches["p1"][i]))
            t_dk = best_of(repeat, lambda i: direct_publish(urls, batches["dk"][i]))
            t_pk = best_of(repeat, lambda i: pool_publish(urls, batches["pk"][i]))

            print(f"publish {n:,} events (until every relay has answered OK)")
            row("direct, 1 relay", n, t_d1)
            row("pool,   1 relay", n, t_p1, t_d1)
            row(f"direct, {k} relays (a socket each)", n, t_dk)
            row(f"pool,   {k} relays", n, t_pk, t_dk)
            print()

            stored = make_events(n, "bench-fanin", "fanin")
            asyncio.run(direct_publish(urls, stored))
            flt = {"kinds": [1], "#t": ["bench-fanin"], "limit": n}
            t_raw = best_of(repeat, lambda _i: direct_fetch(one[0], flt, n, verify=False))
            t_ver = best_of(repeat, lambda _i: direct_fetch(one[0], flt, n, verify=True))
            t_f1 = best_of(repeat, lambda _i: pool_fetch(one, flt, n))
            t_fk = best_of(repeat, lambda _i: pool_fetch(urls, flt, n))

            print(f"fan-in: one REQ for {n:,} stored events, until EOSE (distinct events/s)")
            row("direct, 1 relay, parse only", n, t_raw)
            row("direct, 1 relay, parse + verify", n, t_ver)
            row("pool,   1 relay", n, t_f1, t_ver)
            row(f"pool,   {k} relays ({k * n:,} copies in)", n, t_fk, t_ver)
            print()
            print("x = pool / direct in the same run (1.00 = no overhead). Client CPU is this")
            print("process only: on a shared machine it is steadier than wall time.")
        finally:
            for proc in procs:
                proc.close(grace=10.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
