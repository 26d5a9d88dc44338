"""The one 64-hex check: exactly 64 lowercase hex characters, nothing around them."""

from __future__ import annotations

import pytest

from shieldmutual.shared.hexid import is_hex64, normalize


@pytest.mark.parametrize("value", ["0" * 64, "f" * 64, "0123456789abcdef" * 4])
def test_lowercase_hex_of_64_passes(value: str):
    assert is_hex64(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0" * 63,
        "0" * 65,
        "A" * 64,  # uppercase is another id to every index: refused, not lowered
        "g" + "0" * 63,
        "0" * 64 + "\n",
        " " + "0" * 63,
        "\u0660" * 64,  # digits of another script
    ],
)
def test_anything_else_fails(value: str):
    assert not is_hex64(value)


@pytest.mark.parametrize(
    ("typed", "wire"),
    [("AB" * 32, "ab" * 32), ("aB" * 32, "ab" * 32), ("0123456789abcdef" * 4,) * 2],
)
def test_what_a_person_types_is_normalized_to_lowercase(typed: str, wire: str) -> None:
    assert normalize(typed) == wire


@pytest.mark.parametrize("typed", ["A" * 63, "G" * 64, " " + "A" * 64, "\u212a" * 64, ""])
def test_what_is_not_64_hex_normalizes_to_none(typed: str) -> None:
    assert normalize(typed) is None
