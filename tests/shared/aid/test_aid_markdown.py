"""The Markdown request file (strict front matter) and the Markdown export."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from markdown_it import MarkdownIt

from shieldmutual.shared.aid.comments import Progress, RequestRef, Update
from shieldmutual.shared.aid.common import Origin
from shieldmutual.shared.aid.helping import CallFlood, Payment, SignWave
from shieldmutual.shared.aid.markdown import (
    blank_template,
    markdown_source,
    parse_template,
    render_markdown,
    render_template,
)
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.errors import AidError

People = Any

FILE = """---
# a comment line
title: Bail for Sam: urgent
summary: Sam was arrested at the vigil.
location: Leeds, UK
language: en
geohash: gcwcv
amount: 500
currency: USD
deadline: 2025-06-01
status: open
societies: leeds-care, north
tags: bail, legal
lightning: sam@example.org
other: Cash at the Friday meeting
onchain: bc1qexampleexampleexample
payment: paypal | sam@example.org
call: +44 113 000 0000 | Leeds Magistrates | Release Sam | now
signwave: Town Hall | steps | 2025-05-30T17:00+01:00
action: march | Town square
---

## Story

Sam was arrested on Friday.

## Details

Hearing on Monday.
"""


def test_parse_a_hand_written_file() -> None:
    request = parse_template(FILE.replace("\n", "\r\n"))
    assert request.title == "Bail for Sam: urgent"
    assert request.deadline == int(datetime(2025, 6, 1, 23, 59, 59, tzinfo=UTC).timestamp())
    assert request.societies == ("leeds-care", "north") and request.hashtags == ("bail", "legal")
    assert [p.method for p in request.payments] == ["lightning", "other", "onchain", "paypal"]
    assert request.actions[0] == CallFlood(
        "+44 113 000 0000", "Leeds Magistrates", "Release Sam | now"
    )
    assert (
        isinstance(request.actions[1], SignWave) and request.actions[1].place == "Town Hall | steps"
    )
    assert (
        request.story == "Sam was arrested on Friday." and request.details == "Hearing on Monday."
    )
    assert request.identifier == "" and request.published_at is None
    assert parse_template(render_template(request)) == request


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.replace("---\n# a comment", "# a comment", 1), "start with a '---'"),
        (lambda f: f.replace("title: Bail", "Title: Bail"), "known key"),
        (lambda f: f.replace("language: en", "language: en\nlanguage: es"), "given twice"),
        (lambda f: f.replace("location: Leeds, UK\n", ""), "missing location"),
        (lambda f: f[: f.index("\n---\n\n")], "no closing"),
        (lambda f: f.replace("## Story\n", "Hello\n## Story\n"), "before '## Story'"),
        (lambda f: f.replace("## Details", "## How to help"), "generated"),
        (lambda f: f[: f.index("## Story")], "Story' section is missing"),
        (lambda f: f.replace("## Story", "## Storyline"), "before '## Story'"),
        (lambda f: f.replace("amount: 500", "amount: 1e3"), "plain positive"),
        (lambda f: f.replace("deadline: 2025-06-01", "deadline: 2025-06-01T10:00"), "offset"),
        (lambda f: f.replace("deadline: 2025-06-01", "deadline: soon"), "ISO 8601"),
        (lambda f: f.replace("status: open", "status: done"), "open, funded or closed"),
        (lambda f: f.replace("geohash: gcwcv", "geohash: gcwcvf7"), "too precise"),
        (lambda f: f.replace("call: +44 113 000 0000 |", "call: +44 113 000 0000"), "number | who"),
        (
            lambda f: f.replace("signwave: Town Hall | steps |", "signwave: Town Hall"),
            "place | time",
        ),
        (lambda f: f.replace("payment: paypal |", "payment: paypal"), "method | value"),
        (lambda f: f.replace("lightning: sam@example.org", "lightning: sam"), "lightning"),
    ],
)
def test_strict_template_errors(edit: Any, message: str) -> None:
    with pytest.raises(AidError, match=message):
        parse_template(edit(FILE))


def test_blank_template_explains_every_key_and_needs_filling() -> None:
    blank = blank_template()
    for key in ("title", "summary", "location", "lightning", "call", "signwave", "deadline"):
        assert f"# {key}:" in blank
    with pytest.raises(AidError, match="missing title, summary, location"):
        parse_template(blank)
    filled = (
        blank.replace("title:", "title: Help")
        .replace("summary:", "summary: Please")
        .replace("location:", "location: online")
        .replace("## Story\n", "## Story\n\nIt happened.")
    )
    request = parse_template(filled)
    assert (request.title, request.location, request.story) == ("Help", "online", "It happened.")
    assert request.status is Status.OPEN and request.payments == () and request.details == ""


def test_export_is_standalone_markdown(request_obj: AidRequest) -> None:
    ref = RequestRef(request_obj.address("ef" * 32))
    update = Update(ref, "Rent is half paid", Origin("ab" * 32, "cd" * 32, 1_700_000_000))
    progress = Progress(
        pledges=3,
        pledged={"GBP": Decimal("120"), "btc": Decimal("0.001")},
        confirmations=1,
        received={"GBP": Decimal("50")},
        updates=(update,),
    )
    text = render_markdown(request_obj, progress=progress, link="nostr:naddr1example")
    assert text.startswith("# Rent after the raid\n\n**Alice lost two weeks")
    assert "- Asking: 400 GBP" in text and "- Societies: #mas-leeds-care" in text
    assert text.index("## Story") < text.index("## How to help") < text.index("## Progress")
    # Each currency on its own; the share is of the asked currency only (0.001 btc is
    # not converted into pounds).
    assert "- Pledged: 120 GBP (30% of 400 GBP), 0.001 btc in 3 pledges" in text
    assert "- Confirmed received: 50 GBP (12% of 400 GBP) in 1 confirmation" in text
    assert "- Open: help is still needed." in text
    assert "- Update 2023-11-14: Rent is half paid" in text
    assert text.rstrip().endswith("nostr:naddr1example")
    plain = render_markdown(replace(request_obj, payments=(Payment("other", "Ask me"),)))
    assert "## Progress" not in plain and "- Other: Ask me" in plain


# ---- issue 9: the export is published on blogs that render raw HTML ----------------------

# (hostile Markdown, a fragment the export must not contain, one it must contain)
HOSTILE_MARKDOWN = [
    ("Hi <script>alert(1)</script>", "<script", "&lt;script>"),
    ('<iframe src="https://evil.example"></iframe>', "<iframe", "&lt;iframe"),
    ("<img src=x onerror=alert(1)>", "<img", "&lt;img src=x onerror=alert(1)>"),
    ("[click](javascript:alert(1))", "javascript:", "click"),
    ("[c](JaVaScRiPt:alert(1))", "JaVaScRiPt:", "c"),
    ("[d](data:text/html;base64,PHNjcmlwdD4=)", "data:", "d"),
    ("[e](&#106;avascript:alert(1))", "avascript:alert", "e"),
    ("[x [y] z](javascript:q)", "](javascript", "javascript:q"),
    ("<javascript:alert(1)>", "<javascript:", "&lt;javascript:alert(1)>"),
    ("[t][r]\n\n[r]: javascript:alert(1)", "\n[r]:", "[t][r]"),
    ("![pixel](https://track.example/p.gif)", "![", "pixel (<https://track.example/p.gif>)"),
    ("[https://bank.example](https://evil.example)", "bank.example", "<https://evil.example>"),
    ("[bank.example/login](https://evil.example)", "bank.example", "<https://evil.example>"),
    ("[lawyer](https://lawyer.example)", "](", "lawyer (<https://lawyer.example>)"),
    ("[m](mailto:desk@society.example)", "](", "m (<mailto:desk@society.example>)"),
]


def _links_and_html(markdown: str) -> list[tuple[str, str, str]]:
    """What a renderer that allows everything finds: (type, href, text) of every link,
    image and raw HTML token."""
    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda _url: True  # type: ignore[method-assign]
    found = []
    for block in md.parse(markdown):
        if block.type == "html_block":
            found.append(("html", "", block.content))
        children = block.children or []
        for i, token in enumerate(children):
            if token.type in ("html_inline", "image"):
                found.append((token.type, str(token.attrGet("src") or ""), token.content))
            elif token.type == "link_open":
                found.append(("link", str(token.attrGet("href")), children[i + 1].content))
    return found


@pytest.mark.parametrize(("story", "absent", "present"), HOSTILE_MARKDOWN)
def test_export_markdown_has_no_html_no_bad_link_and_no_spoofed_link_text(
    request_obj: AidRequest, story: str, absent: str, present: str
) -> None:
    hostile = replace(
        request_obj,
        title=f"Rent {story}".replace("\n", " "),
        story=story,
        payments=(Payment("other", story.replace("\n", " ")),),
    )
    text = render_markdown(hostile, link="nostr:naddr1x")
    assert absent not in text and present in text, text
    for kind, href, shown in _links_and_html(text):
        assert kind == "link", (kind, href, shown)
        assert href.startswith(("https://", "mailto:")) and shown in (href, href[7:]), text


def test_plain_text_export_keeps_the_authors_words(request_obj: AidRequest) -> None:
    story = "Rent is < 400 & [lawyer](https://lawyer.example)"
    assert story in markdown_source(replace(request_obj, story=story))
