"""The aid request: a NIP-99 classified listing (kind 30402) in one standard format.

NIP-99 was chosen so that marketplace apps already show a title, summary, price,
location and Markdown body; NIP-23 readers show the body as an article. The request is
addressable (``30402:<pubkey>:<d>``), so editing it (a new status, a better story)
replaces it everywhere and every pledge, update and report keeps pointing at it.

Tags carry the machine-readable facts; the Markdown content carries the human story
under fixed ``##`` headings so it can be pasted into a blog or email as is. Parsing
reads facts from tags and only *Story* and *Details* from the content: the *How to
help* section is always regenerated from the payment and action tags, so a stale or
edited copy in the text can never redirect money.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import (
    MUTUAL_AID,
    Address,
    Origin,
    Tags,
    check_amount,
    check_currency,
    check_hex64,
    check_line,
    check_text,
    check_timestamp,
    first,
    first_full,
    format_amount,
    indexed,
    label_tags,
    labels,
    normalize_text,
    parse_amount,
    parse_timestamp,
    require_kind,
    values,
)
from shieldmutual.shared.aid.helping import (
    Action,
    CallFlood,
    OtherAction,
    Payment,
    SignWave,
    how_to_help,
    parse_action,
    parse_payment,
)
from shieldmutual.shared.aid.listing import (
    check_listing,
    hashtags_of,
    listing_fields,
    listing_head_tags,
    listing_place_tags,
    publish_time,
)
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import EventTemplate, Rumor

STATUS_NAMESPACE = "mas.status"
BENEFICIARY = "beneficiary"
# The fixed second-level headings of the content, in order. Export adds "Progress".
STORY, DETAILS, HOW_TO_HELP, PROGRESS = "Story", "Details", "How to help", "Progress"
HEADINGS = (STORY, DETAILS, HOW_TO_HELP, PROGRESS)
_HEADING_LINES = {f"## {h}": h for h in HEADINGS}

# An image URL: http(s), a host, then printable ASCII without the characters that would
# end or break a Markdown link or an HTML attribute where clients show it as a link
# (quotes, brackets, parentheses, angle brackets, backslash, backtick).
_URL = re.compile(r"https?://[!$-&*-.0-;=@-Z^_a-z|~]+[!#-&*-;=?-Z^_a-z|~]*\Z", re.I).match


class Status(StrEnum):
    OPEN = "open"
    FUNDED = "funded"
    CLOSED = "closed"


# NIP-99's own status vocabulary ("active" / "sold"), so marketplaces hide funded requests.
NIP99_STATUS = {Status.OPEN: "active", Status.FUNDED: "sold", Status.CLOSED: "sold"}
_FROM_NIP99 = {"active": Status.OPEN, "sold": Status.FUNDED}


def new_identifier() -> str:
    """A fresh random ``d``: short, collision-free, and revealing nothing about the request."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class AidRequest:
    """One aid request. ``identifier`` is the ``d`` tag; set it with :func:`new_identifier`."""

    title: str
    summary: str
    story: str
    location: str
    details: str = ""
    amount: Decimal | None = None
    currency: str | None = None
    deadline: int | None = None
    language: str | None = None
    geohash: str | None = None
    status: Status = Status.OPEN
    societies: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    payments: tuple[Payment, ...] = ()
    actions: tuple[Action, ...] = ()
    images: tuple[str, ...] = ()
    identifier: str = ""
    published_at: int | None = None
    expiration: int | None = None
    # Champions: a request signed by an emergency key names the member it is for.
    beneficiary: str | None = None
    origin: Origin | None = None

    def __post_init__(self) -> None:
        check_listing(self)
        for what, text in (("story", self.story), ("details", self.details)):
            _check_section(text, what)
        if (self.amount is None) != (self.currency is None):
            raise AidError("amount and currency go together: give both or neither")
        if self.amount is not None:
            check_amount(self.amount)
            check_currency(self.currency)
        for what, stamp in (("deadline", self.deadline), ("expiration", self.expiration)):
            if stamp is not None:
                check_timestamp(stamp, what)
        if not isinstance(self.status, Status):
            raise AidError(f"status must be one of {', '.join(Status)}")
        for url in self.images:
            if not _URL(check_line(url, "image URL", 1000)):
                raise AidError(f"image must be an http(s) URL, got {url!r}")
        if self.beneficiary is not None:
            check_hex64(self.beneficiary, "beneficiary")
        _check_help(self.payments, self.actions)

    def address(self, pubkey: str) -> Address:
        return Address(kinds.CLASSIFIED, pubkey, self.identifier)

    def naddr(self, pubkey: str, relays: tuple[str, ...] = ()) -> str:
        """The NIP-19 ``naddr1...`` people share (prefix ``nostr:`` for a NIP-21 link)."""
        return self.address(pubkey).naddr(relays)

    def to_tags(self) -> Tags:
        """All tags; ``identifier`` and ``published_at`` must be set (see the template)."""
        tags = listing_head_tags(self, "request")
        if self.amount is not None and self.currency is not None:
            tags.append(["price", format_amount(self.amount), self.currency])
        tags.append(["status", NIP99_STATUS[self.status]])
        tags.append(["alt", self.alt()])
        tags += label_tags(self.status.value, STATUS_NAMESPACE)
        tags += listing_place_tags(self)
        tags += [["t", tag] for tag in self.hashtags]
        if self.deadline is not None:
            tags.append(["deadline", str(self.deadline)])
        tags += [p.tag() for p in self.payments]
        tags += [a.tag() for a in self.actions]
        tags += [["image", url] for url in self.images]
        if self.expiration is not None:
            tags.append(["expiration", str(self.expiration)])
        if self.beneficiary:
            # NIP-57 zap split: zapping apps pay the member, not the emergency key.
            tags += [["p", self.beneficiary, "", BENEFICIARY], ["zap", self.beneficiary, "", "1"]]
        return tags

    def alt(self) -> str:
        """NIP-31: what apps that do not know kind 30402 show instead, status included so
        a funded request never reads as still asking."""
        state = "" if self.status is Status.OPEN else f" ({self.status.value})"
        return f"Mutual aid request{state}: {self.title}"

    def content(self) -> str:
        """The Markdown body: Story, Details (when given), How to help."""
        parts = [f"## {STORY}\n\n{self.story}"]
        if self.details:
            parts.append(f"## {DETAILS}\n\n{self.details}")
        parts.append(f"## {HOW_TO_HELP}\n\n{how_to_help(self.payments, self.actions)}")
        return "\n\n".join(parts) + "\n"

    @classmethod
    def from_event(cls, event: Rumor) -> AidRequest:
        return parse_request(event)


def _check_section(text: str, what: str) -> None:
    """Story or details: text that cannot fake one of the fixed headings."""
    check_text(text, what, empty=what == "details")
    for line in text.split("\n"):
        if line.rstrip() in _HEADING_LINES:
            raise AidError(f"{what} must not contain the fixed heading {line.rstrip()!r}")


def _check_help(payments: tuple[Payment, ...], actions: tuple[Action, ...]) -> None:
    if not all(isinstance(p, Payment) for p in payments):
        raise AidError("payments must be Payment objects")
    if not all(isinstance(a, CallFlood | SignWave | OtherAction) for a in actions):
        raise AidError("actions must be CallFlood, SignWave or OtherAction objects")


def split_sections(text: str) -> tuple[str, dict[str, str]]:
    """Text before the first fixed heading, and each fixed section's body (stripped)."""
    preamble: list[str] = []
    sections: dict[str, list[str]] = {}
    current = preamble
    for line in normalize_text(text).split("\n"):
        heading = _HEADING_LINES.get(line.rstrip())
        if heading is None:
            current.append(line)
        elif heading in sections:
            raise AidError(f"section '## {heading}' appears twice")
        else:
            current = sections[heading] = []
    return "\n".join(preamble).strip(), {k: "\n".join(v).strip() for k, v in sections.items()}


def _status(tags: Tags) -> Status:
    found = labels(tags, STATUS_NAMESPACE)
    if found:
        try:
            return Status(found[0])
        except ValueError:
            raise AidError(f"unknown request status {found[0]!r}") from None
    nip99 = first(tags, "status")
    if nip99 in _FROM_NIP99:
        return _FROM_NIP99[nip99]
    raise AidError("request has no status label ['l', 'open|funded|closed', 'mas.status']")


def parse_request(event: Rumor) -> AidRequest:
    """Kind 30402 back into an :class:`AidRequest`, enforcing the rules of docs/PROTOCOL.md."""
    require_kind(event, kinds.CLASSIFIED, "aid request")
    tags = indexed(event.tags)  # some fifteen lookups follow
    what = "aid request"
    if MUTUAL_AID not in values(tags, "t"):
        raise AidError("not an aid request: kind 30402 without ['t', 'mutualaid']")
    kind_label = labels(tags)
    if kind_label:  # requests carry no 'mas' label; a labelled listing is e.g. an offer
        raise AidError(f"not an aid request: a listing labelled {kind_label[0]!r} (offer.py)")
    preamble, sections = split_sections(event.content)
    if STORY in sections:
        if preamble:
            raise AidError("aid request has text before '## Story'")
        story, details = sections[STORY], sections.get(DETAILS, "")
    else:  # edited elsewhere without our headings: keep the whole text as the story
        story, details = preamble, ""
    price = first_full(tags, "price")
    amount = currency = None
    if price is not None:
        if len(price) < 3:
            raise AidError("price must be ['price', number, currency]")
        amount, currency = parse_amount(price[1], "price"), check_currency(price[2])
    beneficiaries = [t[1] for t in tags if len(t) > 3 and t[0] == "p" and t[3] == BENEFICIARY]
    if len(beneficiaries) > 1:
        raise AidError("aid request names more than one beneficiary")
    return AidRequest(
        **listing_fields(tags, what),
        story=story,
        details=details,
        amount=amount,
        currency=currency,
        deadline=parse_timestamp(first(tags, "deadline"), "deadline"),
        status=_status(tags),
        hashtags=hashtags_of(tags),
        payments=tuple(parse_payment(t) for t in tags if t[0] == "payment"),
        actions=tuple(parse_action(t) for t in tags if t[0] == "action"),
        # Pictures are decoration: a foreign odd URL is dropped, not fatal to the request.
        images=tuple(url for url in values(tags, "image") if _URL(url) and len(url) <= 1000),
        expiration=parse_timestamp(first(tags, "expiration"), "expiration"),
        beneficiary=beneficiaries[0] if beneficiaries else None,
        origin=Origin.of(event),
    )


def request_event_template(request: AidRequest, *, now: int | None = None) -> EventTemplate:
    """The unsigned kind 30402 event. A first publication gets ``published_at = now``."""
    request = replace(request, published_at=publish_time(request.published_at, now))
    return EventTemplate(kinds.CLASSIFIED, request.content(), request.to_tags())
