"""shared/untrusted.py: nothing a terminal acts on survives, ordinary text is untouched."""

from __future__ import annotations

import unicodedata

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shieldmutual.shared.untrusted import is_hidden, json_text, one_line, visible

# What strangers have sent: window title, screen wipe, cursor moves, 8-bit CSI, bidi.
HOSTILE = [
    ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    ("\x9b31m", "\\x9b31m"),
    ("\x7f\x00\r\t\x0b", "\\x7f\\x00\\x0d\\x09\\x0b"),
    ("exe\u202etxt", "exe\\u202etxt"),
    ("\u2066a\u2069\u200e\u200f\u061c", "\\u2066a\\u2069\\u200e\\u200f\\u061c"),
    ("a\u2028b\u2029c\x85", "a\\u2028b\\u2029c\\x85"),
    ("zero\u200bwidth\ufeff\u00ad", "zero\\u200bwidth\\ufeff\\xad"),
    ("tag\U000e0041", "tag\\U000e0041"),
    ("lone\ud800", "lone\\ud800"),
]


@pytest.mark.parametrize(("raw", "shown"), HOSTILE)
def test_hostile_characters_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert visible(raw) == shown


PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # needs its zero-width non-joiner
ORDINARY = ["plain", "[bold]x[/bold]", "naïve café ☕", "שלום", "👨\u200d👩\u200d👧", PERSIAN, ""]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert visible(text) == text


def test_multiline_keeps_newlines_and_nothing_else() -> None:
    assert visible("a\nb\r\n\x1b[1A", multiline=True) == "a\nb\\x0d\n\\x1b[1A"
    assert visible("a\nb") == "a\\x0ab"


def test_one_line_joins_lines_and_shows_escapes() -> None:
    assert one_line("rejected:\n  \x1b[2Jfake\u2028line") == "rejected: \\x1b[2Jfake line"


@given(st.text())
def test_nothing_hidden_survives(text: str) -> None:
    out = visible(text)
    assert not any(is_hidden(c) for c in out)
    assert all(c == "\n" or not is_hidden(c) for c in visible(text, multiline=True))


_JSON_TEXT = st.text(st.characters(exclude_categories=["Cs"]))  # JSON has no lone surrogates


@given(st.recursive(_JSON_TEXT | st.booleans() | st.none(), st.lists))
def test_json_text_is_the_same_value_without_hidden_characters(value: object) -> None:
    encoded = orjson.dumps(value).decode()
    safe = json_text(encoded)
    assert orjson.loads(safe) == value
    hidden = [c for c in safe if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    assert set(hidden) <= {"\u200c", "\u200d"}  # only the joiners writing needs


def test_json_text_escapes_del_c1_and_astral_format_characters() -> None:
    encoded = orjson.dumps(["\x7f\x9b\u202e\U000e0041"]).decode()
    assert json_text(encoded) == '["\\u007f\\u009b\\u202e\\udb40\\udc41"]'
