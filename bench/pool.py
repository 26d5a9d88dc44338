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

feed      (``--feed N``, issue 15) N aid requests, each stored on two of three relays (2N
          copies in), read as ``mas feed`` reads them: client/feed.FeedReader over the
          pool, until the stored events end. Each run is a fresh child process, so its
          peak RSS (ru_maxrss) is its own; run with N and 3N to see memory stay flat.
          events/s of distinct events, client CPU per event, peak RSS.

publish-one (``--fanout 10``, issue 15) one event at a time, ``Pool.publish`` to 1 relay
          and to all ``--fanout`` relays over already open connections: the median wall
          time of ``--samples`` events each, and the ratio (the target is <= 1.2x).

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
import resource
import statistics
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
from websockets.asyncio.client import ClientConnection, connect

from shieldmutual.client.feed import FeedReader
from shieldmutual.client.pool import EOSE, Pool, PoolOptions
from shieldmutual.shared import event as nostr_event
from shieldmutual.shared.aid.feed import Feed, FeedFilter
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

READY = re.compile(rb"mas-relay ready on (ws://\S+)")
OPTIONS = PoolOptions(connect_timeout=10, ok_timeout=120, eose_timeout=120)


# mas-relay's per-connection rate limits (20 events/s by default) are for strangers on the
# internet; a throughput benchmark turns them off, as bench/relay.py does.
BENCH_RELAY_CONFIG = """\
[rate_limits]
events_per_second = 0
reqs_per_second = 0

[limits]
# A feed back-fill of the whole store in one REQ (the default caps a filter at 500).
default_limit = 1000000
max_limit = 1000000
"""


class RelayProc:
    def __init__(self, db: Path, exe: str, config: Path | None, code: str | None) -> None:
        argv = [exe, "--host", "127.0.0.1", "--port", "0", "--db", str(db)]
        if config is not None:
            argv += ["--config", str(config)]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=None if code is None else {**os.environ, "PYTHONPATH": code},
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
        events = await pool.fetch([Filter.from_dict(flt)])
    if len(events) != n:
        raise RuntimeError(f"pool fetch got {len(events)} events, expected {n}")


# ---- feed (issue 15) ---------------------------------------------------------------------


def make_requests(n: int) -> list[Event]:
    """``n`` aid requests of one society, as `mas request new` would publish them."""
    keys = [SecretKey(sha256(f"pool-bench-feed-{i}".encode()).digest()) for i in range(50)]
    now = int(time.time())
    events = []
    for i in range(n):
        request = AidRequest(
            title=f"Rent after the raid, household {i}",
            summary="Two weeks of work lost after the raid on the social centre.",
            story="The centre was raided on Tuesday and the household was held for two days.",
            location="Leeds, UK",
            language="en",
            societies=("bench-feed",),
            identifier=f"bench-{i}",
            published_at=now - i,
        )
        kind, content, tags = request_event_template(request)
        events.append(nostr_event.sign(keys[i % len(keys)], kind, content, tags, now - i))
    return events


async def feed_once(urls: list[str]) -> int:
    """Read the feed as `mas feed` does until the stored events end; the items shown."""
    shown = 0
    async with Pool(urls, options=OPTIONS) as pool:
        reader = FeedReader(pool, ["mas-bench-feed"], Feed(FeedFilter()), stream=False)
        async for item in reader.items():
            if item is EOSE:
                break
            shown += 1
    return shown


def feed_child(urls: list[str]) -> None:
    """One feed run in this (fresh) process: wall, CPU and peak RSS as one JSON line.
    The pool's socket code is imported first: the figure is the reading, not start-up."""
    import shieldmutual.client.pool_relay  # noqa: F401

    start, cpu = time.perf_counter(), time.process_time()
    shown = asyncio.run(feed_once(urls))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(orjson.dumps({"shown": shown, "wall": wall, "cpu": cpu, "rss": rss}).decode())


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def feed_runs(
    urls: list[str],
    n: int,
    repeat: int,
    code: str | None,
    profile: str | None = None,
    relays: tuple[int, ...] = (),
) -> list[dict]:
    """``repeat`` feed runs, each in a fresh child process (``code``: PYTHONPATH for it;
    ``profile``: a file for py-spy's collapsed stacks of the child, 200 Hz); with the CPU
    the ``relays`` (pids) spent meanwhile, to see who holds the 2 cores."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = code
    spy = [] if profile is None else ["py-spy", "record", "-r", "200", "-f", "raw", "-o"]
    runs = []
    for i in range(repeat):
        prefix = [*spy, f"{profile}.{i}", "--"] if spy else []
        before = sum(process_cpu(pid) for pid in relays)
        out = subprocess.run(
            [*prefix, sys.executable, __file__, "--feed-child", str(n), *urls],
            check=True,
            capture_output=True,
            env=env,
        ).stdout
        run = orjson.loads(next(x for x in reversed(out.splitlines()) if x.startswith(b"{")))
        run["relay_cpu"] = sum(process_cpu(pid) for pid in relays) - before
        if run["shown"] < min(n, 10_000):  # the feed keeps its newest 10,000 items
            raise RuntimeError(f"the feed showed {run['shown']} items of {n}")
        runs.append(run)
    return runs


def feed_bench(
    urls: list[str],
    n: int,
    repeat: int,
    compare: str | None,
    profile: str | None = None,
    relays: tuple[int, ...] = (),
) -> None:
    if len(urls) < 3:
        raise SystemExit("--feed needs --relays 3 or more")
    requests = make_requests(n)
    # Each request on two of three relays: 2n copies come in, n distinct.
    placed: list[list[Event]] = [[], [], []]
    for i, event in enumerate(requests):
        placed[i % 3].append(event)
        placed[(i + 1) % 3].append(event)
    asyncio.run(_gather(*(direct_publish([urls[r]], placed[r]) for r in range(3))))
    codes = {"this tree": None} if compare is None else {"this tree": None, compare: compare}
    # Rounds alternate between the two client codes, so both see the same load.
    results: dict[str, list[dict]] = {label: [] for label in codes}
    for _ in range(repeat):
        for label, code in codes.items():
            where = (
                None
                if profile is None
                else f"{profile}-{'old' if code else 'new'}-{len(results[label])}"
            )
            results[label] += feed_runs(urls[:3], n, 1, code, where, relays[:3])
    print(f"feed: {n:,} requests over 3 relays ({2 * n:,} copies in), median of {repeat}")
    for label, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = statistics.median(r["rss"] for r in runs)
        relay_cpu = statistics.median(r["relay_cpu"] for r in runs)
        print(
            f"  {label[-24:]:<24} {n / wall:>8,.0f} ev/s {wall * 1000:7.0f} ms"
            f"  client CPU {cpu / n * 1e6:5.0f} us/ev  peak RSS {rss / 2**20:6.1f} MiB"
            f"  relays' CPU {relay_cpu / n * 1e6:5.0f} us/ev"
        )
        print(
            "    runs: "
            + ", ".join(f"{n / r['wall']:,.0f} ev/s {r['rss'] / 2**20:.1f} MiB" for r in runs)
        )
    print(f"  load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def _gather(*aws: Awaitable[None]) -> None:
    await asyncio.gather(*aws)


# ---- publish one event to 1 vs many relays (issue 15) ------------------------------------


async def publish_one_by_one(
    urls: list[str], events: list[Event], cold: bool
) -> tuple[list[float], float]:
    """Each event published alone, as `mas` does: ``cold``, a new pool each (connections
    opened, the event sent, every OK awaited, the pool closed); else over open connections.
    The wall time of each, and this process's CPU seconds for all of them."""
    walls = []
    cpu = 0.0
    async with Pool(urls, options=OPTIONS) as warm:
        await warm.publish(make_events(1, "bench-warm", f"warm-{len(urls)}-{cold}")[0])
        for event in events:
            start, started = time.perf_counter(), time.process_time()
            if cold:
                async with Pool(urls, options=OPTIONS) as pool:
                    report = await pool.publish(event)
            else:
                report = await warm.publish(event)
            walls.append(time.perf_counter() - start)
            cpu += time.process_time() - started
            if report.acks != len(urls):
                raise RuntimeError(f"publish to {len(urls)} relays: {report.results}")
    return walls, cpu


async def _ok(ws: ClientConnection, event_id: str) -> None:
    async for raw in ws:
        msg = orjson.loads(raw)
        if msg[0] == "OK" and msg[1] == event_id:
            if not msg[2]:
                raise RuntimeError(f"a relay rejected an event: {msg[3]}")
            return


async def direct_one_by_one(urls: list[str], events: list[Event]) -> list[float]:
    """The floor: a socket per relay opened beforehand, each event sent to all at once,
    until every relay's OK is in."""
    walls = []
    sockets = [await connect(u, compression=None, max_size=None) for u in urls]
    try:
        for event in events:
            frame = b'["EVENT",' + event.to_json() + b"]"
            start = time.perf_counter()
            await asyncio.gather(*(ws.send(frame, text=True) for ws in sockets))
            await asyncio.gather(*(_ok(ws, event.id) for ws in sockets))
            walls.append(time.perf_counter() - start)
    finally:
        for ws in sockets:
            await ws.close()
    return walls


def fanout_bench(urls: list[str], samples: int) -> None:
    k = len(urls)
    print(f"publish one event to 1 vs {k} relays (median of {samples} events)")
    d1 = statistics.median(
        asyncio.run(direct_one_by_one(urls[:1], make_events(samples, "d", "d1")))
    )
    dk = statistics.median(asyncio.run(direct_one_by_one(urls, make_events(samples, "d", "dk"))))
    print("  direct (a socket per relay, no pool: the floor the relays allow on this machine)")
    print(f"    to 1 relay   {d1 * 1000:7.2f} ms")
    print(f"    to {k} relays {dk * 1000:7.2f} ms   x{dk / d1:.2f}")
    for cold in (False, True):
        seed = f"{cold}-{time.time()}"
        one = asyncio.run(
            publish_one_by_one(urls[:1], make_events(samples, "bench-one", f"1-{seed}"), cold)
        )
        many = asyncio.run(
            publish_one_by_one(urls, make_events(samples, "bench-one", f"k-{seed}"), cold)
        )
        m1, mk = statistics.median(one[0]), statistics.median(many[0])
        c1, ck = one[1] / samples * 1e3, many[1] / samples * 1e3
        how = "new pool per event (connect + publish + close)" if cold else "connections open"
        print(f"  {how}")
        print(f"    to 1 relay   {m1 * 1000:7.2f} ms   client CPU {c1:5.2f} ms/event")
        print(
            f"    to {k} relays {mk * 1000:7.2f} ms   x{mk / m1:.2f}  client CPU {ck:5.2f} ms/event"
        )


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
        "--compare", metavar="DIR", help="--feed: also the client code at DIR (a PYTHONPATH)"
    )
    parser.add_argument(
        "--relay-code", metavar="DIR", help="PYTHONPATH for the relays (a fixed copy)"
    )
    parser.add_argument(
        "--profile", metavar="PREFIX", help="--feed: py-spy each run to PREFIX-<code>-<round>.0"
    )
    parser.add_argument("--feed-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.feed_child is not None:
        feed_child(args.urls)
        return 0
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
        procs = [
            RelayProc(Path(tmp) / f"r{i}.sqlite", args.relay_exe, config, args.relay_code)
            for i in range(k)
        ]
        try:
            for proc in procs:
                proc.wait_ready()
            urls = [p.url for p in procs]
            one = urls[:1]
            if args.feed is not None:
                pids = tuple(p.proc.pid for p in procs)
                feed_bench(urls, args.feed, repeat, args.compare, args.profile, pids)
                return 0
            if args.fanout is not None:
                fanout_bench(urls, args.samples)
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
                proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
