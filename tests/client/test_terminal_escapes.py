"""Issue 9: what strangers write reaches a real terminal only as inert, visible text.

Each test runs the real ``mas`` console script on a pseudo-terminal (``os.openpty``,
TERM=xterm, 320 columns) and reads the RAW BYTES it wrote to stdout and stderr. The
hostile text (DMs, pledge notes, society definitions, relay OK/CLOSED/NOTICE messages,
NIP-11 documents) is full of window-title, screen-wipe and cursor escapes, C1 controls,
bidi overrides and Rich markup. What must hold, for every byte `mas` wrote:

* no escape sequence but Rich's own styling and spinner (SGR colours, cursor show/hide,
  erase line), and no operating-system command (``ESC ]``: titles, OSC 8 links) at all;
* no C0/C1 control but the line breaks, no DEL, no bidi or other invisible format
  character;
* the hostile text is still there, shown as escapes (``\\x1b]0;pwned``), and markup from
  it is printed verbatim (``[bold red]x[/]``), never interpreted.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.shared.untrusted import is_hidden, visible
from tests.conftest import ESC_INFO, ESC_NOTICE

MAS = Path(sys.executable).parent / "mas"
COLUMNS = 320  # wide, so no table folds the texts the tests look for
# What Rich itself writes to a terminal: SGR styles, the spinner's cursor hide/show,
# erase-line and cursor-up; a pty turns every "\n" into "\r\n".
RICH_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[1A|\r")


def tty_run(env: dict[str, str], *args: str, timeout: float = 30.0) -> tuple[int, str]:
    """Run ``mas`` with stdin, stdout and stderr on one pty; its exit code and raw output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, COLUMNS, 0, 0))
    proc = subprocess.Popen(
        [str(MAS), *args], stdin=slave, stdout=slave, stderr=slave, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    raw = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"mas {args} still running; wrote {bytes(raw)!r}")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer of the pty has gone
                break
            if not chunk:
                break
            raw += chunk
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, raw.decode("utf-8")


def assert_inert(output: str, *shown: str) -> None:
    """No byte a terminal would act on, except Rich's own styling; ``shown`` are texts
    that must appear as they are (hostile text made visible, markup left literal)."""
    assert "\x1b]" not in output, f"an OSC sequence reached the terminal: {output!r}"
    rest = RICH_OWN.sub("", output)
    hidden = sorted({c for c in rest if c != "\n" and is_hidden(c)})
    assert not hidden, f"raw {hidden!r} reached the terminal: {output!r}"
    plain = RICH_OWN.sub("", output).replace("\n", "")
    for text in shown:
        assert text in plain, f"{text!r} is not shown as it is: {plain!r}"


@pytest.fixture
def tty_env(tmp_path: Path) -> dict[str, str]:
    drop = ("COLUMNS", "LINES", "NO_COLOR", "MAS_PASSPHRASE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(TERM="xterm", MAS_HOME=str(tmp_path / "mas-home"), MAS_SCRYPT_LOG_N="4")
    return env


async def mas_tty(env: dict[str, str], *args: str) -> tuple[int, str]:
    """:func:`tty_run` off the event loop, so an in-process relay keeps answering."""
    return await asyncio.to_thread(tty_run, env, *args)


# ---- relays: NIP-11, NOTICE, OK and CLOSED messages ---------------------------------------


async def test_relays_check_shows_a_hostile_nip11_document_inertly(
    hostile_relay: Any, tty_env: dict[str, str]
) -> None:
    async with hostile_relay(info=ESC_INFO, notice=ESC_NOTICE) as relay:
        code, out = await mas_tty(tty_env, "relays", "check", relay.url)
        assert relay.http_requests >= 1
    assert code == 0, out
    assert_inert(out, visible("relay \x1b]0;pwned\x07"), "[bold red]x[/]")


async def test_event_publish_shows_a_hostile_ok_message_inertly(
    hostile_relay: Any, tty_env: dict[str, str]
) -> None:
    async with hostile_relay(ok_false=f"blocked: {ESC_NOTICE}") as relay:
        code, out = await mas_tty(tty_env, "event", "--throwaway", "-c", "hi", "-r", relay.url)
        assert relay.events
    assert code == 3, out
    assert_inert(out, visible("\x1b]0;pwned\x07"), "[bold red]x[/]")
