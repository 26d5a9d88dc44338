"""Sealed local files: only the same identity and purpose open them; sizes are bucketed."""

from __future__ import annotations

import pytest

from shieldmutual.shared import atrest
from shieldmutual.shared.errors import CryptoError
from shieldmutual.shared.keys import SecretKey

ALICE, BOB = SecretKey(b"\x01" * 32), SecretKey(b"\x02" * 32)


def test_round_trip_and_binding():
    data = b'{"champions": ["ab"]}'
    blob = atrest.seal(ALICE, "champions", data)
    assert atrest.open_sealed(ALICE, "champions", blob) == data
    assert b"champions" not in blob and data not in blob
    assert atrest.seal(ALICE, "champions", data) != blob  # fresh nonce each time
    with pytest.raises(CryptoError):
        atrest.open_sealed(BOB, "champions", blob)
    with pytest.raises(CryptoError):
        atrest.open_sealed(ALICE, "something else", blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(CryptoError):
        atrest.open_sealed(ALICE, "champions", tampered)
    with pytest.raises(CryptoError, match="not a sealed"):
        atrest.open_sealed(ALICE, "champions", b"plain text")


def test_size_reveals_only_a_bucket():
    small = atrest.seal(ALICE, "x", b"a")
    larger = atrest.seal(ALICE, "x", b"a" * 3000)
    assert len(small) == len(larger)
    assert len(atrest.seal(ALICE, "x", b"a" * 5000)) == len(small) + atrest.BLOCK
    assert atrest.open_sealed(ALICE, "x", atrest.seal(ALICE, "x", b"")) == b""
