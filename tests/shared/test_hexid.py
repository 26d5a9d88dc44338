"""The one 64-hex check: exactly 64 lowercase hex characters, nothing around them."""

from __future__ import annotations

import pytest

from shieldmutual.shared.hexid import is_hex64


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
