"""What a command writes: messages on stderr, results on stdout, and how they look.

The base of cli/common.State: everything here is about the two streams, nothing about
keys, relays or configuration. rich is loaded only when something needs it (a table on a
terminal, a spinner): a note to a pipe is written without it (cli/plain.py).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

import orjson

from shieldmutual.client.cli import plain
from shieldmutual.shared.untrusted import json_text, visible

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status


class Output:
    """stdout and stderr of one invocation; State supplies the fields as dataclass fields."""

    json: bool
    _out: Console | None
    _err: Console | None
    _spinner: Status | None  # the progress line on stderr, when one is shown

    @property
    def out(self) -> Console:
        if self._out is None:
            self._out = _console(stderr=False)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            self._err = _console(stderr=True)
        return self._err

    # -- messages on stderr --

    # Messages often quote a relay or an event, so they go through the text door too.

    def note(self, message: str) -> None:
        self._stderr(visible(message, multiline=True), "dim")

    def warn(self, message: str) -> None:
        self._stderr(visible(f"warning: {message}", multiline=True), "yellow")

    def _stderr(self, text: str, style: str) -> None:
        """One message on stderr, styled on a terminal: without rich when rich would write
        exactly that (cli/plain.py: no rich import for a note), else through rich."""
        look = plain.look(sys.stderr) if self._err is None else None
        written = None if look is None else plain.note(text, look, style)
        if written is None:
            self.err.print(text, style=style, markup=False, highlight=False)
        else:
            sys.stderr.write(written)
            sys.stderr.flush()

    def print_table(self, columns: Sequence[plain.Column], rows: Sequence[Sequence[str]]) -> None:
        """A table on stdout (cells are external text: shown through the text door); to a
        pipe or a terminal without rich when rich would write the same (cli/plain.py)."""
        rows = [[visible(cell) for cell in row] for row in rows]
        look = plain.look(sys.stdout)
        if look is not plain.PIPE and self._spinner is not None:
            look = None  # on a terminal, rich prints the table above its progress line
        written = None if look is None else plain.table(columns, rows, look)
        if written is None:
            from shieldmutual.client.cli import render

            self.out.print(render.table(columns, rows))
        else:
            self.emit_line(written.removesuffix("\n"))

    def status(self, message: str) -> contextlib.AbstractContextManager[Any]:
        """A spinner on stderr while waiting, only when a person is watching."""
        if not self.json and not plain.is_plain(sys.stderr) and self.err.is_terminal:
            self._spinner = self.err.status(message)
            return self._spinner
        return contextlib.nullcontext()

    # -- stdout --

    def emit_json(self, value: Any) -> None:
        """One JSON line on stdout, flushed at once so pipes see it as it arrives."""
        self.emit_encoded(orjson.dumps(value))

    def emit_encoded(self, encoded: bytes) -> None:
        """Encoded JSON (an event's ``to_json()``) as one line, with C1, DEL and bidi
        characters as ``\\u`` escapes: the same JSON value, but safe on a terminal."""
        self.emit_line(json_text(encoded.decode()))

    def emit_text(self, text: str) -> None:
        """Text meant for files and pipes (a request file, an export) as it is; on a
        terminal, through the text door, since a stranger wrote part of it."""
        if self.out_is_terminal:
            text = visible(text, multiline=True)
        stream = _stdout()
        stream.write(text)
        stream.flush()

    def emit_line(self, text: str) -> None:
        stream = _stdout()
        stream.write(text + "\n")
        stream.flush()

    @property
    def out_is_terminal(self) -> bool:
        """What rich calls a terminal (for ``stdout``), asked without loading rich."""
        return not plain.is_plain(sys.stdout) and self.out.is_terminal


def _stdout() -> IO[str]:
    """stdout itself, also while a spinner is shown: rich's live display then swaps in a
    proxy that would print through the stderr console, wrapping long JSON lines."""
    return getattr(sys.stdout, "rich_proxied_file", sys.stdout)


def _console(stderr: bool) -> Console:
    """A console that does not wrap tables at 80 columns when writing to a file or pipe."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=max(console.width, 160))
    return console
