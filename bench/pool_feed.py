"""The feed scenario of bench/pool.py (issue 15): ``mas feed`` over 3 relays.

N aid requests, each stored on two of three relays (2N copies in), read as ``mas feed``
reads them: client/feed.FeedReader over the pool, until the stored events end. Each run
is a fresh child process (this file run as a script), so its peak RSS (ru_maxrss) is its
own; run with N and 3N to see memory stay flat. Reported: events/s of distinct events,
the client's CPU per event (its signature worker's included, and shown apart), peak RSS,
seconds in the garbage collector, and the relays' CPU per event meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from hashlib import sha256
from pathlib import Path

import orjson

from bench.pool_harness import OPTIONS, direct_publish, gather
from shieldmutual.client.feed import FeedReader
from shieldmutual.client.pool import EOSE, Pool
from shieldmutual.shared import event as nostr_event
from shieldmutual.shared.aid.feed import Feed, FeedFilter
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey

REPO = Path(__file__).resolve().parent.parent


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


async def feed_once(urls: list[str], inline: bool = False) -> int:
    """Read the feed as `mas feed` does until the stored events end; the items shown.
    ``inline``: every signature checked on the loop (no worker process)."""
    shown = 0
    options = replace(OPTIONS, offload_after=None) if inline else OPTIONS
    async with Pool(urls, options=options) as pool:
        reader = FeedReader(pool, ["mas-bench-feed"], Feed(FeedFilter()), stream=False)
        async for item in reader.items():
            if item is EOSE:
                break
            shown += 1
    return shown


def feed_child(args: list[str]) -> None:
    """One feed run in this (fresh) process: wall, CPU and peak RSS as one JSON line.
    The pool's socket code is imported first: the figure is the reading, not start-up."""
    import shieldmutual.client.pool_relay  # noqa: F401

    paused = [0.0, 0.0]  # seconds in the cyclic garbage collector, and when it started

    def collecting(phase: str, _info: dict) -> None:
        if phase == "start":
            paused[1] = time.perf_counter()
        else:
            paused[0] += time.perf_counter() - paused[1]

    gc.callbacks.append(collecting)
    start, cpu = time.perf_counter(), time.process_time()
    inline = args[:1] == ["--inline"]
    shown = asyncio.run(feed_once(args[inline:], inline))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # The signature worker (client/verifier.py), waited for when the pool closed: its CPU
    # is the client's too, and its peak RSS is reported beside the client's own.
    worker = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        orjson.dumps(
            {
                "shown": shown,
                "wall": wall,
                "cpu": cpu + worker.ru_utime + worker.ru_stime,
                "worker_cpu": worker.ru_utime + worker.ru_stime,
                "rss": rss,
                "worker_rss": worker.ru_maxrss * 1024,
                "gc": paused[0],
            }
        ).decode()
    )


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
    flags: tuple[str, ...] = (),
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
            [*prefix, sys.executable, "-m", "bench.pool_feed", *flags, *urls],
            check=True,
            capture_output=True,
            env=env,
            cwd=REPO,  # where -m finds the bench package
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
    asyncio.run(gather(*(direct_publish([urls[r]], placed[r]) for r in range(3))))
    # With --compare, this tree also with every signature checked on the loop, to show
    # the worker process's part apart from the rest.
    codes: dict[str, tuple[str | None, tuple[str, ...]]] = {"this tree": (None, ())}
    if compare is not None:
        codes["this tree, checks inline"] = (None, ("--inline",))
        codes[compare] = (compare, ())
    # Rounds alternate between the client codes, so all see the same load.
    results: dict[str, list[dict]] = {label: [] for label in codes}
    for _ in range(repeat):
        for i, (label, (code, flags)) in enumerate(codes.items()):
            where = None if profile is None else f"{profile}-{i}-{len(results[label])}"
            results[label] += feed_runs(urls[:3], n, 1, code, where, relays[:3], flags)
    print(f"feed: {n:,} requests over 3 relays ({2 * n:,} copies in), median of {repeat}")
    for label, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = statistics.median(r["rss"] for r in runs)
        relay_cpu = statistics.median(r["relay_cpu"] for r in runs)
        worker_cpu = statistics.median(r.get("worker_cpu", 0.0) for r in runs)
        worker_rss = statistics.median(r.get("worker_rss", 0) for r in runs)
        print(
            f"  {label[-24:]:<24} {n / wall:>8,.0f} ev/s {wall * 1000:7.0f} ms"
            f"  client CPU {cpu / n * 1e6:5.0f} us/ev (worker {worker_cpu / n * 1e6:3.0f})"
            f"  peak RSS {rss / 2**20:6.1f} MiB (worker {worker_rss / 2**20:4.1f})"
            f"  relays' CPU {relay_cpu / n * 1e6:5.0f} us/ev"
        )
        print(
            "    runs: "
            + ", ".join(
                f"{n / r['wall']:,.0f} ev/s {r['rss'] / 2**20:.1f} MiB gc {r.get('gc', 0):.2f} s"
                for r in runs
            )
        )
    print(f"  load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    feed_child(sys.argv[1:])
