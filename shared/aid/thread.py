"""Everything said about one request, sorted and checked: pledges, confirmations,
updates, reports, syndications and the champion check.

Pure, so the client (over its relay pool) and the relay's web pages (over its own
store) read a request's thread by the same rules: only the author, or the member a
verified champion request speaks for, may confirm, update or report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    Progress,
    Update,
    parse_confirmation,
    parse_pledge,
    tally,
)
from shieldmutual.shared.aid.common import Address, EventLike, labels
from shieldmutual.shared.aid.notes import Syndication, parse_syndication
from shieldmutual.shared.aid.report import Report, parse_report
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.vouch import ChampionCheck, ChampionStatus, check_champion
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import Event


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


def thread_filters(address: Address, beneficiary: str | None = None) -> list[dict]:
    """Comments, syndications and reports of ``address``, and the champion check
    (the beneficiary's attestations and revocations of the request's key)."""
    coordinate = str(address)
    filters: list[dict] = [
        {"kinds": [kinds.COMMENT], "#A": [coordinate]},
        {"kinds": [kinds.GENERIC_REPOST, kinds.LONG_FORM], "#a": [coordinate]},
    ]
    if beneficiary is not None:
        filters.append({"kinds": [kinds.LABEL], "authors": [beneficiary], "#p": [address.pubkey]})
    return filters


def thread_of(
    request: AidRequest,
    address: Address,
    events: Iterable[Event],
    private: Iterable[EventLike] = (),
) -> Thread:
    """Sort the events fetched about ``request`` (at ``address``) into a :class:`Thread`.

    ``private`` are kind 14 rumors the recipient unwrapped: given only in the
    recipient's own view, so nobody else's counts or shows them."""
    events = list({e.id: e for e in events}.values())
    champion = check_champion(request, [e for e in events if e.kind == kinds.LABEL])
    member = champion.member if champion.status is ChampionStatus.VERIFIED else None
    recipients = frozenset({address.pubkey, *([member] if member else [])})
    comments: list[EventLike] = [e for e in events if e.kind == kinds.COMMENT]
    comments += [r for r in private if r.kind == kinds.DIRECT_MESSAGE]
    pledges: list[Pledge] = []
    confirmations: list[Confirmation] = []
    for event in sorted(comments, key=lambda e: (e.created_at, e.id)):
        found_labels = labels(event.tags)
        try:
            if "pledge" in found_labels:
                pledge = parse_pledge(event)
                if pledge.request.address == address:
                    pledges.append(pledge)
            elif "received" in found_labels and event.pubkey in recipients:
                confirmation = parse_confirmation(event)
                if confirmation.request.address == address:
                    confirmations.append(confirmation)
        except AidError:
            continue
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
    reports = []
    for event in reversed(current_versions(mine)):
        try:
            report = parse_report(event)
        except AidError:
            continue
        if report.request == address:
            reports.append(report)
    return tuple(reports)


def _syndications(address: Address, events: list[Event]) -> tuple[Syndication, ...]:
    found = []
    for event in sorted(events, key=lambda e: (e.created_at, e.id)):
        if event.kind != kinds.GENERIC_REPOST:
            continue
        try:
            syndication = parse_syndication(event)
        except AidError:
            continue
        if syndication.request.address == address:
            found.append(syndication)
    return tuple(found)
