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
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shieldmutual.shared import kinds, nip17, nip59
from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    RequestRef,
    confirmation_template,
    pledge_template,
)
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.helping import Payment
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.aid.society import Society, society_event_template
from shieldmutual.shared.aid.vouch import Vouch, vouch_template
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.untrusted import is_hidden, visible
from tests.client.conftest import PASSPHRASE
from tests.conftest import ESC_INFO, ESC_NOTICE

MAS = Path(sys.executable).parent / "mas"
COLUMNS = 320  # wide, so no table folds the texts the tests look for
# What Rich itself writes to a terminal: SGR styles, the spinner's cursor hide/show,
# erase-line and cursor-up; a pty turns every "\n" into "\r\n".
RICH_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[1A|\r")


def tty_run(
    env: dict[str, str], *args: str, pass_fds: tuple[int, ...] = (), timeout: float = 30.0
) -> tuple[int, str]:
    """Run ``mas`` with stdin, stdout and stderr on one pty; its exit code and raw output."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, COLUMNS, 0, 0))
    proc = subprocess.Popen(
        [str(MAS), *args], stdin=slave, stdout=slave, stderr=slave, env=env,
        pass_fds=pass_fds, start_new_session=True,
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


async def test_a_hostile_relay_url_is_refused_on_one_inert_line(tty_env: dict[str, str]) -> None:
    code, out = await mas_tty(tty_env, "relays", "add", "wss://relay.example/\x1b]0;pwned\x07")
    assert code == 2 and out.count("\n") == 1 and out.startswith("error: relay URL"), out
    assert_inert(out, "\\x1b]0;pwned\\x07")


# ---- what other people wrote: pledge notes, societies, DMs ---------------------------------

# Text the aid parsers accept (no C0/C1 controls in one-line fields), still hostile.
MARKUP = "[bold red]x[/]"
LINK_MARKUP = "[link=https://evil.example]click[/link]"
BIDI = "\u202egnp.exe"


@pytest.fixture
def aid_relay(relay_process: Any, push: Any, keys: Any) -> SimpleNamespace:
    """A relay holding a request whose title, story and pledge notes are hostile."""
    relay = relay_process()
    request = AidRequest(
        title=f"Rent {MARKUP} {BIDI}",
        summary=f"Sam {LINK_MARKUP}",
        story=f"Pay [the bank](https://evil.example) {MARKUP}\n\n{BIDI}",
        location="Leeds, UK",
        payments=(Payment("other", f"cash {MARKUP}"),),
        identifier="rent",
    )
    event = sign(keys.alice, *request_event_template(request))
    note = f"{MARKUP} {LINK_MARKUP} {BIDI}\tafter a tab :warning:"
    pledge = Pledge(RequestRef.of(event, relay.url), Decimal(5), "GBP", note=note)
    push(relay.url, event, sign(keys.bob, *pledge_template(pledge)))
    return SimpleNamespace(url=relay.url, naddr=Address.of(event).naddr([relay.url]))


def test_request_show_prints_hostile_pledge_notes_inertly(
    aid_relay: SimpleNamespace, tty_env: dict[str, str]
) -> None:
    code, out = tty_run(tty_env, "request", "show", aid_relay.naddr, "-r", aid_relay.url)
    assert code == 0, out
    assert_inert(out, MARKUP, LINK_MARKUP, visible(BIDI), "\\x09after a tab :warning:")
    assert "the bank (https://evil.example)" in RICH_OWN.sub("", out)


def test_society_show_prints_a_hostile_definition_inertly(
    relay_process: Any, push: Any, keys: Any, tty_env: dict[str, str]
) -> None:
    relay = relay_process()
    society = Society(
        slug="leeds",
        name=f"Leeds {MARKUP} {BIDI}",
        description=f"We meet {LINK_MARKUP}\n{BIDI} on Fridays",
        relays=("wss://relay.example",),
    )
    hostile_relay_tag = ["relay", "wss://relay.example/\x1b]0;pwned\x07\x1b[2J"]
    template = society_event_template(society)
    forged = sign(keys.bob, template.kind, template.content, [*template.tags, hostile_relay_tag])
    push(relay.url, sign(keys.alice, *template), forged)
    code, out = tty_run(tty_env, "society", "show", "mas-leeds", "-r", relay.url)
    assert code == 0, out
    assert_inert(out, MARKUP, LINK_MARKUP, visible(BIDI))
    assert "pwned" not in out  # a definition with such a relay URL does not parse at all


def test_whois_prints_a_hostile_public_history_inertly(
    relay_process: Any, push: Any, keys: Any, tty_env: dict[str, str]
) -> None:
    """Bob's history as strangers wrote it: his request's title, a vouch's reason, a
    confirmation of his help. What the aid parsers let through (markup, bidi) is shown
    inert; what they refuse (escapes, C1 controls) is dropped, never printed raw."""
    relay = relay_process()
    rent = AidRequest(
        title=f"Rent {MARKUP} {BIDI}", summary="Rent.", story="Rent.", location="Leeds, UK",
        identifier="rent",
    )  # fmt: skip
    ask = sign(keys.bob, *request_event_template(rent))
    escaped = request_event_template(replace(rent, identifier="escaped"))
    forged_tags = [["title", f"{ESC_NOTICE} \x9b2J"] if t[0] == "title" else t
                   for t in escaped.tags]  # fmt: skip
    food = sign(keys.alice, *request_event_template(replace(rent, title="Food", identifier="f")))
    ref = RequestRef.of(food, relay.url)
    helped = Confirmation(ref, Decimal(20), "GBP", helper=keys.bob.public_hex, note=MARKUP)
    bob_subject = keys.bob.public_hex
    push(
        relay.url,
        ask,
        sign(keys.bob, escaped.kind, escaped.content, forged_tags),
        food,
        sign(keys.alice, *confirmation_template(helped, helper_consents=True)),
        sign(keys.carol, *vouch_template(Vouch(bob_subject, f"{MARKUP}\n{LINK_MARKUP} {BIDI}"))),
        sign(
            keys.dave, kinds.LABEL, f"{ESC_NOTICE}\x9b2J", vouch_template(Vouch(bob_subject)).tags
        ),
    )
    code, out = tty_run(tty_env, "whois", keys.bob.public_hex, "-r", relay.url)
    assert code == 0, out
    assert_inert(out, f"Rent {MARKUP} {visible(BIDI)}", f"{LINK_MARKUP} {visible(BIDI)}", "20 GBP")
    plain = RICH_OWN.sub("", out)
    assert "requests made 1 " in " ".join(plain.split()) and "vouches 1 " in " ".join(plain.split())
    assert "pwned" not in out  # the escaped title and reason do not parse, so are not shown


def test_dm_read_prints_a_hostile_message_inertly(
    relay_process: Any,
    push: Any,
    keys: Any,
    person: Any,
    passphrase_fd: Any,
    tty_env: dict[str, str],
) -> None:
    relay = relay_process()
    bob = person("bob", keys.bob)
    message = f"{ESC_NOTICE}\nsecond line\r\x1b[1A\x1b[Kforged\x9b2J\x7f"
    rumor = nip17.dm_rumor(keys.alice.public_hex, [bob.pubkey], message, subject=MARKUP)
    push(relay.url, nip59.wrap(keys.alice, bob.pubkey, rumor))
    fd = passphrase_fd(PASSPHRASE)
    env = {**tty_env, "MAS_HOME": str(bob.home), "MAS_PASSPHRASE_FD": str(fd)}
    code, out = tty_run(env, "dm", "read", "-r", relay.url, pass_fds=(fd,))
    assert code == 0, out
    assert_inert(out, f"[{MARKUP}]", visible("\x1b]0;pwned\x07"), "\\x0d\\x1b[1A\\x1b[Kforged")
    assert "second line" in out and "\\x9b2J\\x7f" in out


async def test_req_shows_hostile_notice_and_closed_messages_inertly(
    hostile_relay: Any, tty_env: dict[str, str]
) -> None:
    async with hostile_relay(notice=ESC_NOTICE, closed=f"error: {ESC_NOTICE}") as relay:
        code, out = await mas_tty(tty_env, "-v", "req", "-k", "1", "-r", relay.url)
        assert relay.reqs, out
    assert code in (0, 3), out  # a CLOSED relay is not a crash
    assert_inert(out, f"NOTICE {visible(ESC_NOTICE)}", f"(error: {visible(ESC_NOTICE)})")


async def test_event_json_lines_carry_no_raw_escape_yet_the_same_event(
    hostile_relay: Any, tty_env: dict[str, str], keys: Any
) -> None:
    content = f"{ESC_NOTICE} \x9b2J \x7f \u2028 \U000e0041"
    event = sign(keys.alice, 1, content, [["t", "\u202ex"]])
    async with hostile_relay(stored=[event]) as relay:
        code, out = await mas_tty(tty_env, "req", "-k", "1", "-r", relay.url)
    assert code == 0, out
    assert_inert(out, "\\u001b]0;pwned\\u0007", "\\u009b2J", "\\u202e")
    line = next(x for x in RICH_OWN.sub("", out).splitlines() if x.startswith("{"))
    assert Event.from_json(line) == event
