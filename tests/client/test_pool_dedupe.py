"""De-duplication before parsing and verifying (issue 15): a relay's copy of an event
already delivered is dropped by the id in its frame, so an event that comes from three
relays is parsed and verified once; a forged copy or a decoy id still cannot suppress the
genuine event, and one relay's events keep their order, all before its EOSE."""

from __future__ import annotations

from typing import Any

import pytest

from shieldmutual.client.pool import EOSE, Pool, PoolOptions, RelayState
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

KEY = SecretKey(bytes.fromhex("33" * 32))
OPTIONS = PoolOptions(connect_timeout=5, ok_timeout=5, eose_timeout=10, backoff_base=0.05)
N = 300


def notes(n: int) -> list[Event]:
    return [sign(KEY, 1, f"note {i}", [["t", "mas-test"]], 1_700_000_000 - i) for i in range(n)]


def forged(event: Event) -> dict[str, Any]:
    data = event.to_dict()
    data["sig"] = ("0" if data["sig"][0] != "0" else "1") + data["sig"][1:]
    return data


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The id of every event the pool verifies (id and signature)."""
    seen: list[str] = []
    check = Event.is_valid

    def counted(event: Event) -> bool:
        seen.append(event.id)
        return check(event)

    monkeypatch.setattr(Event, "is_valid", counted)
    return seen


async def test_an_event_from_three_relays_is_verified_once(
    fake_relay: Any, verified: list[str]
) -> None:
    events = notes(N)
    stored = [e.to_dict() for e in events]

    async with (
        fake_relay(stored) as a,
        fake_relay(stored) as b,
        fake_relay(stored) as c,
        Pool([a.url, b.url, c.url], options=OPTIONS) as pool,
    ):
        sub = pool.subscribe([Filter.from_dict({"kinds": [1]})])
        async with sub:
            items = [item async for item in sub.items()]
    got = [i for i in items if isinstance(i, Event)]
    assert sorted(e.id for e in got) == sorted(e.id for e in events)
    assert items[-1] is EOSE
    assert sub.received == N and sub.duplicates == 2 * N and sub.invalid == 0
    assert sorted(verified) == sorted(e.id for e in events)  # each id checked once


async def test_forged_copies_in_a_batch_cannot_suppress_the_genuine_events(fake_relay: Any) -> None:
    events = notes(N)

    async with (
        fake_relay([forged(e) for e in events]) as liar,
        fake_relay([e.to_dict() for e in events]) as honest,
        Pool([liar.url, honest.url], options=OPTIONS) as pool,
    ):
        sub = pool.subscribe([Filter.from_dict({"kinds": [1]})])
        async with sub:
            got = [e async for e in sub]
    assert sorted(e.id for e in got) == sorted(e.id for e in events)
    lied = sub.stats[liar.url]
    # A forged copy is refused, or dropped as a duplicate once the genuine one is in.
    assert lied.events == 0 and lied.invalid + lied.duplicates == N
    assert sub.stats[honest.url].events == N


async def test_one_relay_s_events_arrive_in_order_and_before_its_eose(fake_relay: Any) -> None:
    events = notes(2000)

    async with (
        fake_relay([e.to_dict() for e in events]) as relay,
        Pool([relay.url], options=OPTIONS) as pool,
    ):
        sub = pool.subscribe([Filter.from_dict({"kinds": [1]})])
        async with sub:
            items = [item async for item in sub.items()]
    assert items[:-1] == events  # the relay's order, every event before EOSE
    assert items[-1] is EOSE
    assert sub.stats[relay.url].status is RelayState.EOSE


async def test_a_decoy_id_key_cannot_suppress_another_relay_s_event(fake_relay: Any) -> None:
    """Copies of delivered events are dropped by their id before parsing; a relay that puts
    a delivered id in a decoy ``"id"`` key ahead of another event's can only lose its own
    frame, never the genuine copy from another relay."""
    first, second = notes(2)
    decoy = {"x": {"id": first.id}, **second.to_dict()}

    async with (
        fake_relay([first.to_dict(), decoy]) as liar,
        fake_relay([second.to_dict()]) as honest,
        Pool([liar.url, honest.url], options=OPTIONS) as pool,
    ):
        got = await pool.fetch([Filter.from_dict({"kinds": [1]})])
    assert sorted(e.id for e in got) == sorted([first.id, second.id])
