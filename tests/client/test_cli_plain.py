"""cli/plain.py writes to a pipe exactly what rich would, or leaves the text to rich.

Listings and notes skip rich's import when stdout or stderr is not a terminal; a script
reading them must not see a single character change. Each case is rendered both ways:
by cli/plain.py, and by rich through the console cli/common.py makes for a pipe (at
least 160 columns wide, no colour).
"""

from __future__ import annotations

import io
import os
import pty

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from shieldmutual.client.cli import plain, render

# Narrow letters and punctuation, plus what makes rich lay text out differently: wide
# (CJK, emoji) and combining characters, tabs, line breaks, markup-like brackets.
ALPHABET = st.sampled_from(
    [*"abcXYZ019 -_.,:;/[]*#@~", "é", "ß", "—", "…", "“", "字", "😀", "\u0301", "\t", "\n"]
)
CELL = st.text(ALPHABET, max_size=40)


def _rich(width: int, print_: object, **kwargs: object) -> str:
    file = io.StringIO()
    console = Console(file=file, highlight=False, width=width, force_terminal=False)
    console.print(print_, **kwargs)  # type: ignore[arg-type]
    return file.getvalue()


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(st.text(ALPHABET, max_size=12), min_size=1, max_size=5),
    data=st.data(),
    width=st.integers(160, 220),
)
def test_a_table_is_rich_s_text_or_left_to_rich(
    headers: list[str], data: st.DataObject, width: int
) -> None:
    columns = [plain.Column(h, style="bold", overflow="fold") for h in headers]
    rows = data.draw(st.lists(st.lists(CELL, min_size=len(headers), max_size=len(headers))))
    written = plain.table(columns, rows)
    if written is not None:
        assert written == _rich(width, render.table(columns, rows))


def test_the_listings_tables_are_written_without_rich() -> None:
    """The common case, an identity listing, takes the plain path (and matches rich)."""
    columns = [plain.Column(""), plain.Column("name", style="bold"), plain.Column("npub")]
    rows = [["*", "alice", "npub1xtscya34g58tk0z605fvr788k263gsu6cy9x0mhnm87echrgufzsevkk5s"]]
    written = plain.table(columns, rows)
    assert written is not None
    assert written == _rich(160, render.table(columns, rows))


@settings(max_examples=300, deadline=None)
@given(text=st.text(ALPHABET, max_size=400), width=st.integers(160, 220))
def test_a_note_is_rich_s_text_or_left_to_rich(text: str, width: int) -> None:
    written = plain.note(text)
    if written is not None:
        expected = _rich(width, text, style="dim", markup=False, highlight=False)
        assert written == expected


def test_long_lines_and_wide_characters_go_to_rich() -> None:
    assert plain.note("x" * 200) is None
    assert plain.note("字") is None
    assert plain.note(":x: means no") is None  # rich prints ❌ means no
    assert plain.note("all fine: mas-leeds…") == "all fine: mas-leeds…\n"
    assert plain.table([plain.Column("a")], [["x" * 200]]) is None
    assert plain.table([plain.Column("a")], [["line\nbreak"]]) is None


def test_only_a_utf8_pipe_without_forced_colour_is_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    with open(write, "w", encoding="utf-8") as pipe, open(read, encoding="utf-8"):
        assert plain.is_plain(pipe)
        for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
            monkeypatch.setenv(name, "1")
            assert not plain.is_plain(pipe)  # rich would treat it as a terminal
            monkeypatch.delenv(name)
    read, write = os.pipe()
    with open(write, "w", encoding="latin-1") as pipe, open(read, encoding="latin-1"):
        assert not plain.is_plain(pipe)  # rich would draw the boxes in ASCII
    leader, follower = pty.openpty()
    with open(follower, "w", encoding="utf-8") as terminal, open(leader, "rb"):
        assert not plain.is_plain(terminal)
