"""What a subscription's event costs the pool's event loop, signatures inline or in the
worker process (issue 15; client/verifier.py, client/pool_order.py). Not a test.

    python -m bench.pool_checks [--events 6000] [--rounds 3]

No relay and no socket: the feed bench's aid requests are handed to a real
``Subscription`` 200 at a time (one loop iteration each, as a socket read brings them),
until all are delivered. The figure is this process's CPU per event, so the worker's
own CPU is not in it: the loop's share alone, which bounds the feed once its relays are
remote. Rounds alternate inline and worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bench.pool_feed import make_requests
from shieldmutual.client.feed import follow_filters
from shieldmutual.client.pool import Pool, PoolOptions, Subscription
from shieldmutual.shared.event import Event

URL = "ws://127.0.0.1:9"  # named, never dialled: the subscription is not started


async def loop_cost(events: list[Event], worker: bool) -> float:
    """Loop CPU in us per event, from the first hand-over to the last delivery."""
    options = PoolOptions(offload_after=0 if worker else None, queue_limit=len(events) + 1)
    async with Pool([URL], options=options) as pool:
        if worker:
            verifier = pool.verifier()
            while not verifier.ready:  # its start-up is not what is measured
                await asyncio.sleep(0.01)
        sub = Subscription(pool, follow_filters(), [URL], stream=True, eose_timeout=600)
        cpu = time.process_time()
        for start in range(0, len(events), 200):
            for event in events[start : start + 200]:
                sub.on_event(URL, event)
            await asyncio.sleep(0)  # the next loop iteration: the batch goes out
        while sub.received < len(events):
            await asyncio.sleep(0.001)
        return (time.process_time() - cpu) / len(events) * 1e6


async def main(n: int, rounds: int) -> None:
    events = make_requests(n)
    inline, worker = [], []
    for _ in range(rounds):
        inline.append(await loop_cost(events, False))
        worker.append(await loop_cost(events, True))
    print(f"loop CPU per event, {n:,} events, {rounds} rounds")
    print(f"  signatures inline:   {' '.join(f'{x:5.1f}' for x in inline)} us")
    print(f"  signatures in worker:{' '.join(f'{x:5.1f}' for x in worker)} us")
    print(f"  load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rounds))
