"""What a society feed shows: requests (and offers) from followed tags, once each, newest wins.

A follow filter (``{"#t": [...followed tags]}``) returns requests, the syndications that
relay requests into those societies, and announcements, from many relays. This module is
the pure part of turning that stream into a list a person can read:

* :func:`read_listing` reads a kind 30402 event as an aid request, tolerating NIP-99
  listings written by other apps: a listing someone tagged ``mas-<slug>`` belongs to
  that society even without ``["t", "mutualaid"]``, and NIP-99 makes title, summary,
  location and published_at SHOULDs, so missing ones are filled in for display;
* :func:`read_item` reads an offer of help (offer.py) as such, anything else as above;
* :class:`FeedFilter` is the type (requests by default) / language / place (geohash
  prefix) / status filter;
* :class:`Feed` keeps the latest version of each request address, remembers through
  which syndications it arrived, and says whether an offered event changes anything,
  so the same request from three relays and two reposts shows once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import MUTUAL_AID, Address, Origin, values
from shieldmutual.shared.aid.offer import OFFER, Offer
from shieldmutual.shared.aid.parse import parse_listing
from shieldmutual.shared.aid.request import AidRequest, Status, parse_request
from shieldmutual.shared.aid.society import society_slugs
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import Rumor

REQUEST = "request"
ITEM_TYPES = (REQUEST, OFFER)
UNTITLED = "(untitled listing)"
UNKNOWN_PLACE = "(no location given)"


def _completed(event: Rumor) -> Rumor:
    """The same event with tags completed for parsing (never signed or published)."""
    blank = {"title", "summary", "location"}
    tags = [
        list(t)
        for t in event.tags
        if not (t[0] in blank and (len(t) < 2 or not t[1].strip())) and not _zero_price(t)
    ]
    have = {t[0] for t in tags if len(t) > 1}
    title = next((t[1].strip() for t in tags if t[0] == "title"), "")
    lines = (line.strip().lstrip("#").strip() for line in event.content.splitlines())
    first_line = next((line for line in lines if line), "")
    fill = {
        "title": first_line[:200] or UNTITLED,
        "summary": title or first_line[:500] or UNTITLED,
        "location": UNKNOWN_PLACE,
        "published_at": str(event.created_at),
        "status": "active",
    }
    tags += [[name, value] for name, value in fill.items() if name not in have]
    if MUTUAL_AID not in values(tags, "t"):
        tags.append(["t", MUTUAL_AID])
    return Rumor(event.id, event.pubkey, event.created_at, event.kind, tags, event.content)


def _zero_price(tag: list[str]) -> bool:
    """Marketplaces write ``["price", "0", ...]`` for "free"; MAS-1 says no price tag."""
    return tag[0] == "price" and len(tag) > 1 and tag[1].strip().strip("0.") == ""


def read_listing(event: Rumor) -> AidRequest:
    """An aid request from a kind 30402 event; foreign ``mas-`` listings are completed.

    Our own requests parse strictly. A listing from another app is accepted when it
    carries a society tag: missing NIP-99 fields are filled for display (the original
    event is untouched, so its id and signature still verify). Everything else that
    is wrong (a precise geohash, a bad price) is still refused with :class:`AidError`.
    """
    if event.kind != kinds.CLASSIFIED:
        raise AidError(f"not a listing: kind {event.kind}")
    try:
        return parse_request(event)
    except AidError:
        if not society_slugs(event.tags):
            raise
    return parse_request(_completed(event))


def read_item(event: Rumor) -> AidRequest | Offer:
    """A feed's listing: an offer of help when labelled so, else :func:`read_listing`."""
    return parse_listing(event, read_listing)


def item_type(listing: AidRequest | Offer) -> str:
    return OFFER if isinstance(listing, Offer) else REQUEST


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """Which listings to show: requests unless ``types`` says so; other empty fields mean
    "any". (Offers came later: lists of requests must not start showing them.)"""

    language: str | None = None
    place: str | None = None
    statuses: frozenset[Status] = frozenset()
    types: frozenset[str] = frozenset({REQUEST})

    def matches(self, request: AidRequest | Offer) -> bool:
        if item_type(request) not in self.types:
            return False
        if self.language and request.language != self.language:
            return False
        if self.statuses and request.status not in self.statuses:
            return False
        if self.place:
            # Either area contains the other: a request for "gcw" concerns "gcwcv" too.
            area = request.geohash
            if not area or not (area.startswith(self.place) or self.place.startswith(area)):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Via:
    """A syndication that brought a request into ``into`` (society slugs)."""

    by: str
    into: tuple[str, ...]
    id: str


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One request (or offer: ``request`` is then the :class:`Offer`) as the feed shows it."""

    event: Rumor
    request: AidRequest | Offer
    via: tuple[Via, ...] = ()
    version: int = 1  # how many versions of this address the feed has shown

    @property
    def address(self) -> Address:
        return Address.of(self.event)

    @property
    def origin(self) -> Origin:
        return Origin.of(self.event)

    @property
    def type(self) -> str:
        return item_type(self.request)


# Addresses a feed remembers. A live feed left running for weeks, or a relay flooding
# distinct valid requests, must not grow without end: past this the oldest are forgotten
# (a forgotten request that comes back is shown again, as new).
MAX_ITEMS = 10_000
_V = TypeVar("_V")


class Ages:
    """``created_at`` per key of a capped dict, kept in that dict's own order, so that its
    oldest keys are found by sorting plain ints. Sorting the dict by a key that reached
    each kept event (``items[key].event.created_at``) missed the cache on every one of
    ~10,000 events scattered over the heap: 3-7 us per event read in the feed (issue 15).
    """

    __slots__ = ("_at",)

    def __init__(self, ages: Iterable[tuple[str, int]] = ()) -> None:
        self._at: dict[str, int] = dict(ages)

    def __setitem__(self, key: str, created_at: int) -> None:
        """Set when ``key`` is set in the dict (a new key goes last in both)."""
        self._at[key] = created_at

    def trim(self, kept: dict[str, _V], limit: int) -> list[str]:
        """Past ``limit`` keys, drop the oldest tenth of ``kept`` at once (one sort per
        ``limit // 10`` new keys, not one per key); ties go in the dict's order, as a
        stable sort of the dict itself would. The keys dropped."""
        if len(kept) <= limit:
            return []
        at = self._at
        dropped = sorted(at, key=at.__getitem__)[: len(kept) - limit + limit // 10]
        for key in dropped:
            del at[key]
            kept.pop(key, None)
        return dropped


@dataclass
class Feed:
    """The de-duplicated feed: latest version per address, with its syndications."""

    filter: FeedFilter = field(default_factory=FeedFilter)
    items: dict[str, FeedItem] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)  # addresses the filter rejects now
    limit: int = MAX_ITEMS
    _ages: Ages = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._ages = Ages((key, item.event.created_at) for key, item in self.items.items())

    def offer(
        self, event: Rumor, via: Via | None = None, *, address: str | None = None
    ) -> FeedItem | None:
        """Take a request event (direct or reposted); the item to show if anything changed.

        ``None`` when it is an older or the same version without a new syndication, when
        it is not a readable request, or when the filter hides it. ``address``: the
        event's ``str(Address.of(event))`` when the caller has it already.
        """
        try:
            key = str(Address.of(event)) if address is None else address
        except AidError:
            return None  # not addressable, so not a listing either
        current = self.items.get(key)
        newer = new_via = False
        if current is not None:
            newer = (event.created_at, _neg(event.id)) > (
                current.event.created_at,
                _neg(current.event.id),
            )
            new_via = via is not None and via.id not in {v.id for v in current.via}
            if not newer and not new_via:
                return None  # decided before the parse: a stale copy is not read again
        try:
            request = read_item(event)
        except AidError:
            return None
        if current is not None:
            vias = current.via + ((via,) if new_via and via is not None else ())
            item = (
                FeedItem(event, request, vias, current.version + 1)
                if newer
                else replace(current, via=vias)
            )
        else:
            item = FeedItem(event, request, (via,) if via is not None else ())
        self.items[key] = item
        self._ages[key] = item.event.created_at
        shown = self.filter.matches(item.request)
        if shown:
            self.hidden.discard(key)
        else:
            self.hidden.add(key)
        # Trimmed after ``hidden`` is updated: a newcomer trimmed at once leaves no key there.
        self.hidden.difference_update(self._ages.trim(self.items, self.limit))
        return item if shown else None

    def visible(self) -> list[FeedItem]:
        """Items the filter shows, newest publication first."""
        shown = [i for k, i in self.items.items() if k not in self.hidden]
        return sorted(shown, key=lambda i: (-(i.request.published_at or 0), -i.event.created_at))


def _neg(event_id: str) -> str:
    """Order ids so that the *lowest* id wins ties, as NIP-01 says for replaceable events."""
    return "".join(chr(255 - ord(c)) for c in event_id)
