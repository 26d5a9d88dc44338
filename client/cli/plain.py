"""Notes and simple tables written to a pipe or file without loading rich.

Importing rich's console costs a local command about as much as the rest of its start-up,
and where the output is not a terminal rich adds nothing: no colour, no width to fit (its
consoles are at least 160 columns wide there, cli/common.py). For what rich would lay
out trivially, these functions write the very same characters; anything else (a wide or
combining character, a line too long, a cell on several lines) returns None and goes to
rich as before. tests/client/test_cli_plain.py compares both on generated input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import IO, NamedTuple

# Narrower than any console rich makes for a pipe, so rich would never wrap or shrink.
MAX_WIDTH = 159
_BOX_HEAD, _BOX_RULE, _BOX_CROSS, _BOX_ROW = "┃", "━", "╇", "│"
# What rich's print may turn into an emoji (``:x:`` is ❌), as its own pattern finds it.
_EMOJI_CODE = re.compile(r":\S*?:")


class Column(NamedTuple):
    """A table column: its header, and how rich shows it on a terminal."""

    header: str
    style: str = ""
    overflow: str = "ellipsis"  # rich's default; "fold" for identifiers


def is_plain(stream: IO[str]) -> bool:
    """Whether rich would write to ``stream`` as plain text: no terminal (nor one forced by
    the variables rich honours) and UTF-8, so its box characters are the ones below."""
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        return False
    try:
        if stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "") == "utf8"


def _narrow(text: str) -> bool:
    """One terminal cell per character: ASCII and Latin-1 printables, common punctuation."""
    return all(" " <= c <= "~" or "\xa0" <= c <= "\xff" or "\u2010" <= c <= "\u2027" for c in text)


def note(text: str) -> str | None:
    """``text`` as rich prints it to a pipe (each line as it is), or None when rich would
    change it (wrap a long line, measure a wide character, replace an emoji code)."""
    if _EMOJI_CODE.search(text):
        return None
    if not all(_narrow(line) and len(line) <= MAX_WIDTH for line in text.split("\n")):
        return None
    return text + "\n"


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> str | None:
    """A rich ``Table(show_edge=False, pad_edge=False)`` as rich prints it to a pipe, or
    None when rich would lay it out differently."""
    cells = [[c.header for c in columns], *rows]
    if not rows or any(len(r) != len(columns) for r in rows):
        return None
    if not all(_narrow(cell) and cell == cell.strip() for row in cells for cell in row):
        return None
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    last = len(columns) - 1
    spans = [w + (i > 0) + (i < last) for i, w in enumerate(widths)]  # with the padding
    if sum(spans) + last > MAX_WIDTH or 0 in spans:  # rich gives an empty column one space
        return None

    def line(row: Sequence[str], bar: str) -> str:
        padded = (
            ("" if i == 0 else " ") + cell.ljust(widths[i]) + ("" if i == last else " ")
            for i, cell in enumerate(row)
        )
        return bar.join(padded)

    rule = _BOX_CROSS.join(_BOX_RULE * (w + (i > 0) + (i < last)) for i, w in enumerate(widths))
    body = [line(r, _BOX_ROW) for r in rows]
    return "\n".join([line(cells[0], _BOX_HEAD), rule, *body]) + "\n"
