"""The publish-one scenario of bench/pool.py (issue 15): one event at a time to 1 and to
K relays: a direct floor (a websocket per relay, no pool), the pool over open connections,
and a new pool per event (connect, publish, close, as one ``mas`` command does)."""

from __future__ import annotations

import asyncio
import statistics
import time

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.pool_harness import OPTIONS, make_events
from shieldmutual.client.pool import Pool
from shieldmutual.shared.event import Event


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
