"""Mutual aid over the relay pool: find a request and everything said about it.

shared/aid turns events into objects; this module is the I/O edge that fetches those
events from many relays at once, so every command (request, feed, export, pledge,
confirm, update, report, whois) reads a request the same way and nothing is fetched
twice in two slightly different manners.

API (async unless noted; ``pool`` is a :class:`~shieldmutual.client.pool.Pool`)::

    pointer = parse_pointer("naddr1...")   # sync; also nostr:naddr1... or 30402:<pk>:<d>
    pointer.address, pointer.relays        # Address, relay hints from the naddr

    found = await fetch_request(pool, pointer)     # RequestRecord (latest version)
    found.event, found.request, found.address, found.naddr(relays)
    # raises NotFoundError (exit 1) when no relay holds a valid version

    thread = await fetch_thread(pool, found)       # Thread: what was said about it
    thread.pledges, thread.confirmations, thread.updates   # parsed, recipients checked
    thread.reports, thread.syndications, thread.progress   # Progress (comments.tally)
    thread.champion        # shared.aid.vouch.ChampionCheck: status NONE / VERIFIED /
                           # REVOKED / UNVERIFIED, and the member named as beneficiary
    thread.recipients      # who may confirm, update and report

    found, thread = await load_request(pool, "naddr1...")   # both in one call
    threads = await fetch_threads(pool, records)   # {address: Thread}: one uniform query
    events = await fetch_said(pool, since)         # what split_threads(records, events) sorts
    rumors = private_pledges(await champions.inbox(pool, me), found.address)
    thread = await fetch_thread(pool, found, rumors)   # the recipient's own view

    societies = await fetch_societies(pool, slugs=("leeds",))       # list[SocietyRecord]
    current_versions(events)       # sync: latest per (kind, pubkey, d), newest first

    report = await publish(pool, secret, template)          # sign + publish everywhere
    require_acks(report, min_acks=1)                         # sync; RelayError (exit 3)

Every event the pool hands over has been verified (id and signature), so the counting
functions of shared/aid can trust authors. Relay hints in an naddr are queried too:
a request published elsewhere must still be found from a link someone pasted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shieldmutual.client.config import normalize_relay_url
from shieldmutual.client.errors import NotFoundError, RelayError
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared import event as event_mod
from shieldmutual.shared import kinds, nip19
from shieldmutual.shared.aid.comments import Pledge
from shieldmutual.shared.aid.common import (
    MUTUAL_AID,
    NAMESPACE,
    Address,
)
from shieldmutual.shared.aid.feed import read_listing
from shieldmutual.shared.aid.parse import read_as
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.society import Society, mas_tag, parse_society
from shieldmutual.shared.aid.thread import (
    Thread,
    current_versions,
    thread_filters,
    thread_of,
)
from shieldmutual.shared.aid.vouch import EMERGENCY_KEY, REVOKED
from shieldmutual.shared.errors import AidError, InvalidError
from shieldmutual.shared.event import Event, EventTemplate, Rumor
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

if TYPE_CHECKING:
    from shieldmutual.shared.nip59 import Unwrapped


@dataclass(frozen=True, slots=True)
class RequestPointer:
    """Where a request lives: its address and the relays an naddr suggested."""

    address: Address
    relays: tuple[str, ...] = ()

    @property
    def coordinate(self) -> str:
        return str(self.address)


def parse_pointer(text: str) -> RequestPointer:
    """An aid request pointer from ``naddr1...``, ``nostr:naddr1...`` or ``30402:<pk>:<d>``."""
    value = text.strip()
    if value[:1].isdigit():
        return RequestPointer(Address.parse(value, kinds.CLASSIFIED))
    try:
        kind, decoded = nip19.decode(value)
    except InvalidError as exc:
        raise AidError(f"not an naddr or 30402:<pubkey>:<d> coordinate: {exc}") from None
    if not isinstance(decoded, nip19.AddressPointer):
        raise AidError(f"expected an naddr of an aid request, got {kind}")
    if decoded.kind != kinds.CLASSIFIED:
        raise AidError(f"the naddr points at kind {decoded.kind}, not an aid request (30402)")
    address = Address(decoded.kind, decoded.pubkey, decoded.identifier)
    return RequestPointer(address, _usable_relays(decoded.relays))


def _usable_relays(hints: Iterable[str]) -> tuple[str, ...]:
    """Hints that are valid relay URLs; a bad hint is skipped, never fatal."""
    good = []
    for hint in hints:
        try:
            good.append(normalize_relay_url(hint))
        except InvalidError:
            continue
    return tuple(dict.fromkeys(good))


def address_filter(address: Address) -> Filter:
    """Every version of the addressable event at ``address`` (NIP-01 ``#d``)."""
    return Filter(
        kinds=frozenset({address.kind}),
        authors=frozenset({address.pubkey}),
        tags={"d": frozenset({address.identifier})},
    )


def _targets(pool: Pool, hints: Sequence[str] = ()) -> list[str]:
    """The pool's relays, then the usable hints (a malformed hint must not fail a query)."""
    return list(dict.fromkeys([*pool.relays, *_usable_relays(hints)]))


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """The latest valid version of a request, as event and object."""

    event: Event
    request: AidRequest
    relays: tuple[str, ...] = ()  # where it was looked for (hints first)

    @property
    def address(self) -> Address:
        return Address.of(self.event)

    def naddr(self, relays: Sequence[str] | None = None) -> str:
        """NIP-19 naddr with up to three relay hints (default: where it was looked for)."""
        hints = tuple(self.relays if relays is None else relays)[:3]
        return self.address.naddr(hints)


async def fetch_request(
    pool: Pool, pointer: RequestPointer, read: Callable[[Event], Any] = read_listing
) -> RequestRecord:
    """The latest valid version of the request at ``pointer`` across the pool and hints.

    ``read`` parses a version; an offer (shared/aid/offer.py) is found the same way with
    ``read=parse_offer``, its record's ``request`` then being the :class:`Offer`."""
    address = pointer.address
    relays = _targets(pool, pointer.relays)
    async with pool.subscribe([address_filter(address)], relays) as sub:
        events = [e async for e in sub if e.d_tag == address.identifier]
    if not events and not any(s.eose_after is not None for s in sub.stats.values()):
        raise RelayError(f"no relay answered (asked {len(relays)}) for {address}")
    errors = []
    for event in sorted(events, key=lambda e: (-e.created_at, e.id)):
        try:
            request = read(event)  # ours, or another app's mas- tagged listing
        except AidError as exc:
            errors.append(str(exc))
            continue
        hints = _usable_relays(pointer.relays)
        return RequestRecord(event, request, tuple(dict.fromkeys([*hints, *relays])))
    if errors:
        raise NotFoundError(f"no valid version of {address} ({errors[0]})")
    raise NotFoundError(f"no relay holds the request {address}")


async def fetch_thread(pool: Pool, found: RequestRecord, private: Iterable[Rumor] = ()) -> Thread:
    """Pledges, confirmations, updates, reports, syndications and the champion check of
    the one request the user opened (naming it is inherent to opening a link), paged
    past a relay's result cap so a busy thread is counted whole."""
    filters = thread_filters(found.address, found.request.beneficiary)
    events = await pool.fetch_paged(filters, _targets(pool, found.relays))
    return thread_of(found.request, found.address, events, private)


def said_filters(since: int | None = None, *, labels_since: int | None = None) -> list[Filter]:
    """What was said about every request, the same query for every reader: all ``mas``
    comments (pledges, confirmations, updates), all ``mutualaid`` syndications and
    reports, and every emergency-key attestation and revocation. Naming the requests
    shown instead would tell a relay which societies the reader follows (PROTOCOL §16.9).

    ``since`` windows the first three as the feed's own query is windowed; the champion
    labels only by ``labels_since`` (a refresh), since an attestation predates its request.
    """
    return [
        Filter(kinds=frozenset([kinds.COMMENT]), tags={"L": frozenset([NAMESPACE])}, since=since),
        Filter(
            kinds=frozenset([kinds.GENERIC_REPOST, kinds.LONG_FORM]),
            tags={"t": frozenset([MUTUAL_AID])},
            since=since,
        ),
        Filter(
            kinds=frozenset([kinds.LABEL]),
            tags={"l": frozenset([EMERGENCY_KEY, REVOKED])},
            since=labels_since,
        ),
    ]


async def fetch_said(
    pool: Pool, since: int | None = None, *, labels_since: int | None = None
) -> list[Event]:
    """The events of :func:`said_filters`, paged past each relay's result cap."""
    filters = said_filters(since, labels_since=labels_since)
    return await pool.fetch_paged(filters)


def split_threads(records: Sequence[RequestRecord], events: Iterable[Event]) -> dict[str, Thread]:
    """Pure: the events of a uniform query sorted into one :class:`Thread` per address
    (by the ``A``/``a`` tag naming it; labels go to every request, check_champion picks)."""
    by_address: dict[str, list[Event]] = {str(r.address): [] for r in records}
    shared: list[Event] = []
    for event in events:
        if event.kind == kinds.LABEL:
            shared.append(event)
            continue
        name = "A" if event.kind == kinds.COMMENT else "a"
        for coordinate in {t[1] for t in event.tags if len(t) > 1 and t[0] == name}:
            if coordinate in by_address:
                by_address[coordinate].append(event)
    return {
        str(r.address): thread_of(r.request, r.address, [*by_address[str(r.address)], *shared])
        for r in records
    }


async def fetch_threads(
    pool: Pool, records: Sequence[RequestRecord], since: int | None = None
) -> dict[str, Thread]:
    """The threads of many requests (a feed or list page), keyed by address, from one
    uniform query (:func:`said_filters`) whatever the requests are."""
    return split_threads(records, await fetch_said(pool, since))


def private_pledges(opened: Iterable[Unwrapped], address: Address) -> list[Rumor]:
    """The kind 14 rumors labelled ``pledge`` for ``address`` in a recipient's inbox."""
    found = []
    for item in opened:
        pledge = read_as(item.rumor, Pledge)
        if pledge is not None and pledge.private and pledge.request.address == address:
            found.append(item.rumor)
    return found


async def load_request(pool: Pool, text: str | RequestPointer) -> tuple[RequestRecord, Thread]:
    """The request named by ``text`` (an naddr, or a pointer already resolved) and its thread."""
    pointer = text if isinstance(text, RequestPointer) else parse_pointer(text)
    found = await fetch_request(pool, pointer)
    return found, await fetch_thread(pool, found)


@dataclass(frozen=True, slots=True)
class SocietyRecord:
    event: Event
    society: Society


async def fetch_societies(
    pool: Pool, slugs: Sequence[str] = (), authors: Sequence[str] = ()
) -> list[SocietyRecord]:
    """Society definitions (kind 34550 with ``t mutualaid``), latest per author and slug.

    Several people may describe the same slug; all are returned, newest first, and the
    caller (the user) chooses whose description to believe.
    """
    flt: dict[str, Any] = {
        "kinds": [kinds.COMMUNITY],
        "#t": [mas_tag(s) for s in slugs] or ["mutualaid"],
    }
    if authors:
        flt["authors"] = list(authors)
    records = []
    for event in current_versions(await pool.fetch([Filter.from_dict(flt)])):
        try:
            society = parse_society(event)
        except AidError:
            continue
        if not slugs or society.slug in slugs:
            records.append(SocietyRecord(event, society))
    return records


async def publish(
    pool: Pool, secret: SecretKey, template: EventTemplate, relays: Sequence[str] | None = None
) -> PublishReport:
    """Sign ``template`` with ``secret`` and publish it to every relay (or ``relays``)."""
    event = event_mod.sign(secret, template.kind, template.content, template.tags)
    return await pool.publish(event, relays)


def require_acks(report: PublishReport, min_acks: int = 1) -> None:
    """:class:`RelayError` (exit 3) unless at least ``min_acks`` relays hold the event."""
    if not report.ok(min_acks):
        why = "; ".join(
            f"{r.relay}: {r.status}" + (f" ({r.message})" if r.message else "")
            for r in report.results
            if not r.ok
        )
        raise RelayError(
            f"only {report.acks} of {len(report.results)} relays accepted event "
            f"{report.event.id[:12]}… (needed {min_acks}): {why}"
        )
