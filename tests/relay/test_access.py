"""relay/access.py: the one gift-wrap rule, as REQ, COUNT, NIP-77 and live delivery apply
it. COUNT with wraps for several readers is one answer from the store that equals the
stored results that reader may see (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from shieldmutual.relay import access
from shieldmutual.relay.store.base import EventStore
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.kinds import GIFT_WRAP

ALICE, BOB, CAROL, DAVE = (SecretKey(bytes([i]) * 32) for i in (1, 2, 3, 4))
NOW = 1_700_000_000


def wrap_to(*keys: SecretKey, at: int) -> Event:
    """A kind 1059 event addressed to ``keys`` (its content does not matter here)."""
    return sign(DAVE, GIFT_WRAP, f"sealed {at}", [["p", k.public_hex] for k in keys], at)


def keys(*who: SecretKey) -> frozenset[str]:
    return frozenset(k.public_hex for k in who)


def may_see(event: Event, viewer: frozenset[str]) -> bool:
    """The rule written out independently of the code under test."""
    return event.kind != GIFT_WRAP or bool(viewer & set(event.tag_values("p")))


@dataclass
class Conn:
    authed: set[str] = field(default_factory=set)


@dataclass
class Sub:
    conn: Conn


def test_live_audience_is_the_wraps_recipients_only() -> None:
    alice, bob, nobody = Sub(Conn({ALICE.public_hex})), Sub(Conn({BOB.public_hex})), Sub(Conn())
    both = Sub(Conn({BOB.public_hex, CAROL.public_hex}))
    subs = [alice, bob, nobody, both]
    assert access.audience(wrap_to(BOB, at=NOW), subs) == [bob, both]
    assert access.audience(wrap_to(ALICE, CAROL, at=NOW), subs) == [alice, both]
    note = sign(DAVE, 1, "public", [["p", ALICE.public_hex]], NOW)
    assert access.audience(note, subs) == subs


def test_only_wraps_without_auth_is_refused_with_the_reason() -> None:
    wraps = Filter.from_dict({"kinds": [GIFT_WRAP]})
    mixed = Filter.from_dict({"kinds": [1, GIFT_WRAP]})
    assert access.refusal([wraps], set()) == access.AUTH_FOR_WRAPS
    assert access.AUTH_FOR_WRAPS.startswith("auth-required:")
    assert access.refusal([wraps], {ALICE.public_hex}) is None
    assert access.refusal([wraps, mixed], set()) is None  # the public part is served


def test_for_viewer_rewrites_filters_to_the_rule() -> None:
    wraps = Filter.from_dict({"kinds": [GIFT_WRAP]})
    assert access.for_viewer(wraps, frozenset()) is None  # nothing left to run
    only = access.for_viewer(wraps, keys(ALICE))
    assert only is not None and only.filter.tags["p"] == keys(ALICE) and only.viewer is None
    mixed = access.for_viewer(Filter.from_dict({"kinds": [1, GIFT_WRAP]}), frozenset())
    assert mixed is not None and mixed.filter.kinds == frozenset({1})
    anything = access.for_viewer(Filter.from_dict({}), keys(BOB))
    assert anything is not None and anything.viewer == keys(BOB)  # checked per row in SQL
    notes = Filter.from_dict({"kinds": [1]})
    assert access.for_viewer(notes, frozenset()) == access.Visible(notes)


FILTERS = [
    [{}],
    [{"kinds": [GIFT_WRAP]}],
    [{"kinds": [1, GIFT_WRAP]}],
    [{"#p": [ALICE.public_hex]}],
    [{"kinds": [GIFT_WRAP], "limit": 3}, {"kinds": [1]}],
    [{"#p": [BOB.public_hex, CAROL.public_hex], "limit": 4}, {"authors": [DAVE.public_hex]}],
]
READERS = [keys(), keys(ALICE), keys(BOB), keys(ALICE, BOB), keys(CAROL), keys(DAVE)]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
async def test_count_with_wraps_is_what_each_reader_may_see(
    make_store: Callable[..., EventStore], filters: list[dict[str, object]]
) -> None:
    """One COUNT answer per reader: the store excludes others' wraps before counting and
    before each filter's limit, so it equals the number of stored results that reader
    gets, and the expected figure from the rule written out here."""
    events = [
        *(wrap_to(ALICE, at=NOW - i) for i in range(5)),
        *(wrap_to(BOB, at=NOW - 10 - i) for i in range(4)),
        *(wrap_to(ALICE, BOB, at=NOW - 20 - i) for i in range(3)),
        wrap_to(CAROL, at=NOW - 30),
        *(sign(DAVE, 1, f"note {i}", [["p", ALICE.public_hex]], NOW - 40 - i) for i in range(6)),
    ]
    parsed = [Filter.from_dict(f) for f in filters]
    async with make_store() as store:
        for event in events:
            assert (await store.save(event, event.to_json())).accepted
        for viewer in READERS:
            visible = [e for e in events if may_see(e, viewer)]
            expected: set[str] = set()
            for f in parsed:  # newest first, each filter no further than its limit
                matched = sorted(
                    (e for e in visible if f.matches(e)), key=lambda e: (-e.created_at, e.id)
                )
                expected.update(e.id for e in matched[: f.limit])
            counted = await store.count(parsed, NOW + 1, viewer=viewer)
            pages = store.query(parsed, NOW + 1, viewer=viewer)
            served = [raw async for page in pages for raw in page]
            assert (counted.count, counted.approximate) == (len(expected), False), viewer
            assert len(served) == len(expected), viewer
