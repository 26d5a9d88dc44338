"""Benchmark of the client relay pool (client/pool.py) against real mas-relay processes.

Not a test. Run from the repository root with the project installed:

    python bench/pool.py [--events 1000] [--relays 3] [--repeat 3]

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
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared import event as nostr_event
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey

READY = re.compile(rb"mas-relay ready on (ws://\S+)")
OPTIONS = PoolOptions(connect_timeout=10, ok_timeout=120, eose_timeout=120)


# mas-relay's per-connection rate limits (20 events/s by default) are for strangers on the
# internet; a throughput benchmark turns them off, as bench/relay.py does.
BENCH_RELAY_CONFIG = """\
[rate_limits]
events_per_second = 0
reqs_per_second = 0
"""


class RelayProc:
    def __init__(self, db: Path, exe: str, config: Path | None) -> None:
        argv = [exe, "--host", "127.0.0.1", "--port", "0", "--db", str(db)]
        if config is not None:
            argv += ["--config", str(config)]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = ""

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("mas-relay exited before it was ready")
            match = READY.search(line)
            if match:
                self.url = match.group(1).decode()
                # Keep draining its log so a full pipe never stalls the relay.
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise RuntimeError("mas-relay was not ready in time")

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for _ in self.proc.stderr:
            pass

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def make_events(n: int, tag: str, seed: str) -> list[Event]:
    keys = [SecretKey(sha256(f"pool-bench-{seed}-{i}".encode()).digest()) for i in range(20)]
    now = int(time.time())
    return [
        nostr_event.sign(
            keys[i % len(keys)],
            1,
            f"mutual aid bench event {i} of {n}: water, food, a ride to the clinic",
            [["t", tag], ["t", "mutualaid"]],
            now - i,
        )
        for i in range(n)
    ]


# ---- publish -----------------------------------------------------------------------------


async def direct_publish(urls: list[str], events: list[Event]) -> None:
    """The floor: one socket per relay, every EVENT pipelined, wait for every OK."""

    async def one(url: str) -> None:
        async with connect(url, compression=None, max_size=None) as ws:
            waiting = {e.id for e in events}
            for event in events:
                await ws.send(b'["EVENT",' + event.to_json() + b"]", text=True)
            async for raw in ws:
                msg = orjson.loads(raw)
                if msg[0] == "OK":
                    if not msg[2]:
                        raise RuntimeError(f"{url} rejected an event: {msg[3]}")
                    waiting.discard(msg[1])
                    if not waiting:
                        return

    await asyncio.gather(*(one(u) for u in urls))


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
        events = await pool.fetch([flt])
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
    args = parser.parse_args(argv)
    n, k, repeat = args.events, args.relays, args.repeat

    print("Shield Mutual relay pool benchmark (client/pool.py)")
    print(f"  platform : {platform.platform()}")
    print(f"  cpus     : {os.cpu_count()} (relays, and this client, share them)")
    print(f"  python   : {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"  events   : {n:,}, relays: {k} mas-relay processes on 127.0.0.1, best of {repeat}")
    print()

    with tempfile.TemporaryDirectory(prefix="pool-bench-") as tmp:
        config = None
        if Path(args.relay_exe).name == "mas-relay":
            config = Path(tmp) / "relay.toml"
            config.write_text(BENCH_RELAY_CONFIG)
        procs = [RelayProc(Path(tmp) / f"r{i}.sqlite", args.relay_exe, config) for i in range(k)]
        try:
            for proc in procs:
                proc.wait_ready()
            urls = [p.url for p in procs]
            one = urls[:1]

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
            t_raw = best_of(repeat, lambda i: direct_fetch(one[0], flt, n, verify=False))
            t_ver = best_of(repeat, lambda i: direct_fetch(one[0], flt, n, verify=True))
            t_f1 = best_of(repeat, lambda i: pool_fetch(one, flt, n))
            t_fk = best_of(repeat, lambda i: pool_fetch(urls, flt, n))

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
                proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
