"""shared/negentropy.py: the protocol's own vectors, reconciliation properties, hostile input.

Vectors are copied from hoytech/negentropy's Kotlin tests (varints, timestamp and bound
encoding, fingerprints, the initial message of a three-item set, the reply to an
unknown version). Properties: any two sets reconcile to exactly their symmetric
difference, with and without a frame size limit, every message within the limit.
Hostile input: whatever bytes arrive, the only exception is NegentropyError.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.negentropy import (
    MIN_FRAME_SIZE_LIMIT,
    PROTOCOL_VERSION,
    Negentropy,
    NegentropyError,
    Storage,
    encode_varint,
)

# hoytech/negentropy kotlin/src/test/.../FingerprintTest.kt and NegentropyBasicTest.kt
VECTOR_ITEMS = [
    (1678011277, bytes.fromhex("eb6b05c2e3b008592ac666594d78ed83e7b9ab30f825b9b08878128f7500008c")),
    (1678011278, bytes.fromhex("39b916432333e069a4386917609215cc688eb99f06fed01aadc29b1b4b92d6f0")),
    (1678011279, bytes.fromhex("abc81d58ebe3b9a87100d47f58bf15e9b1cbf62d38623f11d0f0d17179f5f3ba")),
]


@pytest.mark.parametrize(
    "n, encoded",
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8100"),
        (255, "817f"),
        (256, "8200"),
        (65535, "83ff7f"),
        (65536, "848000"),
        (65537, "848001"),
    ],
)
def test_varints_match_the_reference(n: int, encoded: str) -> None:
    assert encode_varint(n).hex() == encoded


def test_fingerprints_match_the_reference() -> None:
    storage = Storage(VECTOR_ITEMS)
    assert storage.fingerprint(0, 1).hex() == "6d74e1212fcafc8a81d090f0ffbde8b0"
    assert storage.fingerprint(0, 2).hex() == "96b26d110825d4b1805fc56988a3e65d"
    assert storage.fingerprint(0, 3).hex() == "c15ce60f185fd24ae341076caa93daa5"
    assert Storage(VECTOR_ITEMS[:2]).fingerprint(0, 2).hex() == "96b26d110825d4b1805fc56988a3e65d"


def test_initial_message_matches_the_reference() -> None:
    """Version, infinity bound (timestamp 0, no prefix), IdList of the three ids."""
    expected = "6100000203" + "".join(id_.hex() for _, id_ in VECTOR_ITEMS)
    assert Negentropy(Storage(VECTOR_ITEMS)).initiate().hex() == expected


def test_an_unknown_version_is_answered_with_ours_alone() -> None:
    assert Negentropy(Storage(VECTOR_ITEMS)).reconcile(bytes.fromhex("62aabbccddeeff")) == b"\x61"
    initiator = Negentropy(Storage(VECTOR_ITEMS))
    initiator.initiate()
    with pytest.raises(NegentropyError, match="unsupported"):
        initiator.reconcile_initiator(b"\x62")


def test_bounds_are_delta_encoded_with_the_shortest_prefix() -> None:
    """A split of 40 items at one timestamp: the first bound's timestamp is the
    reference's encodeTimestampOut(1678011277) vector, the next is a zero delta (01);
    prefixes are one byte, since neighbours differ in their first byte."""
    ids = sorted(bytes([i]) + bytes(31) for i in range(40))
    message = Negentropy(Storage((1678011277, i) for i in ids)).initiate()
    assert message[0] == PROTOCOL_VERSION
    # 40 items in 16 buckets: eight of 3, then eight of 2; bucket one ends before id 03.
    assert message[1:9].hex() == "86a091d70e" + "01" + "03" + "01"
    assert message[9:25] == Storage((1678011277, i) for i in ids).fingerprint(0, 3)
    assert message[25:29].hex() == "01" + "01" + "06" + "01"


def reconcile(
    ours: list[tuple[int, bytes]], theirs: list[tuple[int, bytes]], limit: int = 0
) -> tuple[set[bytes], set[bytes], int]:
    initiator = Negentropy(Storage(ours), limit)
    responder = Negentropy(Storage(theirs), limit)
    message: bytes | None = initiator.initiate()
    have: set[bytes] = set()
    need: set[bytes] = set()
    rounds = 0
    while message is not None:
        assert not limit or len(message) <= limit
        reply = responder.reconcile(message)
        assert not limit or len(reply) <= limit
        step = initiator.reconcile_initiator(reply)
        have.update(step.have)
        need.update(step.need)
        message = step.next
        rounds += 1
    return have, need, rounds


# An id fixes its timestamp (as an event id fixes created_at); few timestamps, so many
# bounds need an id prefix.
ITEM = st.binary(min_size=32, max_size=32).map(lambda id_: (id_[-1] % 8, id_))


@settings(max_examples=150, deadline=None)
@given(
    common=st.lists(ITEM, max_size=150),
    mine=st.lists(ITEM, max_size=80),
    theirs=st.lists(ITEM, max_size=80),
    limit=st.sampled_from([0, MIN_FRAME_SIZE_LIMIT]),
)
def test_two_sets_reconcile_to_exactly_their_symmetric_difference(
    common: list[tuple[int, bytes]],
    mine: list[tuple[int, bytes]],
    theirs: list[tuple[int, bytes]],
    limit: int,
) -> None:
    ours, others = set(common) | set(mine), set(common) | set(theirs)
    have, need, _ = reconcile(list(ours), list(others), limit)
    assert have == {i for _, i in ours - others}
    assert need == {i for _, i in others - ours}


@pytest.mark.parametrize("limit, most", [(0, 4), (60_000, 4), (MIN_FRAME_SIZE_LIMIT, 10)])
def test_large_sets_with_few_differences_take_few_rounds(limit: int, most: int) -> None:
    rng = random.Random(limit)
    common = [(rng.randrange(10**6), os.urandom(32)) for _ in range(20_000)]
    mine = [(rng.randrange(10**6), os.urandom(32)) for _ in range(20)]
    theirs = [(rng.randrange(10**6), os.urandom(32)) for _ in range(20)]
    have, need, rounds = reconcile(common + mine, common + theirs, limit)
    assert have == {i for _, i in mine} and need == {i for _, i in theirs}
    assert rounds <= most


def test_a_frame_size_limit_spreads_many_differences_over_rounds() -> None:
    theirs = [(i, os.urandom(32)) for i in range(3000)]
    have, need, rounds = reconcile([], theirs, MIN_FRAME_SIZE_LIMIT)
    assert need == {i for _, i in theirs} and not have and rounds > 10


def test_the_limit_is_refused_below_the_reference_minimum() -> None:
    with pytest.raises(ValueError):
        Negentropy(Storage([]), MIN_FRAME_SIZE_LIMIT - 1)


def test_items_are_checked() -> None:
    with pytest.raises(ValueError):
        Storage([(1, b"short")])
    with pytest.raises(ValueError):
        Storage([(2**64 - 1, bytes(32))])


def test_roles_are_not_mixed() -> None:
    initiator = Negentropy(Storage([]))
    initiator.initiate()
    with pytest.raises(NegentropyError):
        initiator.reconcile(b"\x61")
    with pytest.raises(NegentropyError):
        initiator.initiate()
    with pytest.raises(NegentropyError):
        Negentropy(Storage([])).reconcile_initiator(b"\x61")


INFINITY = b"\x00\x00"
HOSTILE = [
    b"",
    b"\x10",
    b"\x61\x80",
    b"\x61" + b"\xff" * 11 + b"\x01",
    b"\x61\x00\x21" + bytes(34),
    b"\x61" + INFINITY + b"\x03",
    b"\x61" + INFINITY + b"\x01" + bytes(15),
    b"\x61" + INFINITY + b"\x02" + encode_varint(2**60),
    b"\x61" + INFINITY + b"\x02\x02" + bytes(40),
    b"\x61\x06\x01\x80\x00\x01\x01\x10\x00",
    b"\x61" + encode_varint(2**64 - 1) + b"\x00\x00\x05\x00\x00",
]


@pytest.mark.parametrize("message", HOSTILE, ids=lambda m: m[:12].hex() or "empty")
def test_hostile_messages_raise_negentropy_error(message: bytes) -> None:
    with pytest.raises(NegentropyError) as caught:
        Negentropy(Storage(VECTOR_ITEMS)).reconcile(message)
    assert isinstance(caught.value, InvalidError)
    assert caught.value.wire().startswith("invalid: ")


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300), initiator=st.booleans())
def test_any_bytes_either_answer_or_raise_negentropy_error(data: bytes, initiator: bool) -> None:
    """Fuzz: random bytes after a valid version byte never raise anything else."""
    side = Negentropy(Storage(VECTOR_ITEMS + [(i, bytes([i]) * 32) for i in range(40)]))
    message = b"\x61" + data
    try:
        if initiator:
            side.initiate()
            side.reconcile_initiator(message)
        else:
            side.reconcile(message)
    except NegentropyError:
        pass
