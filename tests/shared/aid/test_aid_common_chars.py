"""The one-line/multi-line character rule is Unicode's Cc, Cs, Zl and Zp categories.

common.py answers it with one precompiled class (the per-character ``unicodedata`` loop
was the feed's costliest parse step); these tests pin that the class matches the category
rule on every code point, so a wrong range cannot slip in.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest

from shieldmutual.shared.aid.common import (
    LINE_BREAKING,
    TEXT_BREAKING,
    check_line,
    check_text,
)
from shieldmutual.shared.errors import AidError

_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_EVERY = "".join(map(chr, range(sys.maxunicode + 1)))


def _by_category(keep: str = "") -> list[str]:
    return [c for c in _EVERY if c not in keep and unicodedata.category(c) in _CATEGORIES]


def test_line_class_is_the_category_rule_on_every_code_point() -> None:
    assert LINE_BREAKING.findall(_EVERY) == _by_category()


def test_text_class_is_the_category_rule_less_newline_and_tab_on_every_code_point() -> None:
    assert TEXT_BREAKING.findall(_EVERY) == _by_category(keep="\n\t")


@pytest.mark.parametrize("char", ["\x00", "\x1f", "\x7f", "\x85", "\x9f", "\ud800", "\u2028"])
def test_check_line_rejects_a_breaking_character(char: str) -> None:
    with pytest.raises(AidError, match="one line"):
        check_line(f"a{char}b", "title")


@pytest.mark.parametrize("char", ["\r", "\x0b", "\x9f", "\udfff", "\u2029"])
def test_check_text_names_the_first_breaking_character(char: str) -> None:
    with pytest.raises(AidError, match=re.escape(f"control character {char!r}")):
        check_text(f"a\n\tb{char}c\x00", "body")


@pytest.mark.parametrize("text", ["x\u00a0y", "\u200b\u2027\u202a z", "\U0010fffd é"])
def test_neighbours_of_the_ranges_pass(text: str) -> None:
    assert check_line(text, "title") == text
    assert check_text(f"{text}\n\t{text}", "body") == f"{text}\n\t{text}"
