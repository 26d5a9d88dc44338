"""NIP-01 kind ranges, checked at every boundary."""

from __future__ import annotations

import pytest

from shieldmutual.shared import kinds
from shieldmutual.shared.kinds import KindClass

R, P, E, A = KindClass.REGULAR, KindClass.REPLACEABLE, KindClass.EPHEMERAL, KindClass.ADDRESSABLE

BOUNDARIES = [
    (0, P),
    (1, R),
    (2, R),
    (3, P),
    (4, R),
    (5, R),
    (999, R),
    (1000, R),
    (9999, R),
    (10000, P),
    (10002, P),
    (19999, P),
    (20000, E),
    (22242, E),
    (29999, E),
    (30000, A),
    (30023, A),
    (39999, A),
    (40000, R),
    (65535, R),
]


@pytest.mark.parametrize(("kind", "expected"), BOUNDARIES)
def test_classify_boundaries(kind: int, expected: KindClass) -> None:
    assert kinds.classify(kind) is expected
    assert kinds.is_replaceable(kind) is (expected is P)
    assert kinds.is_ephemeral(kind) is (expected is E)
    assert kinds.is_addressable(kind) is (expected is A)


def test_predicates_agree_with_classify_everywhere() -> None:
    counts = dict.fromkeys(KindClass, 0)
    for kind in range(65536):
        cls = kinds.classify(kind)
        counts[cls] += 1
        assert kinds.is_replaceable(kind) is (cls is P)
        assert kinds.is_ephemeral(kind) is (cls is E)
        assert kinds.is_addressable(kind) is (cls is A)
    assert counts == {P: 10002, E: 10000, A: 10000, R: 65536 - 30002}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("METADATA", P),
        ("CONTACTS", P),
        ("TEXT_NOTE", R),
        ("DELETION", R),
        ("GIFT_WRAP", R),
        ("RELAY_LIST", P),
        ("DM_RELAY_LIST", P),
        ("CLIENT_AUTH", E),
        ("LONG_FORM", A),
        ("CLASSIFIED", A),
        ("COMMUNITY", A),
    ],
)
def test_named_kinds_are_in_the_right_range(name: str, expected: KindClass) -> None:
    assert kinds.classify(getattr(kinds, name)) is expected


def test_kind_class_values() -> None:
    assert {c.value for c in KindClass} == {"regular", "replaceable", "ephemeral", "addressable"}
