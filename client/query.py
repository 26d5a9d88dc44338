"""One query to relays as `mas req` makes it: stored events, then optionally live ones.

Events are handed over as they arrive (``on_event``), never collected, so a long stream
holds nothing; ``on_stored_end`` marks the overall EOSE (the stored events are all in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shieldmutual.client.pool import EOSE, Pool
from shieldmutual.client.pool_subscription import Subscription
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter


async def run_query(
    connect: Callable[[], Pool],
    filters: Iterable[Filter],
    on_event: Callable[[Event], None],
    on_stored_end: Callable[[], None],
    *,
    stream: bool = False,
    timeout: float | None = None,
    on_asked: Callable[[], None] = lambda: None,
) -> Subscription:
    """Query until the overall EOSE, or with ``stream`` until cancelled; the finished
    subscription (its per-relay stats say who answered). ``on_asked`` runs once the
    query is on its way (where the CLI starts its "waiting" line)."""
    async with connect() as pool:
        sub = pool.subscribe(filters, stream=stream, eose_timeout=timeout)
        async with sub:
            on_asked()
            async for item in sub.items():
                if item is EOSE:
                    on_stored_end()
                elif isinstance(item, Event):
                    on_event(item)
        return sub


def answered(sub: Subscription) -> bool:
    """Whether any relay answered with its stored events (EOSE) before giving up."""
    return any(s.eose_after is not None for s in sub.stats.values())
