"""client/sync.sync_between (`mas sync`) against two real relays: what the target lacks is
copied, and a second run copies nothing."""

from __future__ import annotations

from functools import partial
from typing import Any

from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.client.sync import SyncPlan, sync_between
from shieldmutual.shared.filter import Filter

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_what_the_target_lacks_is_copied_once(start_relay: Any, keys: Any, note: Any) -> None:
    source, target = await start_relay(), await start_relay()
    both = [source.url, target.url]
    notes = [note(keys.alice, f"note {n}") for n in range(3)]
    async with Pool([source.url], options=OPTIONS) as pool:
        for event in notes:
            assert (await pool.publish(event)).ok(1)
    plan = SyncPlan(source.url, target.url, [Filter(authors=frozenset({keys.alice.public_hex}))])
    connect = partial(Pool, both, options=OPTIONS)

    (first,) = await sync_between(connect, plan, proxy=None, timeout=3)
    assert (first.need, first.sent) == (3, 3)
    (again,) = await sync_between(connect, plan, proxy=None, timeout=3)
    assert (again.have, again.need, again.sent) == (3, 0, 0)
