"""cli/plain.py writes exactly the bytes rich would, or leaves the text to rich.

Notes skip rich's import when stderr is not a terminal, listings also at a terminal; a
script or a person must not see a single byte change. Each case is rendered both ways:
by cli/plain.py, and by rich: through the console cli/common.py makes for a pipe (at
least 160 columns wide, no colour), or on a terminal of each width and colour system.
"""

from __future__ import annotations

import io
import itertools
import os
import pty
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import rich.console
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from shieldmutual.client.cli import common, plain, render
from shieldmutual.client.config import Paths
from shieldmutual.shared.untrusted import visible

# Narrow letters and punctuation, plus what makes rich lay text out differently: wide
# (CJK, emoji) and combining characters, tabs, line breaks, markup-like brackets.
ALPHABET = st.sampled_from(
    [*"abcXYZ019 -_.,:;/[]*#@~", "é", "ß", "—", "…", "“", "字", "😀", "\u0301", "\t", "\n"]
)
CELL = st.text(ALPHABET, max_size=40)
# Mostly what fits a terminal in one cell per character, so most tables take the plain path.
NARROW_ALPHABET = st.sampled_from([*"abcXYZ019 -_.,:;/[]*#@~", "é", "—", "…", "\n"])
NARROW_CELL = st.text(NARROW_ALPHABET.filter(lambda c: c != "\n"), max_size=20)
# The column styles of the four listings, and one they do not use (left to rich).
STYLE = st.sampled_from(["", "", "bold", "dim"])
COLOR_SYSTEMS = ["standard", "256", "truecolor", None]  # None: TERM=dumb
OVERFLOWS = ["ellipsis", "fold"]


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
def test_a_piped_table_is_rich_s_text_or_left_to_rich(
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


def _rich_terminal(width: int, color_system: str | None, no_color: bool, print_: object) -> str:
    """What rich writes on a terminal ``width`` columns wide (escapes included)."""
    file = io.StringIO()
    console = Console(
        file=file, force_terminal=True, width=width, color_system=color_system,
        no_color=no_color, highlight=False,
    )  # fmt: skip
    console.print(print_)
    return file.getvalue()


@settings(max_examples=400, deadline=None)
@given(
    headers=st.lists(NARROW_CELL, min_size=1, max_size=5),
    data=st.data(),
    width=st.integers(1, 200),
    color_system=st.sampled_from(COLOR_SYSTEMS),
    no_color=st.booleans(),
)
def test_a_table_on_a_terminal_is_rich_s_bytes_or_left_to_rich(
    headers: list[str],
    data: st.DataObject,
    width: int,
    color_system: str | None,
    no_color: bool,
) -> None:
    columns = [
        plain.Column(h, style=data.draw(STYLE), overflow=data.draw(st.sampled_from(OVERFLOWS)))
        for h in headers
    ]
    cell = st.one_of(NARROW_CELL, NARROW_CELL, CELL)
    row = st.lists(cell, min_size=len(headers), max_size=len(headers))
    rows = data.draw(st.lists(row, min_size=1, max_size=4))
    look = plain.Look(width, styled=color_system is not None)
    written = plain.table(columns, rows, look)
    if written is not None:
        assert written == _rich_terminal(width, color_system, no_color, render.table(columns, rows))


IDENTITY_COLUMNS = [
    plain.Column(""),
    plain.Column("name", style="bold"),
    plain.Column("npub", overflow="fold"),
    plain.Column("created"),
    plain.Column(""),
]
IDENTITY_ROWS = [
    ["*", "alice", "npub1xtscya34g58tk0z605fvr788k263gsu6cy9x0mhnm87echrgufzsevkk5s",
     "2026-11-30", "sealed"],
    ["", "bob", "npub1xtscya34g58tk0z605fvr788k263gsu6cy9x0mhnm87echrgufzsevkk5s",
     "2026-11-29", ""],
]  # fmt: skip


@pytest.mark.parametrize("color_system", ["256", None])
@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
def test_the_identity_table_at_every_width_is_rich_s_bytes_or_left_to_rich(
    color_system: str | None, no_color: bool
) -> None:
    """From 1 column (rich folds and shrinks: left to it) to 200, the listing's own table
    is written without rich exactly when it fits, and then byte for byte as rich does."""
    styled = color_system is not None
    wide = _rich_terminal(1000, None, False, render.table(IDENTITY_COLUMNS, IDENTITY_ROWS))
    natural = len(wide.splitlines()[0])  # the table's width when nothing makes it shrink
    for width in range(1, 201):
        written = plain.table(IDENTITY_COLUMNS, IDENTITY_ROWS, plain.Look(width, styled))
        rich = _rich_terminal(
            width, color_system, no_color, render.table(IDENTITY_COLUMNS, IDENTITY_ROWS)
        )
        if width < natural:
            assert written is None, width
            assert max(len(line) for line in _strip_sgr(rich).splitlines()) <= width
        else:
            assert written == rich, width
    assert ("\x1b[1malice\x1b[0m" in rich) is styled  # the name column is bold


def _strip_sgr(text: str) -> str:
    return re.sub("\x1b\\[[0-9;]*m", "", text)


# Every value of the variables rich reads to size and style a terminal.
TERMINAL_ENV = {
    "TERM": [None, "xterm-256color", "xterm", "dumb", "UNKNOWN", "vt100-16color", ""],
    "COLORTERM": [None, "truecolor"],
    "NO_COLOR": [None, "1"],
    "COLUMNS": [None, "72", "0", "abc", "", "²"],
    "LINES": [None, "30"],
}


def test_a_terminal_is_sized_and_styled_as_rich_finds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """For each combination of TERM, COLORTERM, NO_COLOR, COLUMNS and LINES, cli/plain.py
    finds the width rich's own console finds, and styles exactly when rich has a colour
    system (or leaves the terminal to rich, for digits rich cannot read)."""
    leader, follower = pty.openpty()
    with open(follower, "w", encoding="utf-8") as terminal, open(leader, "rb"):
        for values in itertools.product(*TERMINAL_ENV.values()):
            for name, value in zip(TERMINAL_ENV, values, strict=True):
                if value is None:
                    monkeypatch.delenv(name, raising=False)
                else:
                    monkeypatch.setenv(name, value)
            look = plain.look(terminal)
            if "²" in values:
                assert look is None
                continue
            console = Console(file=terminal)
            assert look == plain.Look(console.width, console.color_system is not None), values


@settings(max_examples=300, deadline=None)
@given(text=st.text(ALPHABET, max_size=400), width=st.integers(160, 220))
def test_a_note_is_rich_s_text_or_left_to_rich(text: str, width: int) -> None:
    written = plain.note(text)
    if written is not None:
        expected = _rich(width, text, style="dim", markup=False, highlight=False)
        assert written == expected


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(st.text(ALPHABET, max_size=100), st.text(NARROW_ALPHABET, max_size=100)),
    width=st.integers(1, 120),
    color_system=st.sampled_from(COLOR_SYSTEMS),
    no_color=st.booleans(),
    style=st.sampled_from(["dim", "dim", "yellow"]),  # a note, a warning (left to rich)
)
def test_a_note_on_a_terminal_is_rich_s_bytes_or_left_to_rich(
    text: str, width: int, color_system: str | None, no_color: bool, style: str
) -> None:
    look = plain.Look(width, styled=color_system is not None)
    written = plain.note(text, look, style)
    if written is not None:
        file = io.StringIO()
        console = Console(
            file=file, force_terminal=True, width=width, color_system=color_system,
            no_color=no_color, highlight=False,
        )  # fmt: skip
        console.print(text, style=style, markup=False, highlight=False)
        assert written == file.getvalue()


def test_a_note_on_a_terminal_is_dim_line_by_line() -> None:
    styled = plain.Look(80, styled=True)
    assert plain.note("not following\n\nany", styled) == (
        "\x1b[2mnot following\x1b[0m\n\n\x1b[2many\x1b[0m\n"
    )
    assert plain.note("x" * 81, styled) is None  # rich would wrap it
    assert plain.note("careful", styled, "yellow") is None  # a colour: rich decides
    assert plain.note("careful", plain.Look(80, styled=False), "yellow") == "careful\n"


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


@pytest.fixture
def stdout_consoles(monkeypatch: pytest.MonkeyPatch) -> list[Console]:
    """Every rich Console made for stdout from now on (rich's class, recorded): a table
    written past rich makes none."""
    made: list[Console] = []

    class Recorded(Console):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if not self.stderr:
                made.append(self)

    monkeypatch.setattr(rich.console, "Console", Recorded)
    return made


def test_a_stranger_s_cell_reaches_the_terminal_through_the_text_door(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout_consoles: list[Console]
) -> None:
    """Issue 9's rule holds on the plain path: a listing's cells pass the same door as on
    rich's (State.print_table), so a title escape, a bidi override or markup written by a
    stranger arrive as visible, inert text; the only escapes are the bold ones."""
    hostile = "\x1b]0;pwned\x07 [bold red]x[/] \u202eevil\x9b2J"
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    leader, follower = pty.openpty()
    with open(follower, "w", encoding="utf-8") as terminal, open(leader, "rb", buffering=0):
        monkeypatch.setattr(sys, "stdout", terminal)
        state = common.State(Paths(tmp_path / "config.toml", tmp_path / "keys", tmp_path))
        columns = [plain.Column("name", style="bold"), plain.Column("npub", overflow="fold")]
        state.print_table(columns, [[hostile, "npub1x"]])
        assert stdout_consoles == []  # written on the plain path, not by rich
        shown = os.read(leader, 65536).decode().replace("\r", "")
    rows = [[visible(hostile), "npub1x"]]
    assert shown == _rich_terminal(200, "256", False, render.table(columns, rows))
    assert "\\x1b]0;pwned" in shown and "[bold red]x[/]" in shown and "\\u202e" in shown
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", _strip_sgr(shown))


def test_while_a_progress_line_is_shown_rich_prints_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout_consoles: list[Console]
) -> None:
    """On a terminal with rich's spinner running on stderr, a table written past rich would
    land on the spinner's line; rich prints it above the spinner instead."""
    monkeypatch.setenv("TERM", "xterm-256color")
    leader, follower = pty.openpty()
    with open(follower, "w", encoding="utf-8") as terminal, open(leader, "rb", buffering=0):
        monkeypatch.setattr(sys, "stdout", terminal)
        monkeypatch.setattr(sys, "stderr", terminal)
        state = common.State(Paths(tmp_path / "config.toml", tmp_path / "keys", tmp_path))
        with state.status("waiting"):
            state.print_table([plain.Column("relay")], [["wss://relay.example.org"]])
        assert stdout_consoles  # the table went through rich's console
