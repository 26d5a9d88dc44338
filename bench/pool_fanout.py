"""The publish-one scenario of bench/pool.py (issue 15): one event at a time to 1 and to
K relays: a direct floor (a websocket per relay, no pool), the pool over open connections,
and a new pool per event (connect, publish, close, as one ``mas`` command does).

With ``--rtt MS[,MS...]`` the relays are also reached through bench/rtt_proxy.py (a
loopback proxy that delays every byte by half the round trip each way), as they are over
a network; 0 is the relays direct. Each measurement runs in a fresh child process (this
file run as a script, ``PYTHONPATH`` the client code under test), so ``--compare DIR``
alternates rounds of this tree and DIR's client in the same run, and the client's CPU per
publish is the child's own (the proxy and the relays are other processes, shown apart).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.pool_feed import REPO, process_cpu
from bench.pool_harness import OPTIONS, make_events
from bench.rtt_proxy import Proxy
from shieldmutual.client.pool import Pool
from shieldmutual.shared.event import Event

MODES = ("direct", "open", "new")
HOW = {
    "direct": "direct (a socket per relay, no pool: the floor)",
    "open": "pool, connections open",
    "new": "new pool per event (connect + publish + close, as one `mas` command)",
}


Timed = tuple[list[float], float]


async def publish_one_by_one(urls: list[str], events: list[Event], cold: bool) -> Timed:
    """Each event published alone, as `mas` does: ``cold``, a new pool each (connections
    opened, the event sent, every OK awaited, the pool closed); else over open connections.
    The wall time of each, and this process's CPU seconds for all of them."""
    walls = []
    cpu = 0.0
    async with Pool(urls, options=OPTIONS) as warm:
        await warm.publish(make_events(1, "bench-warm", f"warm-{urls}-{cold}-{time.time()}")[0])
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


async def direct_one_by_one(urls: list[str], events: list[Event]) -> Timed:
    """The floor: a socket per relay opened beforehand, each event sent to all at once,
    until every relay's OK is in."""
    walls = []
    cpu = 0.0
    sockets = [await connect(u, compression=None, max_size=None) for u in urls]
    try:
        for event in events:
            frame = b'["EVENT",' + event.to_json() + b"]"
            start, started = time.perf_counter(), time.process_time()
            await asyncio.gather(*(ws.send(frame, text=True) for ws in sockets))
            await asyncio.gather(*(_ok(ws, event.id) for ws in sockets))
            walls.append(time.perf_counter() - start)
            cpu += time.process_time() - started
    finally:
        for ws in sockets:
            await ws.close()
    return walls, cpu


def fanout_child(argv: list[str]) -> None:
    """One round in this (fresh) process: every mode to 1 relay and to all of ``urls``;
    each mode's wall times, this process's CPU seconds, and the CPU seconds the relays
    and the proxy (``others``: their pids) spent meanwhile, as one JSON line."""
    samples, seed, others, urls = int(argv[0]), argv[1], argv[2], argv[3:]
    pids = [int(p) for p in others.split(",") if p]
    out = {}
    for mode in MODES:
        for k in (1, len(urls)):
            events = make_events(samples, "bench-one", f"{seed}-{mode}-{k}")
            before = sum(process_cpu(p) for p in pids)
            if mode == "direct":
                walls, cpu = asyncio.run(direct_one_by_one(urls[:k], events))
            else:
                walls, cpu = asyncio.run(publish_one_by_one(urls[:k], events, mode == "new"))
            others_cpu = sum(process_cpu(p) for p in pids) - before
            out[f"{mode}-{k}"] = {"walls": walls, "cpu": cpu, "others": others_cpu}
    print(orjson.dumps(out).decode())


def _child(
    urls: list[str], samples: int, seed: str, code: str | None, profile: str | None, pids: str
) -> dict[str, Any]:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = code
    spy = [] if profile is None else ["py-spy", "record", "-r", "200", "-f", "raw", "-o", profile]
    child = [sys.executable, "-m", "bench.pool_fanout", str(samples), seed, pids, *urls]
    out = subprocess.run(
        [*spy, "--", *child] if spy else child,
        check=True,
        capture_output=True,
        env=env,
        cwd=REPO,
    ).stdout
    result: dict[str, Any] = orjson.loads(
        next(x for x in reversed(out.splitlines()) if x.startswith(b"{"))
    )
    return result


def _report(k: int, samples: int, runs: dict[str, list[dict[str, Any]]]) -> None:
    """Per mode and client code: the median wall time to 1 and to k relays, their ratio,
    and the CPU per publish of the client and of the relays and proxy together (the
    cores' work that a round trip must also cover when they all share 2 cores)."""
    for mode in MODES:
        print(f"  {HOW[mode]}")
        for label, rounds in runs.items():
            one = statistics.median(w for r in rounds for w in r[f"{mode}-1"]["walls"])
            many = statistics.median(w for r in rounds for w in r[f"{mode}-{k}"]["walls"])
            cpu = [
                statistics.median(r[f"{mode}-{n}"][what] for r in rounds) / samples * 1e3
                for what in ("cpu", "others")
                for n in (1, k)
            ]
            print(
                f"    {label[-16:]:<16} 1: {one * 1e3:7.2f} ms  {k}: {many * 1e3:7.2f} ms"
                f"  x{many / one:5.2f}   CPU per publish: client {cpu[0]:5.2f} / {cpu[1]:5.2f}"
                f" ms, relays + proxy {cpu[2]:5.2f} / {cpu[3]:5.2f} ms"
            )


def fanout_bench(
    urls: list[str],
    samples: int,
    repeat: int,
    rtts: list[float],
    compare: str | None,
    profile: str | None,
    relays: tuple[int, ...],
) -> None:
    k = len(urls)
    codes: dict[str, str | None] = {"this tree": None}
    if compare is not None:
        codes[compare] = compare
    targets = [urlsplit(u).port or 0 for u in urls]
    print(f"publish one event to 1 vs {k} relays: median of {samples} events x {repeat} rounds")
    for rtt in rtts:
        proxy = Proxy(rtt, targets) if rtt > 0 else None
        via = urls if proxy is None else [f"ws://127.0.0.1:{proxy.ports[t]}" for t in targets]
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in codes}
        pids = ",".join(str(p) for p in (*relays, *([proxy.proc.pid] if proxy else [])))
        relay_cpu = sum(process_cpu(p) for p in relays)
        proxy_cpu = 0.0 if proxy is None else process_cpu(proxy.proc.pid)
        try:
            for i in range(repeat):  # rounds alternate between the client codes
                for j, (label, code) in enumerate(codes.items()):
                    spy = None if profile is None else f"{profile}-rtt{rtt:g}-{j}-{i}"
                    seed = f"{rtt}-{i}-{j}-{time.time()}"
                    runs[label].append(_child(via, samples, seed, code, spy, pids))
            if proxy is not None:
                proxy_cpu = process_cpu(proxy.proc.pid) - proxy_cpu
        finally:
            if proxy is not None:
                proxy.close()
        relay_cpu = sum(process_cpu(p) for p in relays) - relay_cpu
        # A round sends each mode's events to 1 and to k relays, and the pools a warm-up.
        copies = repeat * len(codes) * (len(MODES) * samples + 2) * (1 + k)
        print(f"rtt {rtt:g} ms (load {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        _report(k, samples, runs)
        print(
            f"  relays' CPU {relay_cpu / copies * 1e3:.3f} ms per stored copy;"
            f" proxy CPU {proxy_cpu / copies * 1e3:.3f} ms per copy (both ways)"
        )


if __name__ == "__main__":
    fanout_child(sys.argv[1:])
