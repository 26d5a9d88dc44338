"""Export formats: JSON dicts, plain text, HTML that cannot carry script, and email."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from shieldmutual.shared.aid.comments import Progress
from shieldmutual.shared.aid.export import (
    email_message,
    progress_dict,
    render_html,
    render_text,
    request_dict,
)
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.errors import AidError

HOSTILE = (
    "We need help <script>alert(1)</script>.\n\n"
    '[click](javascript:alert(1)) <img src="https://track.example/p.gif"> '
    "![pixel](https://track.example/q.gif) [lawyer](https://lawyer.example)"
)


def test_request_dict_is_json_with_exact_amounts(request_obj: AidRequest) -> None:
    data = request_dict(replace(request_obj, amount=Decimal("12.50")), "naddr1x")
    assert orjson.loads(orjson.dumps(data))["amount"] == "12.50"
    assert data["naddr"] == "naddr1x" and data["societies"] == ["leeds-care"]
    assert data["actions"][0]["type"] == "call" and data["payments"][0]["method"] == "lightning"
    progress = Progress(1, {"GBP": Decimal("50")}, 0, {})
    assert progress_dict(progress)["pledged"] == {"GBP": "50"}


def test_text_has_no_markdown_markers(request_obj: AidRequest) -> None:
    text = render_text(request_obj, link="nostr:naddr1x")
    assert text.startswith("Rent after the raid\n===================\n")
    assert "\nStory\n-----\n" in text and "**" not in text and "nostr:naddr1x" in text


def test_html_escapes_everything_and_drops_scripts_images_and_bad_links(
    request_obj: AidRequest,
) -> None:
    hostile = replace(request_obj, title="Rent <b>now</b>", story=HOSTILE)
    page = render_html(hostile, link="nostr:naddr1x")
    assert "<script" not in page and "<img" not in page and 'href="javascript' not in page
    assert "&lt;script&gt;" in page and "<title>Rent &lt;b&gt;now&lt;/b&gt;</title>" in page
    # a kept link shows its true address (shared/aid/safemarkdown.py)
    assert 'lawyer (<a href="https://lawyer.example">https://lawyer.example</a>)' in page
    assert '<a href="nostr:naddr1x">' in page and '<html lang="en">' in page


def test_email_parses_back_as_multipart_alternative(request_obj: AidRequest) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = email_message(
        replace(request_obj, title="Loyer après la descente"),
        link="nostr:naddr1x",
        to="Ann Example <ann@example.org>",
        sender="desk@society.example",
        now=when,
    )
    raw = bytes(message)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Loyer après la descente"
    assert parsed["To"].addresses[0].addr_spec == "ann@example.org"
    assert parsed["From"] == "desk@society.example"
    assert parsed["Message-ID"].endswith("@society.example>")
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "nostr:naddr1x" in parsed.get_body(("plain",)).get_content()
    assert "<h1>" in parsed.get_body(("html",)).get_content()
    assert all(len(line) <= 998 for line in raw.split(b"\n"))  # RFC 5322 line limit


@pytest.mark.parametrize("bad", ["a@b.c\nBcc: x@y.z", "a@b.c, d@e.f", "not an address"])
def test_email_refuses_header_injection_and_lists(request_obj: AidRequest, bad: str) -> None:
    with pytest.raises(AidError):
        email_message(request_obj, to=bad)
