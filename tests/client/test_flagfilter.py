"""client/flagfilter.py: a tag flag's key is one NIP-01 tag letter (a-z, A-Z), the same
rule the filter parser and the relay's indexes use (shared/filter.TAG_LETTERS)."""

from __future__ import annotations

import pytest

from shieldmutual.client.flagfilter import build_filter
from shieldmutual.shared.errors import InvalidError


@pytest.mark.parametrize("key", ["é", "ß", "Ж", "字"])
def test_a_non_ascii_letter_is_refused_as_a_tag_key(key: str) -> None:
    """Finding: the flag check took any Unicode letter (``str.isalpha``), so ``é=x`` got
    past it and failed later as "unknown filter field '#é'" instead of the flag's own
    message naming what a tag key must be."""
    with pytest.raises(InvalidError, match="the key must be one letter"):
        build_filter(tags=[f"{key}=x"])


@pytest.mark.parametrize("key", ["t", "T", "z"])
def test_an_ascii_letter_is_a_tag_key(key: str) -> None:
    assert build_filter(tags=[f"{key}=x"]).tags == {key: frozenset({"x"})}
