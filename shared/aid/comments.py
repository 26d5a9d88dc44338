"""Pledges, confirmations and updates: NIP-22 comments (kind 1111) on an aid request.

NIP-22 comments thread under any addressable event, so apps that show comments show
these under the request with no new kind: uppercase ``A/K/P`` name the request (root),
lowercase ``a/e/k/p`` the parent. A NIP-32 self-label ``["l", "pledge" | "received" |
"update", "mas"]`` says what the comment is, and the content is always a plain sentence
a human can read in any app (NIP-22 content is plain text, not Markdown).

A *private* pledge is the same tag set in a kind 14 rumor (NIP-17) that the client
seals and gift-wraps (NIP-59) to the recipient alone, so DM apps show it as a message
and nobody else learns who offered what.

Confirmations name the helper (a ``p`` tag) only when the helper agreed: being seen to
help someone in trouble can itself be dangerous.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import (
    Address,
    Origin,
    Tags,
    check_amount,
    check_currency,
    check_hex64,
    check_relay,
    check_text,
    check_token,
    first,
    first_full,
    format_amount,
    hinted,
    label_tags,
    labels,
    normalize_text,
    one,
    parse_amount,
    values,
)
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import EventTemplate, Rumor

PLEDGE, RECEIVED, UPDATE = "pledge", "received", "update"
_LABELS = (PLEDGE, RECEIVED, UPDATE)
MAX_NOTE = 4000


@dataclass(frozen=True, slots=True)
class RequestRef:
    """A request's address, plus (optionally) the exact version's id and a relay hint."""

    address: Address
    event_id: str | None = None
    relay: str = ""

    def __post_init__(self) -> None:
        if self.address.kind != kinds.CLASSIFIED:
            raise AidError(f"{self.address} is not an aid request (kind 30402)")
        if self.event_id is not None:
            check_hex64(self.event_id, "request event id")
        if self.relay:
            check_relay(self.relay)

    @classmethod
    def of(cls, event: Rumor, relay: str = "") -> RequestRef:
        return cls(Address.of(event), event.id, relay)

    @property
    def author(self) -> str:
        return self.address.pubkey


def _check_money(amount: Decimal | None, currency: str | None) -> None:
    if (amount is None) != (currency is None):
        raise AidError("amount and currency go together: give both or neither")
    if amount is not None:
        check_amount(amount)
        check_currency(currency)


def _money_tags(amount: Decimal | None, currency: str | None) -> Tags:
    if amount is None or currency is None:
        return []
    return [["amount", format_amount(amount), currency]]


def _money(tags: Tags) -> tuple[Decimal | None, str | None]:
    tag = first_full(tags, "amount")
    if tag is None:
        return None, None
    if len(tag) < 3:
        raise AidError("amount must be ['amount', number, currency]")
    return parse_amount(tag[1]), check_currency(tag[2])


def _root_tags(ref: RequestRef) -> Tags:
    coordinate, relay = str(ref.address), ref.relay
    return [
        hinted("A", coordinate, relay),
        ["K", str(kinds.CLASSIFIED)],
        hinted("P", ref.author, relay),
    ]


def _request_parent_tags(ref: RequestRef, *, with_id: bool = True) -> Tags:
    tags = [hinted("a", str(ref.address), ref.relay)]
    if ref.event_id and with_id:
        tags.append(["e", ref.event_id, ref.relay, ref.author])
    return [*tags, ["k", str(kinds.CLASSIFIED)], hinted("p", ref.author, ref.relay)]


def comment_tags(ref: RequestRef) -> Tags:
    """Root and parent of a top-level NIP-22 comment on a listing (an update, a reply
    under an offer): both are the listing itself."""
    return _root_tags(ref) + _request_parent_tags(ref)


def parse_root(event: Rumor, what: str) -> RequestRef:
    tags = event.tags
    root = first_full(tags, "A")
    if root is None or first(tags, "K") != str(kinds.CLASSIFIED):
        raise AidError(
            f"{what} must be scoped to an aid request: ['A', '30402:...'], ['K', '30402']"
        )
    address = Address.parse(root[1], kinds.CLASSIFIED)
    if one(tags, "P", what) != address.pubkey:
        raise AidError(f"{what}: the 'P' tag must be the request's author")
    relay = root[2] if len(root) > 2 else ""
    # The version's id is the parent ``e`` only when the parent is the request itself.
    event_id = first(tags, "e") if first(tags, "k") == str(kinds.CLASSIFIED) else None
    return RequestRef(address, event_id, relay)


def _require_label(event: Rumor, kind: int, label: str, what: str) -> None:
    if event.kind != kind:
        raise AidError(f"{what} must be kind {kind}, got {event.kind}")
    found = [value for value in labels(event.tags) if value in _LABELS]
    if found != [label]:
        raise AidError(f"{what} must carry exactly the label ['l', {label!r}, 'mas']")


@dataclass(frozen=True, slots=True)
class Pledge:
    """A promise of money (amount + currency), of an action (its type), of the help in one
    of the helper's offers (offer.py; its address, as a ``q`` tag), or of several."""

    request: RequestRef
    amount: Decimal | None = None
    currency: str | None = None
    action: str | None = None
    note: str = ""
    private: bool = False
    origin: Origin | None = None
    offer: RequestRef | None = None  # a 30402 address too, so RequestRef fits it

    def __post_init__(self) -> None:
        _check_money(self.amount, self.currency)
        if self.action is not None:
            check_token(self.action, "pledged action")
        if self.amount is None and self.action is None and self.offer is None:
            raise AidError("a pledge offers an amount, an action, an offer of help, or several")
        check_text(self.note, "pledge note", MAX_NOTE)

    def default_note(self) -> str:
        parts = []
        if self.amount is not None:
            parts.append(f"{format_amount(self.amount)} {self.currency}")
        if self.action is not None:
            parts.append(f"to join the {self.action} action")
        if self.offer is not None:
            parts.append(f"the help I offer at {self.offer_link()}")
        return "I pledge " + " and ".join(parts) + "."

    def offer_link(self) -> str:
        """``nostr:naddr1...`` of the offer: NIP-22 cites with ``q`` *and* a link in text."""
        if self.offer is None:
            return ""
        hints = (self.offer.relay,) if self.offer.relay else ()
        return f"nostr:{self.offer.address.naddr(hints)}"

    def content(self) -> str:
        """The helper's words (with the offer's link after them), else the sentence."""
        if not self.note:
            return self.default_note()
        return f"{self.note}\n\n{self.offer_link()}" if self.offer else self.note


def pledge_template(pledge: Pledge) -> EventTemplate:
    """Public: kind 1111 comment. Private: a kind 14 rumor to seal and gift-wrap (NIP-59)."""
    tags = _root_tags(pledge.request)
    tags += _request_parent_tags(pledge.request, with_id=not pledge.private)
    tags += label_tags(PLEDGE)
    tags += _money_tags(pledge.amount, pledge.currency)
    if pledge.action:
        tags.append(["action", pledge.action])
    if pledge.offer is not None:
        # NIP-22 cites other events with ``q`` (never a second ``a``: that is the parent),
        # so threading and the relay's aid-only rule see only the request.
        tags.append(hinted("q", str(pledge.offer.address), pledge.offer.relay))
    kind = kinds.DIRECT_MESSAGE if pledge.private else kinds.COMMENT
    return EventTemplate(kind, pledge.content(), tags)


def parse_pledge(event: Rumor) -> Pledge:
    """A public pledge (kind 1111) or an unwrapped private one (kind 14 rumor)."""
    private = event.kind == kinds.DIRECT_MESSAGE
    _require_label(event, kinds.DIRECT_MESSAGE if private else kinds.COMMENT, PLEDGE, "pledge")
    amount, currency = _money(event.tags)
    action = first(event.tags, "action")
    offer = _offer_ref(event.tags)
    root = parse_root(event, "pledge")
    pledge = Pledge(root, amount, currency, action, "", private, offer=offer)
    note = normalize_text(event.content)
    note = "" if note == pledge.default_note() else note
    if offer is not None:
        note = note.removesuffix(pledge.offer_link()).rstrip()
    return Pledge(root, amount, currency, action, note, private, Origin.of(event), offer)


def _offer_ref(tags: Tags) -> RequestRef | None:
    """The offer a pledge points at: its first ``q`` tag naming a 30402 address."""
    for tag in tags:
        if len(tag) > 1 and tag[0] == "q" and tag[1].startswith(f"{kinds.CLASSIFIED}:"):
            relay = tag[2] if len(tag) > 2 else ""
            return RequestRef(Address.parse(tag[1], kinds.CLASSIFIED), None, relay)
    return None


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The recipient says help arrived; ``helper`` is named only with their consent."""

    request: RequestRef
    amount: Decimal | None = None
    currency: str | None = None
    helper: str | None = None
    pledge_id: str | None = None
    note: str = ""
    origin: Origin | None = None

    def __post_init__(self) -> None:
        _check_money(self.amount, self.currency)
        if self.helper is not None and check_hex64(self.helper, "helper") == self.request.author:
            raise AidError("the helper cannot be the request's own author")
        if self.pledge_id is not None:
            check_hex64(self.pledge_id, "pledge id")
            if self.helper is None:
                raise AidError("replying to a pledge names its author: set helper (with consent)")
        check_text(self.note, "confirmation note", MAX_NOTE)

    def default_note(self) -> str:
        got = f" {format_amount(self.amount)} {self.currency}" if self.amount else ""
        return f"Help received{got}. Thank you!"


def confirmation_template(c: Confirmation, *, helper_consents: bool = False) -> EventTemplate:
    """Kind 1111 labelled ``received``; refuses to name a helper without their consent."""
    if c.helper is not None and not helper_consents:
        raise AidError("the helper is named only with their consent (helper_consents=True)")
    tags = _root_tags(c.request)
    if c.pledge_id is not None and c.helper is not None:
        relay = c.request.relay
        tags += [["e", c.pledge_id, relay, c.helper], ["k", str(kinds.COMMENT)], ["p", c.helper]]
    else:
        tags += _request_parent_tags(c.request)
        if c.helper is not None and c.helper != c.request.author:
            tags.append(["p", c.helper])
    tags += label_tags(RECEIVED) + _money_tags(c.amount, c.currency)
    return EventTemplate(kinds.COMMENT, c.note or c.default_note(), tags)


def parse_confirmation(event: Rumor) -> Confirmation:
    _require_label(event, kinds.COMMENT, RECEIVED, "confirmation")
    ref = parse_root(event, "confirmation")
    amount, currency = _money(event.tags)
    others = [p for p in values(event.tags, "p") if p != ref.author]
    helper = check_hex64(others[0], "helper") if others else None
    pledge_id = None
    if first(event.tags, "k") == str(kinds.COMMENT):
        pledge_id = one(event.tags, "e", "confirmation")
    draft = Confirmation(ref, amount, currency, helper, pledge_id)
    note = normalize_text(event.content)
    note = "" if note == draft.default_note() else note
    return Confirmation(ref, amount, currency, helper, pledge_id, note, Origin.of(event))


@dataclass(frozen=True, slots=True)
class Update:
    """A short news item from the recipient; long accounts belong in a spending report."""

    request: RequestRef
    text: str
    origin: Origin | None = None

    def __post_init__(self) -> None:
        check_text(self.text, "update", MAX_NOTE, empty=False)


def update_template(update: Update) -> EventTemplate:
    tags = comment_tags(update.request) + label_tags(UPDATE)
    return EventTemplate(kinds.COMMENT, update.text, tags)


def parse_update(event: Rumor) -> Update:
    _require_label(event, kinds.COMMENT, UPDATE, "update")
    return Update(parse_root(event, "update"), normalize_text(event.content), Origin.of(event))


Comment = Pledge | Confirmation | Update
# Comment labels and their parsers; shared/aid/parse.py's dispatcher reads this table.
PARSERS: dict[str, Callable[[Rumor], Comment]] = {
    PLEDGE: parse_pledge,
    RECEIVED: parse_confirmation,
    UPDATE: parse_update,
}


@dataclass(frozen=True, slots=True)
class Progress:
    """Totals per currency (never converted): pledged by anyone, received as confirmed.

    ``private_pledges`` counts the private pledges among ``pledges``: nonzero only in the
    recipient's own view, the one that unwrapped them (see :func:`tally`)."""

    pledges: int = 0
    pledged: Mapping[str, Decimal] = field(default_factory=dict)
    confirmations: int = 0
    received: Mapping[str, Decimal] = field(default_factory=dict)
    updates: tuple[Update, ...] = ()
    private_pledges: int = 0
