"""NIP-40: the one reading of the ``expiration`` tag (policy and both stores use it)."""

from __future__ import annotations

import pytest

from shieldmutual.shared import nip40
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

ALICE = SecretKey(bytes([1]) * 32)


def note(*tags: list[str]) -> Event:
    return sign(ALICE, 1, "", [list(tag) for tag in tags])


def test_a_decimal_timestamp_is_read():
    assert nip40.expiration(note(["expiration", "123"])) == 123
    assert nip40.expiration(note(["expiration", "0"])) == 0


def test_no_tag_or_no_value_never_expires():
    assert nip40.expiration(note()) is None
    assert nip40.expiration(note(["expiration"])) is None
    assert nip40.expiration(note(["t", "expiration"])) is None


@pytest.mark.parametrize(
    "value",
    ["", "soon", "-5", "+5", " 5", "5 ", "5.0", "1e9", "0x10", "١٢", "5\n"],
)
def test_anything_but_plain_ascii_digits_is_ignored(value: str):
    assert nip40.expiration(note(["expiration", value])) is None


def test_past_the_64_bit_range_never_expires():
    assert nip40.expiration(note(["expiration", str(nip40.MAX_INT64)])) == nip40.MAX_INT64
    assert nip40.expiration(note(["expiration", str(nip40.MAX_INT64 + 1)])) is None
    assert nip40.expiration(note(["expiration", "9" * 19])) is None
    assert nip40.expiration(note(["expiration", "1" + "0" * 30])) is None


def test_the_first_of_several_tags_counts():
    assert nip40.expiration(note(["expiration", "100"], ["expiration", "200"])) == 100
    # An unreadable first tag is not skipped for a later one: the event never expires.
    assert nip40.expiration(note(["expiration", "soon"], ["expiration", "200"])) is None


def test_expired_from_the_timestamp_on():
    event = note(["expiration", "1000"])
    assert not nip40.is_expired(event, 999)
    assert nip40.is_expired(event, 1000)
    assert nip40.is_expired(event, 1001)
    assert not nip40.is_expired(note(), 10**12)
