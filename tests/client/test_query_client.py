"""client/query.py against a real relay: events handed over as they come, EOSE marked once."""

from __future__ import annotations

from functools import partial
from typing import Any

from shieldmutual.client import query
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_stored_events_are_handed_over_then_the_end_is_marked(
    relay: Any, keys: Any, note: Any
) -> None:
    connect = partial(Pool, [relay.url], options=OPTIONS)
    notes = [note(keys.alice, f"note {n}") for n in range(3)]
    async with connect() as pool:
        for event in notes:
            assert (await pool.publish(event)).ok(1)
    seen: list[Event | str] = []
    mine = Filter(authors=frozenset({keys.alice.public_hex}))

    sub = await query.run_query(connect, [mine], seen.append, lambda: seen.append("EOSE"))

    assert seen[-1] == "EOSE" and seen.count("EOSE") == 1
    assert {e.id for e in seen[:-1] if isinstance(e, Event)} == {e.id for e in notes}
    assert query.answered(sub)


async def test_a_relay_that_never_answers_is_not_an_answer(silent_relay: Any) -> None:
    connect = partial(Pool, [silent_relay.url], options=PoolOptions(connect_timeout=0.5))
    seen: list[Event] = []
    sub = await query.run_query(connect, [Filter(kinds=frozenset({1}))], seen.append, list)
    assert not query.answered(sub) and seen == []
