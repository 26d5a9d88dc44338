"""One entry point that turns any mutual aid event into its object, by kind and label.

Feeds mix every kind (a society's ``#t`` filter returns requests, announcements,
syndications and reports together), so the client needs one dispatcher rather than
guessing which parser to call; the spec's own examples are checked through it too.
Every reader that sorts events by what they are (the thread, the tally, social capital,
whois) goes through :func:`read_aid_event` and narrows the typed result with
``isinstance``, so a kind or label is told apart in one place. The label tables live
beside their parsers (``comments.PARSERS``, ``vouch.PARSERS``, ``champion.PARSERS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from shieldmutual.shared import kinds
from shieldmutual.shared.aid import champion, comments, vouch
from shieldmutual.shared.aid.champion import CheckIn, Package, Release
from shieldmutual.shared.aid.comments import Confirmation, Pledge, Update
from shieldmutual.shared.aid.common import labels
from shieldmutual.shared.aid.notes import (
    Announcement,
    Syndication,
    parse_announcement,
    parse_syndication,
)
from shieldmutual.shared.aid.offer import Offer, is_offer, parse_offer
from shieldmutual.shared.aid.report import Report, parse_report
from shieldmutual.shared.aid.request import AidRequest, parse_request
from shieldmutual.shared.aid.society import Society, parse_society
from shieldmutual.shared.aid.vouch import Attestation, Revocation, Vouch
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import Rumor

AidObject = (
    AidRequest
    | Offer
    | Society
    | Announcement
    | Syndication
    | Pledge
    | Confirmation
    | Update
    | Report
    | Vouch
    | Attestation
    | Revocation
    | Package
    | CheckIn
    | Release
)
_T = TypeVar("_T", bound=AidObject)


def parse_listing(
    event: Rumor, read_request: Callable[[Rumor], AidRequest] = parse_request
) -> AidRequest | Offer:
    """A kind 30402 aid listing: an offer when labelled so, else a request read by
    ``read_request`` (strict by default; a feed passes its lenient reader)."""
    return parse_offer(event) if is_offer(event) else read_request(event)


_BY_KIND: dict[int, Callable[[Rumor], AidObject]] = {
    kinds.CLASSIFIED: parse_listing,
    kinds.COMMUNITY: parse_society,
    kinds.TEXT_NOTE: parse_announcement,
    kinds.GENERIC_REPOST: parse_syndication,
    kinds.LONG_FORM: parse_report,
}
_BY_LABEL: dict[str, Callable[[Rumor], AidObject]] = {
    **comments.PARSERS,
    **vouch.PARSERS,
    **champion.PARSERS,
}
_LABELLED = {kinds.COMMENT, kinds.DIRECT_MESSAGE, kinds.LABEL}


def parse_aid_event(event: Rumor) -> AidObject:
    """The object for ``event``; :class:`AidError` if it is not a valid mutual aid event."""
    if event.kind in _BY_KIND:
        return _BY_KIND[event.kind](event)
    if event.kind in _LABELLED:
        found = [label for label in labels(event.tags) if label in _BY_LABEL]
        if len(found) == 1:
            return _BY_LABEL[found[0]](event)
    raise AidError(f"kind {event.kind} event is not a mutual aid event")


def read_aid_event(event: Rumor) -> AidObject | None:
    """:func:`parse_aid_event`, or None for an event that is not a valid aid event: what
    a reader of mixed traffic wants, since anyone may publish anything."""
    try:
        return parse_aid_event(event)
    except AidError:
        return None


def read_as(event: Rumor, cls: type[_T]) -> _T | None:
    """The event's object when it is a valid ``cls`` (say :class:`Vouch`), else None."""
    found = read_aid_event(event)
    return found if isinstance(found, cls) else None
