"""`mas export` in every format, against a real relay: the email parses back as RFC 5322
multipart/alternative, the HTML carries no markup from the story, JSON has the thread."""

from __future__ import annotations

import email
import email.policy
import stat
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from shieldmutual.shared.aid.comments import Pledge, RequestRef, pledge_template
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.helping import Payment
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.event import sign

REQUEST = AidRequest(
    title="Loyer après la descente",
    summary="Sam lost two weeks of work.",
    story="Sam was held <script>alert('x')</script> for **two days**.",
    location="Leeds, UK",
    amount=Decimal(400),
    currency="GBP",
    language="fr",
    societies=("leeds-care",),
    payments=(Payment("lightning", "sam@pay.example"),),
    identifier="rent",
)


@pytest.fixture
def published(relay_process: Any, push: Any, keys: Any) -> tuple[str, str]:
    relay = relay_process()
    event = sign(keys.alice, *request_event_template(REQUEST))
    pledge = Pledge(RequestRef.of(event, relay.url), Decimal(50), "GBP")
    push(relay.url, event, sign(keys.bob, *pledge_template(pledge)))
    return Address.of(event).naddr([relay.url]), relay.url


def test_email_is_an_rfc5322_multipart_message(mas: Any, published: Any) -> None:
    naddr, url = published
    done = mas("export", naddr, "--format", "email", "--to", "List <list@example.org>",
               "--from", "desk@society.example", "-r", url)  # fmt: skip
    assert done.code == 0, done.stderr
    message = email.message_from_string(done.stdout, policy=email.policy.default)
    assert message["Subject"] == "Loyer après la descente"
    assert message["To"].addresses[0].addr_spec == "list@example.org"
    assert message["From"].addresses[0].addr_spec == "desk@society.example"
    assert message["Date"] and message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Pledged: 50 GBP (12% of 400 GBP) in 1 pledge" in text and "nostr:naddr1" in text
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<strong>two days</strong>" in html


def test_other_formats(mas: Any, published: Any, tmp_path: Path) -> None:
    naddr, url = published
    markdown = mas("export", naddr, "-r", url)
    assert markdown.stdout.startswith("# Loyer après la descente\n")
    assert "## Progress" in markdown.stdout and f"nostr:{naddr}" in markdown.stdout
    text = mas("export", naddr, "-f", "text", "--no-progress", "-r", url).stdout
    assert "Pledged:" not in text and "\n**Sam lost" not in text
    assert text.startswith("Loyer après la descente\n=======================\n")
    page = mas("export", naddr, "-f", "html", "-r", url).stdout
    assert page.startswith("<!DOCTYPE html>") and '<html lang="fr">' in page
    data = orjson.loads(mas("export", naddr, "-f", "json", "-r", url).stdout)
    assert data["progress"]["pledged"] == {"GBP": "50"} and data["pledges"][0]["amount"] == "50"

    out = tmp_path / "request.html"
    saved = mas("export", naddr, "-f", "html", "-o", str(out), "-r", url)
    assert saved.code == 0 and saved.stdout == "" and out.read_text() == page
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    wrong = mas("export", naddr, "--to", "a@b.example", "-r", url)
    assert wrong.code == 2 and "--format email" in wrong.stderr
    bad = mas("export", naddr, "-f", "email", "--to", "a@b.example\nBcc: x@y.example", "-r", url)
    assert bad.code == 2 and bad.stderr.startswith("error: --to")


def test_json_export_carries_no_raw_bidi_or_markup_changes(
    mas: Any, relay_process: Any, push: Any, keys: Any
) -> None:
    """Issue 9: JSON is exact (the same story back) yet has no raw bidi character."""
    relay = relay_process()
    story = "Pay \u202egnp.exe [bold]now[/bold] <script>x</script>\u2066"
    event = sign(keys.alice, *request_event_template(replace(REQUEST, story=story)))
    push(relay.url, event)
    done = mas("export", Address.of(event).naddr([relay.url]), "-f", "json", "-r", relay.url)
    assert done.code == 0, done.stderr
    assert "\u202e" not in done.stdout and "\u2066" not in done.stdout
    assert "\\u202e" in done.stdout and orjson.loads(done.stdout)["story"] == story
