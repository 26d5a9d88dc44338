"""Text a command reads from a person: an argument, stdin, a file, or $EDITOR.

Private text (a DM, a private note) is never taken from the command line, where `ps` and
the shell history would show it to others; a file that is not UTF-8 is bad input (exit 2).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from shieldmutual.shared.errors import InvalidError


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def argument_text(text: str | None, what: str) -> str:
    """Public words from the argument, else from stdin (never waiting on a terminal that
    nobody knows is being read), normalized and not empty."""
    if text is None:
        if stdin_is_terminal():
            raise InvalidError(f"give the {what} as an argument or on stdin")
        text = sys.stdin.read()
    return nonempty_text(text, what)


def nonempty_text(text: str, what: str) -> str:
    """``text`` with LF line ends and outer space off, refused when nothing is left of it."""
    from shieldmutual.shared.aid.common import normalize_text

    words = normalize_text(text)
    if not words:
        raise InvalidError(f"the {what} is empty")
    return words


def private_text(value: str | None, what: str) -> str:
    """Text that may be private (a DM, a private pledge's note, activation facts): ``-``
    reads it from stdin, or from $EDITOR when stdin is a terminal. Never from the command
    line, where `ps` and the shell history would show it to others."""
    if value is None:
        return ""
    if value != "-":
        raise InvalidError(
            f"{what} on the command line shows in `ps` and shell history: pass - and write it "
            "on stdin (or in $EDITOR)"
        )
    if not stdin_is_terminal():
        return sys.stdin.read()
    return _edit()


def _edit() -> str:
    """$VISUAL or $EDITOR (else vi) on an empty temporary file, 0600 and removed after:
    the text is on disk only while the editor has it open, as with `git commit`."""
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(prefix="mas-", suffix=".txt")
    os.close(fd)
    try:
        subprocess.run([*shlex.split(editor), name], check=True)
        return Path(name).read_text(encoding="utf-8")
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        raise InvalidError(f"the editor failed ({exc}); pipe the text on stdin instead") from None
    finally:
        os.unlink(name)


def read_source(path: Path) -> str:
    """Markdown (a report, a request file) from a file, or from stdin for ``-``; a file
    that cannot be read or is not UTF-8 is bad input (exit 2), like any bad argument."""
    where = "stdin" if str(path) == "-" else str(path)
    try:
        return sys.stdin.read() if where == "stdin" else path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidError(
            f"{where}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise InvalidError(f"{where}: {exc.strerror or exc}") from None
