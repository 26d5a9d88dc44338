"""The offer of help: a NIP-99 listing (kind 30402), like a request, that gives instead of asks.

Reciprocity is the point of a mutual aid society: I lend my lawnmower, you paint my
garage. An offer (a skill, a thing to lend, time, a spare room, a lift) is therefore
written in the same standard format as a request, so NIP-99 apps list it and
``mas feed`` shows it beside the requests of the same societies, under the same
``t mas-<slug>`` and ``mutualaid`` tags. What tells it apart is the NIP-32 self-label
``["l", "offer", "mas"]``: a request carries no ``mas`` label (request.py refuses one),
and this parser refuses a listing without it, so neither is ever read as the other.

An offer has no ``price``: help is given, never sold, and NIP-99's price is "the price
of the thing being listed" in some currency, so ``"0"`` would still read as a sale
priced in that currency (and apps that hide unpriced listings from "for sale" views are
right to). The NIP-31 ``alt`` tag says in words that this is a free offer of help.
Status uses NIP-99's words (``active``, then ``sold`` once closed, so marketplaces drop
it) and the ``mas.status`` label (``open`` / ``closed``) as the authoritative one.

The content is the description (Markdown) followed by a generated ``## How to take it
up`` section from the contact tags, which parsers ignore, as requests do with
*How to help*. The file form (``mas offer new --from FILE``) is front matter plus the
description, read with the request file's strict front matter parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.comments import MAX_NOTE, RequestRef, comment_tags, parse_root
from shieldmutual.shared.aid.common import (
    MUTUAL_AID,
    Address,
    Origin,
    Tags,
    check_line,
    check_text,
    check_timestamp,
    check_token,
    first,
    indexed,
    label_tags,
    labels,
    normalize_text,
    origin_dict,
    parse_timestamp,
    require_kind,
    values,
)
from shieldmutual.shared.aid.listing import (
    check_listing,
    check_unique,
    hashtags_of,
    listing_fields,
    listing_head_tags,
    listing_place_tags,
    publish_time,
)
from shieldmutual.shared.aid.markdown import (
    FENCE,
    file_time_text,
    front_matter,
    parse_file_time,
    split_list,
)
from shieldmutual.shared.aid.request import NIP99_STATUS, STATUS_NAMESPACE, Status
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import EventTemplate, Rumor

OFFER = "offer"  # the ``mas`` label that makes a 30402 listing an offer
# Kinds of help, written as ``t`` tags so NIP-99 apps show them as categories.
CATEGORIES = ("skill", "lend", "time", "room", "lift", "food", "other")
# How to take an offer up: a NIP-22 comment (or a pledge) under it, or a NIP-17 DM.
CONTACTS = ("comment", "dm")
TAKE_IT_UP = "How to take it up"
_TAKE_IT_UP_LINE = f"## {TAKE_IT_UP}"
_CONTACT_TEXT = {
    "comment": "Reply with a comment under this offer.",
    "dm": "Send me a private message (NIP-17 DM).",
}
_FROM_NIP99 = {"active": Status.OPEN, "sold": Status.CLOSED}


@dataclass(frozen=True, slots=True)
class Offer:
    """One offer of help. ``identifier`` is the ``d`` tag (request.new_identifier)."""

    title: str
    summary: str
    description: str
    location: str
    categories: tuple[str, ...] = ("other",)
    language: str | None = None
    geohash: str | None = None
    availability: str = ""  # in words: "weekday evenings", "most Saturdays"
    until: int | None = None  # unix seconds; the offer stands until then
    contact: tuple[str, ...] = ("comment",)
    status: Status = Status.OPEN
    societies: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    identifier: str = ""
    published_at: int | None = None
    origin: Origin | None = None

    def __post_init__(self) -> None:
        check_listing(self)
        check_text(self.description, "description", empty=False)
        if any(line.rstrip() == _TAKE_IT_UP_LINE for line in self.description.split("\n")):
            raise AidError(f"description must not contain the generated {_TAKE_IT_UP_LINE!r}")
        _check_categories(self.categories, self.hashtags)
        if self.availability:
            check_line(self.availability, "availability", 200)
        if self.until is not None:
            check_timestamp(self.until, "until")
        for way in self.contact:
            check_token(way, "contact")
        if self.status not in (Status.OPEN, Status.CLOSED):
            raise AidError("an offer is open or closed")
        check_unique(("categories", self.categories), ("contact", self.contact))

    def address(self, pubkey: str) -> Address:
        return Address(kinds.CLASSIFIED, pubkey, self.identifier)

    def alt(self) -> str:
        """NIP-31: what an app that knows nothing of MAS should say about this event."""
        return f"Offer of help (free, mutual aid): {self.title}"

    def to_tags(self) -> Tags:
        tags = [
            *listing_head_tags(self, "offer"),
            ["status", NIP99_STATUS[self.status]],
            *label_tags(OFFER),
            *label_tags(self.status.value, STATUS_NAMESPACE),
            *listing_place_tags(self),
        ]
        tags += [["t", tag] for tag in (*self.categories, *self.hashtags)]
        if self.availability:
            tags.append(["availability", self.availability])
        if self.until is not None:
            tags.append(["until", str(self.until)])
        tags += [["contact", way] for way in self.contact]
        tags.append(["alt", self.alt()])
        return tags

    def content(self) -> str:
        """The description, then how to take the offer up (generated from ``contact``)."""
        ways = "\n".join(f"- {_CONTACT_TEXT.get(way, way)}" for way in self.contact)
        free = "This help is offered free, between neighbours (Shield Mutual)."
        return f"{self.description}\n\n{_TAKE_IT_UP_LINE}\n\n{free}\n\n{ways}\n"


def is_offer(event: Rumor) -> bool:
    """Whether a kind 30402 event says it is an offer (the parser still has the last word)."""
    return event.kind == kinds.CLASSIFIED and OFFER in labels(event.tags)


def _status(tags: Tags) -> Status:
    found = labels(tags, STATUS_NAMESPACE)
    if found:
        if found[0] not in (Status.OPEN, Status.CLOSED):
            raise AidError(f"an offer is open or closed, not {found[0]!r}")
        return Status(found[0])
    nip99 = first(tags, "status")
    if nip99 in _FROM_NIP99:
        return _FROM_NIP99[nip99]
    raise AidError("offer has no status label ['l', 'open|closed', 'mas.status']")


def _description(content: str) -> str:
    """The content up to the generated section (which is ignored, as *How to help* is)."""
    lines = normalize_text(content).split("\n")
    cut = next((i for i, line in enumerate(lines) if line.rstrip() == _TAKE_IT_UP_LINE), None)
    return "\n".join(lines[:cut]).strip()


def parse_offer(event: Rumor) -> Offer:
    """Kind 30402 labelled ``offer`` back into an :class:`Offer`, by docs/PROTOCOL.md's rules."""
    require_kind(event, kinds.CLASSIFIED, "offer")
    tags, what = indexed(event.tags), "offer"
    if MUTUAL_AID not in values(tags, "t"):
        raise AidError("not an offer: kind 30402 without ['t', 'mutualaid']")
    if labels(tags) != [OFFER]:
        raise AidError("not an offer: a listing without exactly the label ['l', 'offer', 'mas']")
    for price in (t for t in tags if t[0] == "price"):
        if len(price) < 2 or price[1].strip().strip("0.") != "":
            raise AidError("an offer of help is free: it has no price")
    words = [v.lower() for v in values(tags, "t")]
    categories = tuple(dict.fromkeys(w for w in words if w in CATEGORIES)) or ("other",)
    return Offer(
        **listing_fields(tags, what),
        description=_description(event.content),
        categories=categories,
        availability=(first(tags, "availability") or "").strip(),
        until=parse_timestamp(first(tags, "until"), "until"),
        contact=tuple(dict.fromkeys(check_token(v, "contact") for v in values(tags, "contact"))),
        status=_status(tags),
        hashtags=tuple(h for h in hashtags_of(tags) if h not in CATEGORIES),
        origin=Origin.of(event),
    )


def _check_categories(categories: tuple[str, ...], hashtags: tuple[str, ...]) -> None:
    if not categories:
        raise AidError(f"an offer has at least one category: {', '.join(CATEGORIES)}")
    for category in categories:
        if category not in CATEGORIES:
            raise AidError(f"category must be one of {', '.join(CATEGORIES)}, got {category!r}")
    for tag in hashtags:
        if tag in CATEGORIES:
            raise AidError(f"{tag!r} is a category: give it as a category, not a tag")


def offer_event_template(offer: Offer, *, now: int | None = None) -> EventTemplate:
    """The unsigned kind 30402 event. A first publication gets ``published_at = now``."""
    offer = replace(offer, published_at=publish_time(offer.published_at, now))
    return EventTemplate(kinds.CLASSIFIED, offer.content(), offer.to_tags())


@dataclass(frozen=True, slots=True)
class Reply:
    """A public NIP-22 comment under an offer: someone taking it up, or asking about it.
    (Labelled comments are pledges, confirmations and updates: never replies.)"""

    offer: RequestRef  # the offer's 30402 address, as a RequestRef
    text: str
    origin: Origin | None = None

    def __post_init__(self) -> None:
        check_text(self.text, "reply", MAX_NOTE, empty=False)


def reply_template(reply: Reply) -> EventTemplate:
    return EventTemplate(kinds.COMMENT, reply.text, comment_tags(reply.offer))


def parse_reply(event: Rumor) -> Reply:
    require_kind(event, kinds.COMMENT, "reply")
    if labels(event.tags):
        raise AidError("a labelled comment (a pledge, an update...) is not a reply")
    return Reply(parse_root(event, "reply"), normalize_text(event.content), Origin.of(event))


# ---- the offer file: front matter and a Markdown description ------------------------------

FILE_KEYS = (
    *("title", "summary", "location", "language", "geohash", "categories", "tags"),
    *("societies", "availability", "until", "contact", "status", "id", "published_at"),
)


def read_offer_file(text: str) -> tuple[dict[str, str], str]:
    """(front matter values, description) of an offer file, not yet checked as an offer."""
    lines = normalize_text(text).split("\n")
    single, _, body_start = front_matter(lines, FILE_KEYS, ())
    return single, "\n".join(lines[body_start:]).strip()


def offer_from_fields(fields: Mapping[str, str], description: str) -> Offer:
    """An :class:`Offer` from front matter values (a file's, or flags written as such)."""
    missing = [k for k in ("title", "summary", "location") if not fields.get(k)]
    if missing:
        raise AidError(f"an offer needs {', '.join(missing)}")
    get = fields.get
    try:
        status = Status(get("status") or "open")
    except ValueError:
        raise AidError(f"status must be open or closed, got {get('status')!r}") from None
    stamps = {k: parse_file_time(v, k) for k in ("until", "published_at") if (v := get(k))}
    return Offer(
        title=fields["title"],
        summary=fields["summary"],
        description=description,
        location=fields["location"],
        categories=split_list(get("categories") or "") or ("other",),
        language=get("language") or None,
        geohash=get("geohash") or None,
        availability=get("availability") or "",
        until=stamps.get("until"),
        contact=split_list(get("contact") or "") or ("comment",),
        status=status,
        societies=split_list(get("societies") or ""),
        hashtags=tuple(t.lstrip("#").lower() for t in split_list(get("tags") or "")),
        identifier=get("id") or "",
        published_at=stamps.get("published_at"),
    )


def parse_offer_file(text: str) -> Offer:
    return offer_from_fields(*read_offer_file(text))


def offer_fields(offer: Offer) -> dict[str, str]:
    """The front matter values of ``offer`` (empty ones left out), for editing it."""
    o = offer
    return {
        k: v
        for k, v in {
            "title": o.title,
            "summary": o.summary,
            "location": o.location,
            "language": o.language or "",
            "geohash": o.geohash or "",
            "categories": ", ".join(o.categories),
            "tags": ", ".join(o.hashtags),
            "societies": ", ".join(o.societies),
            "availability": o.availability,
            "until": file_time_text(o.until) if o.until is not None else "",
            "contact": ", ".join(o.contact),
            "status": o.status.value,
            "id": o.identifier,
            "published_at": str(o.published_at) if o.published_at is not None else "",
        }.items()
        if v
    }


def render_offer_file(offer: Offer) -> str:
    """The editable file: ``parse_offer_file(render_offer_file(o))`` gives ``o`` back."""
    front = [f"{key}: {value}" for key, value in offer_fields(offer).items()]
    return "\n".join([FENCE, *front, FENCE, "", offer.description]) + "\n"


def offer_dict(offer: Offer, naddr: str | None = None) -> dict[str, Any]:
    """Every field as JSON-ready values, with ``"type": "offer"`` (the feed mixes kinds)."""
    o = offer
    return {
        "type": OFFER,
        "naddr": naddr,
        **origin_dict(o.origin),
        "identifier": o.identifier,
        "title": o.title,
        "summary": o.summary,
        "status": o.status.value,
        "categories": list(o.categories),
        "location": o.location,
        "geohash": o.geohash,
        "language": o.language,
        "availability": o.availability,
        "until": o.until,
        "contact": list(o.contact),
        "published_at": o.published_at,
        "societies": list(o.societies),
        "hashtags": list(o.hashtags),
        "description": o.description,
    }
