"""Notes and simple tables written without loading rich, byte for byte as rich writes them.

Importing rich's console and table costs a local command about as much as the rest of its
start-up, yet for what rich lays out trivially it adds nothing but a few escapes. These
functions write the very same characters: to a pipe (rich's consoles are at least 160
columns wide there, cli/common.py) or to a terminal (its width as rich reads it; bold and
dim as rich writes them, the only styles the listings and notes use). Anything else (a
wide or combining character, a line wider than the terminal, a cell on several lines, a
forced terminal, a colour) returns None and goes to rich as before.
tests/client/test_cli_plain.py compares both on generated input.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import IO, Literal, NamedTuple

# Narrower than any console rich makes for a pipe, so rich would never wrap or shrink.
MAX_WIDTH = 159
_BOX_HEAD, _BOX_RULE, _BOX_CROSS, _BOX_ROW = "┃", "━", "╇", "│"
# What rich's print may turn into an emoji (``:x:`` is ❌), as its own pattern finds it.
_EMOJI_CODE = re.compile(r":\S*?:")
# The SGR codes of the styles written here: attributes, which rich writes alike in every
# colour system and keeps under NO_COLOR (it strips colours only). Table headers are bold,
# notes dim; a table's columns are plain or bold.
_SGR = {"": "", "bold": "1", "dim": "2"}
_TABLE_STYLES = ("", "bold")


class Column(NamedTuple):
    """A table column: its header, and how rich shows it on a terminal."""

    header: str
    style: str = ""
    overflow: Literal["fold", "crop", "ellipsis", "ignore"] = "ellipsis"  # "fold": identifiers


class Look(NamedTuple):
    """How rich would write to a stream: the width it fits text in, whether it styles it."""

    width: int
    styled: bool


PIPE = Look(MAX_WIDTH, styled=False)


def _is_terminal(stream: IO[str]) -> bool | None:
    """Whether ``stream`` is a terminal, when rich decides that alone (nothing forced by the
    variables it honours, not Windows with its own console) and writes UTF-8, so its box
    characters are the ones above; else None."""
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ or sys.platform == "win32":
        return None
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        return None
    utf8 = (getattr(stream, "encoding", None) or "").lower().replace("-", "") == "utf8"
    return terminal if utf8 else None


def is_plain(stream: IO[str]) -> bool:
    """Whether rich would write to ``stream`` as plain text: a UTF-8 pipe or file."""
    return _is_terminal(stream) is False


def look(stream: IO[str]) -> Look | None:
    """How rich would write a table to ``stream``: a pipe as :data:`PIPE`; a terminal as
    wide as rich finds it, styled unless TERM names a dumb one (rich's colour system is
    then None); None where rich decides otherwise."""
    terminal = _is_terminal(stream)
    if terminal is None:
        return None
    if not terminal:
        return PIPE
    dumb = os.environ.get("TERM", "").lower() in ("dumb", "unknown")
    width = _terminal_width(dumb)
    return None if width is None else Look(width, styled=not dumb)


def _terminal_width(dumb: bool) -> int | None:
    """The width rich's console finds: COLUMNS, else the first of stdin, stdout and stderr
    that is a terminal, else 80; a dumb terminal is 80 wide unless COLUMNS and LINES both
    say otherwise (rich's ``Console.size``). None for digits ``int`` cannot read (``²``)."""
    columns, lines = os.environ.get("COLUMNS", ""), os.environ.get("LINES", "")
    if any(v.isdigit() and not v.isdecimal() for v in (columns, lines)):
        return None
    if columns.isdigit():
        return int(columns) if lines.isdigit() or not dumb else 80
    if dumb:
        return 80
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def _narrow(text: str) -> bool:
    """One terminal cell per character: ASCII and Latin-1 printables, common punctuation."""
    return all(" " <= c <= "~" or "\xa0" <= c <= "\xff" or "\u2010" <= c <= "\u2027" for c in text)


def note(text: str, look: Look = PIPE, style: str = "dim") -> str | None:
    """``text`` as rich prints it in ``style`` where it writes with ``look`` (each line as
    it is, styled on its own), or None when rich would change it (wrap a long line,
    measure a wide character, replace an emoji code) or style it otherwise (a colour)."""
    if _EMOJI_CODE.search(text) or (look.styled and style not in _SGR):
        return None
    lines = text.split("\n")
    if not all(_narrow(line) and len(line) <= look.width for line in lines):
        return None
    code = _SGR[style] if look.styled else ""
    return "\n".join(_sgr(line, code) for line in lines) + "\n"


def _sgr(text: str, code: str) -> str:
    """One of rich's segments: each is styled on its own, and an empty style adds nothing."""
    return f"\x1b[{code}m{text}\x1b[0m" if code and text else text


def table(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], look: Look = PIPE
) -> str | None:
    """A rich ``Table(show_edge=False, pad_edge=False)`` as rich prints it where it writes
    with ``look``, or None when rich would lay it out or style it differently."""
    cells = [[c.header for c in columns], *rows]
    if not rows or any(len(r) != len(columns) for r in rows):
        return None
    if look.styled and any(c.style not in _TABLE_STYLES for c in columns):
        return None
    if not all(_narrow(cell) and cell == cell.strip() for row in cells for cell in row):
        return None
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    last = len(columns) - 1
    spans = [w + (i > 0) + (i < last) for i, w in enumerate(widths)]  # with the padding
    if sum(spans) + last > look.width or 0 in spans:  # rich gives an empty column one space
        return None
    if look.styled and not any(widths):
        return None  # rich leaves a table of blank columns unstyled: its own rules

    def cell(i: int, text: str, code: str) -> str:
        """A cell as rich's segments: the left padding, the text filled to its column's
        width, the right padding (none at the table's outer edges); a blank column's
        cell is one segment."""
        if not widths[i]:
            return _sgr(" " * spans[i], code)
        left, right = " " if i > 0 else "", " " if i < last else ""
        return _sgr(left, code) + _sgr(text.ljust(widths[i]), code) + _sgr(right, code)

    def line(row: Sequence[str], bar: str, codes: Sequence[str]) -> str:
        return bar.join(cell(i, row[i], codes[i]) for i in range(len(columns)))

    head = ["1" if look.styled else ""] * len(columns)
    body = [_SGR[c.style] if look.styled else "" for c in columns]
    rule = _BOX_CROSS.join(_BOX_RULE * span for span in spans)
    lines = [line(cells[0], _BOX_HEAD, head), rule, *(line(r, _BOX_ROW, body) for r in rows)]
    return "\n".join(lines) + "\n"
