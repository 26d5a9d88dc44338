"""Issue 9: `mas export --format email` delivers to exactly the intended recipients.

A real SMTP server (aiosmtpd) on 127.0.0.1 receives the export submitted the way
``sendmail -t`` does it: recipients taken from the message's own To/Cc/Bcc headers
(``smtplib.SMTP.send_message``). For every hostile title (RFC 2047 encoded-words that
decode to CR/LF, raw line breaks, NUL, Unicode line separators, very long titles) the
server must see only ``list@example.org``, and the message only the headers we wrote.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import smtplib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.export import email_message
from shieldmutual.shared.aid.helping import Payment
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.event import sign

TO, FROM = "list@example.org", "desk@society.example"
EVIL = "evil@attacker.example"
HEADERS = ["Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type"]
REQUEST = AidRequest(
    title="Rent after the raid",
    summary="Sam lost two weeks of work.",
    story="Sam was held for two days.\n.\nBcc: " + EVIL + "\n\n.",
    location="Leeds, UK",
    payments=(Payment("lightning", "sam@pay.example"),),
    identifier="rent",
)


def _b(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


INJECTED = f"Bcc: {EVIL}"  # what each title tries to smuggle in, shown as plain words
# Titles a relay can hand us: the request parser allows them (printable ASCII).
ENCODED_TITLES = {
    "encoded-word CRLF (q)": (f"=?utf-8?q?=0D=0ABcc:_{EVIL}?=", INJECTED),
    "encoded-word CRLF (b)": (_b(f"\r\nBcc: {EVIL}"), INJECTED),
    "encoded-word bare LF": (f"Rent =?utf-8?q?=0ACc:_{EVIL}?=", f"Rent Cc: {EVIL}"),
    "encoded-word with a language": (f"=?utf-8*en?q?=0D=0ABcc:_{EVIL}?=", INJECTED),
    "encoded-word in an encoded-word": (_b(f"=?utf-8?q?=0D=0ABcc:_{EVIL}?="), INJECTED),
    "encoded NUL and CRLF": (f"Rent=?utf-8?q?=00=0D=0ABcc:_{EVIL}?=", f"Rent {INJECTED}"),
    "encoded line separator": (f"=?utf-8?q?=E2=80=A8Bcc:_{EVIL}?=", INJECTED),
    "long title, injection at the end": (
        "Loyer après " * 20 + f"=?utf-8?q?=0D=0ABcc:_{EVIL}?=",
        f"Loyer après {INJECTED}",
    ),
    "long non-ASCII title": ("Миграционный залог " * 14, "Миграционный залог Миграционный"),
}
# Titles the parser refuses today; the email must be safe even if one ever got through.
RAW_TITLES = {
    "raw CRLF": f"Rent\r\nBcc: {EVIL}",
    "bare LF": f"Rent\nBcc: {EVIL}",
    "bare CR": f"Rent\rBcc: {EVIL}",
    "NUL": f"Rent\x00\r\nBcc: {EVIL}",
    "line separator": f"Rent\u2028Bcc: {EVIL}",
    "paragraph separator and NEL": f"Rent\u2029\x85Bcc: {EVIL}",
}


@dataclass
class Inbox:
    """What the SMTP server accepted: (MAIL FROM, RCPT TOs, DATA) per message."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 OK"


@pytest.fixture
async def smtp_server() -> AsyncIterator[Inbox]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="test"), inbox.host, 0)
    inbox.port = server.sockets[0].getsockname()[1]
    yield inbox
    server.close()
    await server.wait_closed()


def sendmail_t(inbox: Inbox, exported: str) -> None:
    """Submit like ``sendmail -t``: recipients from the message's To/Cc/Bcc headers."""
    message = email.message_from_string(exported, policy=email.policy.default)
    with smtplib.SMTP(inbox.host, inbox.port, timeout=10) as client:
        client.send_message(message)


async def deliver(inbox: Inbox, exported: str) -> tuple[str, list[str], bytes]:
    await asyncio.to_thread(sendmail_t, inbox, exported)
    assert len(inbox.received) == 1
    return inbox.received[0]


def assert_only_intended(received: tuple[str, list[str], bytes], title_words: str) -> None:
    mail_from, rcpt_tos, content = received
    assert (mail_from, rcpt_tos) == (FROM, [TO])
    delivered = email.message_from_bytes(content, policy=email.policy.default)
    assert sorted(delivered.keys()) == sorted(HEADERS)
    subject = str(delivered["Subject"])
    assert subject.isprintable() and "=?" not in subject
    assert title_words in subject


def exported_email(title: str) -> str:
    """What ``mas export -f email`` writes for a request with this title."""
    request = replace(REQUEST, title="placeholder")
    object.__setattr__(request, "title", title)  # skips the parser's checks, as a bug would
    message = email_message(request, link="nostr:naddr1x", to=f"List <{TO}>", sender=FROM)
    return message.as_string()


@pytest.mark.parametrize(
    ("title", "shown"), list(ENCODED_TITLES.values()), ids=list(ENCODED_TITLES)
)
async def test_an_encoded_word_title_reaches_only_the_list(
    smtp_server: Inbox, title: str, shown: str
) -> None:
    assert_only_intended(await deliver(smtp_server, exported_email(title)), shown)


@pytest.mark.parametrize("title", list(RAW_TITLES.values()), ids=list(RAW_TITLES))
async def test_a_raw_line_break_title_reaches_only_the_list(smtp_server: Inbox, title: str) -> None:
    assert_only_intended(await deliver(smtp_server, exported_email(title)), f"Rent {INJECTED}")


def test_the_body_is_safe_for_sendmail_dash_t_and_dash_i() -> None:
    """No body line is a lone '.', has a bare CR, or could be read as a header."""
    raw = exported_email("Rent").encode()
    body = raw.partition(b"\n\n")[2]
    assert b"\r" not in raw
    lines = body.split(b"\n")
    assert b"." not in lines and not any(line.startswith(b"Bcc:") for line in lines)
    assert EVIL.encode() not in body  # the story's "Bcc:" line is inside base64


async def test_mas_export_email_from_a_relay_reaches_only_the_list(
    mas: Any, relay_process: Any, push: Any, keys: Any, smtp_server: Inbox
) -> None:
    relay = relay_process()
    hostile = replace(REQUEST, title=ENCODED_TITLES["encoded-word CRLF (q)"][0])
    event = sign(keys.alice, *request_event_template(hostile))
    await asyncio.to_thread(push, relay.url, event)
    naddr = Address.of(event).naddr([relay.url])
    done = await asyncio.to_thread(
        mas, "export", naddr, "-f", "email", "--to", f"List <{TO}>", "--from", FROM,
        "-r", relay.url,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert_only_intended(await deliver(smtp_server, done.stdout), INJECTED)
