"""Pool.fetch_paged against relays that answer pages wrongly: it always ends, in few REQs,
and never counts an event twice."""

from __future__ import annotations

from typing import Any

from shieldmutual.client.pool import FULL, Pool, PoolOptions
from shieldmutual.shared.event import sign
from shieldmutual.shared.filter import Filter

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)
COMMENTS = {"kinds": [1111], "#L": ["mas"]}


def comments(keys: Any, count: int, at: int = 1_700_000_000) -> list[Any]:
    labels = [["L", "mas"], ["l", "pledge", "mas"]]
    return [sign(keys.bob, 1111, f"pledge {i}", labels, at - i) for i in range(count)]


async def test_a_relay_that_ignores_until_costs_one_more_page_not_a_loop(
    hostile_relay: Any, keys: Any
) -> None:
    stored = comments(keys, FULL + 50)  # a full page, sent again whatever the filter says
    async with hostile_relay(stored) as relay, Pool([relay.url], options=OPTIONS) as pool:
        found = await pool.fetch_paged([Filter.from_dict(COMMENTS)])
    assert sorted(e.id for e in found) == sorted(e.id for e in stored)
    assert len(relay.reqs) == 2
    (first,), (second,) = (req[2:] for req in relay.reqs)
    assert first == {**COMMENTS, "limit": 500}
    assert second == {**first, "until": min(e.created_at for e in stored)}


async def test_a_page_short_of_full_or_a_filter_with_its_own_limit_is_asked_once(
    hostile_relay: Any, keys: Any
) -> None:
    async with hostile_relay(comments(keys, FULL - 1)) as relay, Pool([relay.url]) as pool:
        assert len(await pool.fetch_paged([Filter.from_dict(COMMENTS)])) == FULL - 1
        assert len(relay.reqs) == 1
    async with hostile_relay(comments(keys, FULL + 1)) as relay, Pool([relay.url]) as pool:
        await pool.fetch_paged([Filter.from_dict({**COMMENTS, "limit": FULL + 1})])
        assert len(relay.reqs) == 1
