"""Pool.publish to many real relays at once (issue 15: publishing to ten relays should cost
about one round trip, not ten): every relay's OK is collected, and a relay that never
answers costs the others the grace, not ``ok_timeout``, and later publishes nothing."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from shieldmutual.client.pool import Pool, PoolOptions, Status
from shieldmutual.relay.server import Relay
from shieldmutual.shared.filter import Filter

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=10, eose_timeout=3, eose_grace=0.5)


async def _relays(start_relay: Callable[..., Awaitable[Relay]], count: int) -> list[str]:
    return [(await start_relay()).url for _ in range(count)]


async def test_an_event_published_to_ten_relays_gets_every_ok(
    start_relay: Callable[..., Awaitable[Relay]], keys: Any, note: Any
) -> None:
    urls = await _relays(start_relay, 10)
    event = note(keys.alice, "to ten relays")
    async with Pool(urls, options=OPTIONS) as pool:
        report = await pool.publish(event)
        again = await pool.publish(event)
        held = [await pool.fetch([Filter(ids=frozenset({event.id}))], [url]) for url in urls]
    assert [r.relay for r in report.results] == urls
    assert [r.status for r in report.results] == [Status.ACCEPTED] * 10
    assert report.acks == 10 and all(r.event_id == event.id for r in report.results)
    # Each OK was matched to its own relay: the second time each relay says duplicate.
    assert [r.status for r in again.results] == [Status.DUPLICATE] * 10
    assert held == [[event]] * 10


async def test_a_silent_relay_costs_nine_relays_the_grace_then_nothing(
    start_relay: Callable[..., Awaitable[Relay]], hostile_relay: Any, keys: Any, note: Any
) -> None:
    urls = await _relays(start_relay, 9)
    async with hostile_relay(ok=False) as silent:
        async with Pool([silent.url, *urls], options=OPTIONS) as pool:
            start = time.monotonic()
            first = await pool.publish(note(keys.alice, "one"))
            waited = time.monotonic() - start
            start = time.monotonic()
            second = await pool.publish(note(keys.alice, "two"))
            later = time.monotonic() - start
        assert len(silent.events) == 2  # it was sent both, and answered neither
    for report in (first, second):
        assert [r.status for r in report.results[1:]] == [Status.ACCEPTED] * 9
        assert report.results[0].status is Status.TIMEOUT
        assert report.results[0].message == "no OK after the other relays answered"
    # The first publish waited the grace after the nine answered, not ok_timeout (10 s).
    assert OPTIONS.eose_grace <= waited < OPTIONS.ok_timeout / 2
    # Then the silent relay is lagging: the second publish does not wait for it at all.
    assert silent.url in pool.lagging
    assert later < OPTIONS.eose_grace
