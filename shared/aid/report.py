"""The spending report: a NIP-23 long-form article (kind 30023) about one request.

Money never pools, so accountability is the recipient telling, in public, what arrived
and where it went. NIP-23 makes that an ordinary article: blog-style Nostr apps show
it with its title, and it can be edited (it is addressable) as receipts come in. The
``a`` tag ties it to the request; the society ``t`` tags put it in the same feeds; the
self-label ``["l", "report", "mas"]`` tells it apart from any other article that
merely links to the request.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import (
    MUTUAL_AID,
    Address,
    Origin,
    check_line,
    check_relay,
    check_text,
    check_timestamp,
    first,
    hinted,
    label_tags,
    normalize_text,
    one,
    parse_timestamp,
    require_kind,
    require_label,
    values,
)
from shieldmutual.shared.aid.society import society_slugs, society_tags, validate_slug
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import EventTemplate, Rumor

REPORT = "report"


@dataclass(frozen=True, slots=True)
class Report:
    """What was received and how it was spent, in Markdown, for one request."""

    title: str
    body: str
    request: Address
    summary: str = ""
    societies: tuple[str, ...] = ()
    identifier: str = ""
    published_at: int | None = None
    relay: str = ""
    origin: Origin | None = None

    def __post_init__(self) -> None:
        check_line(self.title, "report title", 200)
        check_text(self.body, "report body", empty=False)
        check_line(self.summary, "report summary", 500, empty=True)
        if self.request.kind != kinds.CLASSIFIED:
            raise AidError("a spending report is about an aid request (kind 30402)")
        for slug in self.societies:
            validate_slug(slug)
        if self.identifier:
            check_line(self.identifier, "report identifier (d)", 100)
        if self.published_at is not None:
            check_timestamp(self.published_at, "published_at")
        if self.relay:
            check_relay(self.relay)

    def address(self, pubkey: str) -> Address:
        return Address(kinds.LONG_FORM, pubkey, self.identifier)


def report_identifier(request: Address) -> str:
    """The ``d`` of the report on ``request``: one per request and author, so publishing
    it again edits it (NIP-23) instead of adding a second report."""
    if len(request.identifier) <= 90:
        return f"{request.identifier}-report"
    return "report-" + hashlib.sha256(str(request).encode()).hexdigest()[:16]


def split_title(markdown: str) -> tuple[str | None, str]:
    """A report file's leading ``# Title`` line (if any) and the body after it."""
    body = normalize_text(markdown)
    first_line, _, rest = body.partition("\n")
    if first_line.startswith("# ") and first_line[2:].strip():
        return first_line[2:].strip(), normalize_text(rest)
    return None, body


def report_template(report: Report, *, now: int | None = None) -> EventTemplate:
    """Kind 30023; ``identifier`` must be set, ``published_at`` defaults to ``now``."""
    if not report.identifier:
        raise AidError("report has no identifier (d); use request.new_identifier()")
    if report.published_at is None:
        when = int(time.time()) if now is None else check_timestamp(now, "now")
        report = replace(report, published_at=when)
    tags = [
        ["d", report.identifier],
        ["title", report.title],
        *([["summary", report.summary]] if report.summary else []),
        ["published_at", str(report.published_at)],
        hinted("a", str(report.request), report.relay),
        *society_tags(report.societies),
        *label_tags(REPORT),
    ]
    return EventTemplate(kinds.LONG_FORM, report.body + "\n", tags)


def parse_report(event: Rumor) -> Report:
    require_kind(event, kinds.LONG_FORM, "spending report")
    require_label(event, REPORT, "spending report")
    if MUTUAL_AID not in values(event.tags, "t"):
        raise AidError("spending report must carry ['t', 'mutualaid']")
    a_tags = [t for t in event.tags if t[0] == "a" and len(t) > 1 and t[1].startswith("30402:")]
    if len(a_tags) != 1:
        raise AidError("spending report must point at exactly one aid request with an 'a' tag")
    published = parse_timestamp(one(event.tags, "published_at", "report"), "published_at")
    return Report(
        title=one(event.tags, "title", "report"),
        body=normalize_text(event.content),
        request=Address.parse(a_tags[0][1], kinds.CLASSIFIED),
        summary=first(event.tags, "summary") or "",
        societies=society_slugs(event.tags),
        identifier=one(event.tags, "d", "report"),
        published_at=published,
        relay=a_tags[0][2] if len(a_tags[0]) > 2 else "",
        origin=Origin.of(event),
    )
