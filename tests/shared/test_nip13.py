"""NIP-13: difficulty is leading zero bits of the id; a nonce tag's third item is its target."""

from __future__ import annotations

import pytest

from shieldmutual.shared import nip13
from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey

ALICE = SecretKey(bytes([1]) * 32)


@pytest.mark.parametrize(
    ("event_id", "bits"),
    [
        # The NIP's own examples.
        ("000000000e9d97a1ab09fc381030b346cdd7a142ad57e6df0b46dc9bef6c7e2d", 36),
        ("002f" + "f" * 60, 10),
        ("000006d8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd358", 21),
        ("f" + "0" * 63, 0),
        ("7" + "f" * 63, 1),
        ("000f" + "0" * 60, 12),
        ("0" * 63 + "1", 255),
        ("0" * 64, 256),
    ],
)
def test_difficulty_counts_leading_zero_bits(event_id: str, bits: int):
    assert nip13.difficulty(event_id) == bits


def test_the_first_nonce_tag_with_a_target_commits():
    tags = [["nonce", "1"], ["nonce", "776797", "20"], ["nonce", "2", "30"]]
    assert nip13.committed_target(sign(ALICE, 1, "", tags)) == "20"
    assert nip13.committed_target(sign(ALICE, 1, "", [["nonce", "1"]])) is None
    assert nip13.committed_target(sign(ALICE, 1, "", [["t", "nonce", "20"]])) is None


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        ("20", 20),
        ("0", 0),
        ("020", 20),
        ("256", 256),
        ("257", 256),
        ("9" * 5000, 256),  # past int()'s 4,300-digit limit
        ("0" * 5000 + "7", 7),
        ("", None),
        ("-1", None),
        ("+20", None),
        (" 20", None),
        ("20\n", None),
        ("2.0", None),
        ("١٢", None),  # digits of another script
    ],
)
def test_target_bits(text: str, bits: int | None):
    assert nip13.target_bits(text) == bits
