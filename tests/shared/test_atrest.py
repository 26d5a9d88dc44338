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


def test_size_reveals_only_a_size_class():
    """A 4 KiB step per member told how many members a vault lists; size classes do not."""
    one, three = b"m" * 5_000, b"m" * 15_000  # about 1 and 3 members' packages
    assert len(atrest.seal(ALICE, "x", one)) == len(atrest.seal(ALICE, "x", three))
    assert len(atrest.seal(ALICE, "x", b"")) == len(atrest.seal(ALICE, "x", three))
    # Past the floor, powers of two: the order of magnitude shows, not the count.
    big = atrest.seal(ALICE, "x", b"m" * 70_000)
    assert len(big) - atrest.OVERHEAD == 128 * 1024
    assert len(atrest.seal(ALICE, "x", b"m" * 100_000)) == len(big)
    assert atrest.open_sealed(ALICE, "x", atrest.seal(ALICE, "x", b"")) == b""


@pytest.mark.parametrize(
    ("length", "floor", "size"),
    [(0, 16, 16), (16, 16, 16), (17, 16, 32), (1000, 16, 1024), (1025, 16, 2048), (5, 4096, 4096)],
)
def test_size_classes(length: int, floor: int, size: int):
    assert atrest.size_class(length, floor) == size


def test_home_key_files_are_bound_to_the_home_key_and_purpose():
    home, other = bytes(range(32)), bytes(32)
    blob = atrest.seal_home(home, "settings", b'{"relays": []}')
    assert atrest.open_home(home, "settings", blob) == b'{"relays": []}'
    for key, purpose in ((other, "settings"), (home, "follows")):
        with pytest.raises(CryptoError, match="does not open with this home key"):
            atrest.open_home(key, purpose, blob)
    assert atrest.derive(home, "a") != atrest.derive(home, "b")
