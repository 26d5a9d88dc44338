"""Everything said about one request, sorted and checked: pledges, confirmations,
updates, reports, syndications and the champion check.

Pure, so the client (over its relay pool) and the relay's web pages (over its own
store) read a request's thread by the same rules: only the author, or the member a
verified champion request speaks for, may confirm, update or report.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.comments import Comment, Confirmation, Pledge, Progress, Update
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.notes import Syndication
from shieldmutual.shared.aid.parse import read_aid_event, read_as
from shieldmutual.shared.aid.report import Report
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.vouch import ChampionCheck, ChampionStatus, check_champion
from shieldmutual.shared.event import Event, Rumor
from shieldmutual.shared.filter import Filter


def latest(events: Iterable[Event]) -> Event | None:
    """The current version of an addressable event: newest, then lowest id (NIP-01)."""
    return min(events, key=lambda e: (-e.created_at, e.id), default=None)


def current_versions(events: Iterable[Event]) -> list[Event]:
    """The latest version per ``(kind, pubkey, d)``, newest first (relays may hold old ones)."""
    versions: dict[tuple[int, str, str], list[Event]] = {}
    for event in events:
        versions.setdefault((event.kind, event.pubkey, event.d_tag), []).append(event)
    found = [latest(group) for group in versions.values()]
    return sorted((e for e in found if e is not None), key=lambda e: (-e.created_at, e.id))


@dataclass(frozen=True, slots=True)
class Thread:
    """Everything relays hold about one request, parsed and checked."""

    recipients: frozenset[str]
    champion: ChampionCheck
    progress: Progress
    pledges: tuple[Pledge, ...] = ()
    confirmations: tuple[Confirmation, ...] = ()
    reports: tuple[Report, ...] = ()
    syndications: tuple[Syndication, ...] = ()
    events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def updates(self) -> tuple[Update, ...]:
        return self.progress.updates


def thread_filters(address: Address, beneficiary: str | None = None) -> list[Filter]:
    """Comments, syndications and reports of ``address``, and the champion check
    (the beneficiary's attestations and revocations of the request's key)."""
    coordinate = frozenset([str(address)])
    filters = [
        Filter(kinds=frozenset([kinds.COMMENT]), tags={"A": coordinate}),
        Filter(kinds=frozenset([kinds.GENERIC_REPOST, kinds.LONG_FORM]), tags={"a": coordinate}),
    ]
    if beneficiary is not None:
        filters.append(
            Filter(
                kinds=frozenset([kinds.LABEL]),
                authors=frozenset([beneficiary]),
                tags={"p": frozenset([address.pubkey])},
            )
        )
    return filters


def thread_of(
    request: AidRequest,
    address: Address,
    events: Iterable[Event],
    private: Iterable[Rumor] = (),
) -> Thread:
    """Sort the events fetched about ``request`` (at ``address``) into a :class:`Thread`.

    ``private`` are kind 14 rumors the recipient unwrapped: given only in the
    recipient's own view, so nobody else's counts or shows them."""
    events = list({e.id: e for e in events}.values())
    champion = check_champion(request, [e for e in events if e.kind == kinds.LABEL])
    member = champion.member if champion.status is ChampionStatus.VERIFIED else None
    recipients = frozenset({address.pubkey, *([member] if member else [])})
    comments: list[Rumor] = [e for e in events if e.kind == kinds.COMMENT]
    comments += [r for r in private if r.kind == kinds.DIRECT_MESSAGE]
    pledges: list[Pledge] = []
    confirmations: list[Confirmation] = []
    for event in sorted(comments, key=lambda e: (e.created_at, e.id)):
        item = read_aid_event(event)
        if not isinstance(item, Pledge | Confirmation) or item.request.address != address:
            continue
        if isinstance(item, Pledge):
            pledges.append(item)
        elif event.pubkey in recipients:
            confirmations.append(item)
    return Thread(
        recipients=recipients,
        champion=champion,
        progress=tally(address, recipients, comments),
        pledges=tuple(pledges),
        confirmations=tuple(confirmations),
        reports=_reports(address, recipients, events),
        syndications=_syndications(address, events),
        events=tuple(events),
    )


def _reports(
    address: Address, recipients: frozenset[str], events: list[Event]
) -> tuple[Report, ...]:
    """Latest version of each recipient's report about ``address``, oldest first."""
    mine = [e for e in events if e.kind == kinds.LONG_FORM and e.pubkey in recipients]
    found = (read_as(event, Report) for event in reversed(current_versions(mine)))
    return tuple(report for report in found if report and report.request == address)


def _syndications(address: Address, events: list[Event]) -> tuple[Syndication, ...]:
    ordered = sorted(events, key=lambda e: (e.created_at, e.id))
    found = (read_as(e, Syndication) for e in ordered if e.kind == kinds.GENERIC_REPOST)
    return tuple(s for s in found if s and s.request.address == address)


def tally(address: Address, recipients: Collection[str], events: Iterable[Rumor]) -> Progress:
    """Progress of one request from its comments; only ``recipients`` may confirm or update.

    ``recipients`` is the request's author plus its beneficiary when a champion published
    it. Invalid or unrelated events are skipped; each event id counts once. Signatures
    are the caller's to check (the relay pool verifies what it receives). Kind 14 rumors
    (private pledges) count only when the caller passes them: the recipient, who
    unwrapped them, and nobody else.
    """
    pledged: dict[str, Decimal] = {}
    received: dict[str, Decimal] = {}
    seen: set[str] = set()
    pledges = confirmations = private = 0
    updates: list[Update] = []
    for event in events:
        if event.id in seen:
            continue
        seen.add(event.id)
        item = read_aid_event(event)
        if not isinstance(item, Comment) or item.request.address != address:
            continue
        if isinstance(item, Pledge):
            pledges += 1
            private += item.private
            if item.amount is not None and item.currency is not None:
                pledged[item.currency] = pledged.get(item.currency, Decimal(0)) + item.amount
        elif event.pubkey not in recipients:
            continue
        elif isinstance(item, Confirmation):
            confirmations += 1
            if item.amount is not None and item.currency is not None:
                received[item.currency] = received.get(item.currency, Decimal(0)) + item.amount
        elif isinstance(item, Update):
            updates.append(item)
    updates.sort(key=lambda u: u.origin.created_at if u.origin else 0)
    return Progress(pledges, pledged, confirmations, received, tuple(updates), private)
