"""One entry point that turns any mutual aid event into its object, by kind and label.

Feeds mix every kind (a society's ``#t`` filter returns requests, announcements,
syndications and reports together), so the client needs one dispatcher rather than
guessing which parser to call; the spec's own examples are checked through it too.
"""

from __future__ import annotations

from collections.abc import Callable

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.champion import (
    CHECKIN,
    PACKAGE,
    RELEASE,
    CheckIn,
    Package,
    Release,
    parse_checkin,
    parse_package,
    parse_release,
)
from shieldmutual.shared.aid.comments import (
    PLEDGE,
    RECEIVED,
    UPDATE,
    Confirmation,
    Pledge,
    Update,
    parse_confirmation,
    parse_pledge,
    parse_update,
)
from shieldmutual.shared.aid.common import EventLike, labels
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
from shieldmutual.shared.aid.vouch import (
    EMERGENCY_KEY,
    REVOKED,
    VOUCH,
    Attestation,
    Revocation,
    Vouch,
    parse_attestation,
    parse_revocation,
    parse_vouch,
)
from shieldmutual.shared.errors import AidError

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


def parse_listing(event: EventLike) -> AidRequest | Offer:
    """A kind 30402 aid listing: an offer when labelled so, else a request."""
    return parse_offer(event) if is_offer(event) else parse_request(event)


_BY_KIND: dict[int, Callable[[EventLike], AidObject]] = {
    kinds.CLASSIFIED: parse_listing,
    kinds.COMMUNITY: parse_society,
    kinds.TEXT_NOTE: parse_announcement,
    kinds.GENERIC_REPOST: parse_syndication,
    kinds.LONG_FORM: parse_report,
}
_BY_LABEL: dict[str, Callable[[EventLike], AidObject]] = {
    PLEDGE: parse_pledge,
    RECEIVED: parse_confirmation,
    UPDATE: parse_update,
    VOUCH: parse_vouch,
    EMERGENCY_KEY: parse_attestation,
    REVOKED: parse_revocation,
    PACKAGE: parse_package,
    CHECKIN: parse_checkin,
    RELEASE: parse_release,
}
_LABELLED = {kinds.COMMENT, kinds.DIRECT_MESSAGE, kinds.LABEL}


def parse_aid_event(event: EventLike) -> AidObject:
    """The object for ``event``; :class:`AidError` if it is not a valid mutual aid event."""
    if event.kind in _BY_KIND:
        return _BY_KIND[event.kind](event)
    if event.kind in _LABELLED:
        found = [label for label in labels(event.tags) if label in _BY_LABEL]
        if len(found) == 1:
            return _BY_LABEL[found[0]](event)
    raise AidError(f"kind {event.kind} event is not a mutual aid event")
