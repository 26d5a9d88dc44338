"""EventStore.items, the set NIP-77 reconciles: conformance tests every store must pass.

``items`` must return exactly the events ``query`` could return (same NIP-40 and gift
wrap visibility, each filter's own limit), as ``(created_at, id)`` ascending, and refuse
a set over ``cap`` instead of holding it. Every test runs on each backend
(``make_store`` in tests/relay/conftest.py: SQLite and PostgreSQL).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldmutual.relay.store.base import EventStore
from shieldmutual.shared.errors import BlockedError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.kinds import GIFT_WRAP
from shieldmutual.shared.nip59 import make_rumor, wrap

ALICE, BOB, CAROL = (SecretKey(bytes([i]) * 32) for i in (7, 8, 9))
START = 1_700_000_000
NOW = START + 10**6
BIG = 10**6


@pytest.fixture
async def store(make_store: Callable[..., EventStore]) -> AsyncIterator[EventStore]:
    """Each backend under test (make_store); a small default limit, so a test sees that
    items is not cut by it."""
    async with make_store(default_limit=5, max_limit=10) as opened:
        yield opened


async def save(store: EventStore, *events: Event) -> None:
    for event in events:
        assert (await store.save(event, event.to_json())).accepted


def key(event: Event) -> tuple[int, bytes]:
    return event.created_at, bytes.fromhex(event.id)


def notes(count: int, rng: random.Random) -> list[Event]:
    return [
        sign(
            rng.choice([ALICE, BOB]),
            rng.choice([1, 7]),
            f"note {i}",
            [["t", rng.choice("ab")]],
            created_at=START + rng.randrange(50),
        )
        for i in range(count)
    ]


async def test_items_are_every_match_ascending_not_cut_by_the_default_limit(
    store: EventStore,
) -> None:
    events = notes(40, random.Random(1))
    await save(store, *events)
    assert await store.items([Filter()], NOW, cap=BIG) == sorted(map(key, events))
    tagged = [key(e) for e in events if ["t", "a"] in e.tags and e.kind == 7]
    got = await store.items([Filter.from_dict({"#t": ["a"], "kinds": [7]})], NOW, cap=BIG)
    assert got == sorted(tagged)


async def test_each_filter_keeps_its_own_limit_and_the_union_has_no_duplicates(
    store: EventStore,
) -> None:
    events = notes(30, random.Random(2))
    await save(store, *events)
    newest_alice = sorted(
        (e for e in events if e.pubkey == ALICE.public_hex), key=lambda e: (-e.created_at, e.id)
    )[:3]
    filters = [
        Filter.from_dict({"authors": [ALICE.public_hex], "limit": 3}),
        Filter.from_dict({"authors": [ALICE.public_hex], "kinds": [1, 7]}),
    ]
    alice = sorted(key(e) for e in events if e.pubkey == ALICE.public_hex)
    assert await store.items(filters, NOW, cap=BIG) == alice
    assert await store.items(filters[:1], NOW, cap=BIG) == sorted(map(key, newest_alice))


async def test_expired_events_and_others_gift_wraps_are_not_in_the_set(store: EventStore) -> None:
    lasting = sign(ALICE, 1, "stays", [], created_at=START)
    expiring = sign(ALICE, 1, "soon gone", [["expiration", str(START + 10)]], created_at=START)
    rumor = make_rumor(ALICE.public_hex, 14, "meet at noon", [["p", CAROL.public_hex]], START)
    to_carol = wrap(ALICE, CAROL.public_hex, rumor, now=START)
    await save(store, lasting, expiring, to_carol)
    everything = [Filter()]
    wraps = [Filter(kinds=frozenset({GIFT_WRAP}))]
    assert await store.items(everything, START + 9, cap=BIG) == sorted(
        [key(lasting), key(expiring)]
    )
    assert await store.items(everything, START + 10, cap=BIG) == [key(lasting)]
    assert await store.items(wraps, NOW, cap=BIG) == []
    assert await store.items(wraps, NOW, viewer=frozenset({BOB.public_hex}), cap=BIG) == []
    carol = frozenset({CAROL.public_hex})
    assert await store.items(wraps, NOW, viewer=carol, cap=BIG) == [key(to_carol)]
    assert key(to_carol) in await store.items(everything, NOW, viewer=carol, cap=BIG)


async def test_a_set_over_the_cap_is_refused(store: EventStore) -> None:
    events = notes(12, random.Random(3))
    await save(store, *events)
    assert len(await store.items([Filter()], NOW, cap=12)) == 12
    with pytest.raises(BlockedError, match="too many query results"):
        await store.items([Filter()], NOW, cap=11)
    with pytest.raises(BlockedError):
        await store.items([Filter(kinds=frozenset({1})), Filter(kinds=frozenset({7}))], NOW, cap=11)


FILTERS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "kinds": st.lists(st.sampled_from([1, 7, 9]), min_size=1, max_size=2),
            "authors": st.lists(
                st.sampled_from([ALICE.public_hex, BOB.public_hex]), min_size=1, max_size=2
            ),
            "#t": st.lists(st.sampled_from("abc"), min_size=1, max_size=2),
            "since": st.integers(START, START + 50),
            "until": st.integers(START, START + 50),
            "limit": st.integers(0, 12),
        },
    ),
    min_size=1,
    max_size=3,
)


UNIVERSE = notes(40, random.Random(4))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(filters=FILTERS)
async def test_items_are_what_the_pure_matcher_selects(
    store: EventStore, filters: list[dict[str, object]]
) -> None:
    """Differential: the set is the union, per filter, of the newest ``limit`` events the
    pure matcher accepts (the store is shared by the examples, filled once)."""
    if not await store.items([Filter()], NOW, cap=BIG):
        await save(store, *UNIVERSE)
    parsed = [Filter.from_dict(f) for f in filters]
    expected: set[tuple[int, bytes]] = set()
    for f in parsed:
        matching = sorted(
            (e for e in UNIVERSE if f.matches(e)), key=lambda e: (-e.created_at, e.id)
        )
        expected.update(key(e) for e in matching[: f.limit])
    assert await store.items(parsed, NOW, cap=BIG) == sorted(expected)
