"""Events published as they arrive (`mas event`, ``mas req ... | mas event -r URL``).

A stream from stdin may be long: events are read, published and answered concurrently,
at most ``at_once`` awaiting their OKs, so reading never runs far ahead of the relays.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared.event import Event

MAX_IN_FLIGHT = 64


async def publish_each(
    connect: Callable[[], Pool],
    events: AsyncIterator[Event],
    on_report: Callable[[PublishReport], None],
    at_once: int = MAX_IN_FLIGHT,
) -> int:
    """Publish each event as it arrives and hand its report to ``on_report`` when the
    relays answered; the number of events published. When reading fails (bad input),
    what was already sent still gets its answers before the error goes on."""
    slots = asyncio.Semaphore(at_once)
    pending: set[asyncio.Task[None]] = set()
    count = 0

    async def one(pool: Pool, event: Event) -> None:
        try:
            on_report(await pool.publish(event))
        finally:
            slots.release()

    async with connect() as pool:
        try:
            async for event in events:
                await slots.acquire()
                count += 1
                task = asyncio.get_running_loop().create_task(one(pool, event))
                pending.add(task)
                task.add_done_callback(pending.discard)
        finally:
            if pending:
                await asyncio.gather(*pending)
    return count
