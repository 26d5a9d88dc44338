"""Social capital: the public facts about one person, gathered locally, never a score.

Each member decides whom to help. This module only collects what the public record
says about a pubkey from whatever events the caller fetched: the requests they made
and where those stand, the spending reports they published, the public pledges they
made, the confirmations in which recipients named them as a helper, and the vouches
they received (marking those from people the reader already trusts). There are no
weights and no totals across kinds, on purpose: a number would become the central
score the design rules out, and would be gamed.

Signatures are checked by default because a relay could otherwise inject flattering
vouches; requests published by a champion count for the member only when the member's
own attestation for that emergency key is among the events.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from shieldmutual.shared.aid.comments import Confirmation, Pledge
from shieldmutual.shared.aid.common import Address, check_hex64
from shieldmutual.shared.aid.parse import read_aid_event
from shieldmutual.shared.aid.report import Report
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.vouch import Attestation, Revocation, Vouch
from shieldmutual.shared.event import Event


@dataclass(frozen=True, slots=True)
class RequestFact:
    address: Address
    title: str
    status: Status
    published_at: int | None
    by_champion: bool
    reported: bool
    revoked_key: bool = False  # published for them by an emergency key they have revoked


@dataclass(frozen=True, slots=True)
class HelpFact:
    """A recipient's confirmation that names this person as their helper."""

    recipient: str
    request: Address
    amount: Decimal | None
    currency: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class PledgeFact:
    """A public pledge this person made (a promise, not money received)."""

    request: Address
    amount: Decimal | None
    currency: str | None
    action: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class VouchFact:
    voucher: str
    created_at: int
    trusted: bool
    reason: str


@dataclass(frozen=True, slots=True)
class SocialCapital:
    pubkey: str
    first_seen: int | None
    requests: tuple[RequestFact, ...]
    reports: tuple[Address, ...]
    pledges: tuple[PledgeFact, ...]
    help_confirmed: tuple[HelpFact, ...]
    vouches: tuple[VouchFact, ...]

    @property
    def pledges_made(self) -> int:
        return len(self.pledges)

    def requests_by_status(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for fact in self.requests:
            counts[fact.status] += not fact.revoked_key
        return counts

    @property
    def unreported(self) -> tuple[RequestFact, ...]:
        """Funded or closed requests with no spending report among the events seen."""
        return tuple(
            r
            for r in self.requests
            if r.status != Status.OPEN and not r.reported and not r.revoked_key
        )

    @property
    def trusted_vouches(self) -> tuple[VouchFact, ...]:
        return tuple(v for v in self.vouches if v.trusted)


def _emergency_keys(pubkey: str, ordered: list[Event]) -> tuple[set[str], set[str]]:
    """The emergency keys ``pubkey`` attested and never revoked, and those it revoked."""
    attested: set[str] = set()
    revoked: set[str] = set()
    for event in ordered:
        if event.pubkey == pubkey:
            item = read_aid_event(event)
            if isinstance(item, Attestation):
                attested.add(item.emergency_key)
            elif isinstance(item, Revocation):
                revoked.add(item.emergency_key)
    return attested - revoked, revoked


@dataclass
class _Facts:
    """What :func:`summarize` gathers about one person, event by event (oldest first)."""

    pubkey: str
    emergency_keys: set[str]
    revoked: set[str]
    trusted: Collection[str]
    requests: dict[Address, tuple[AidRequest, bool]] = field(default_factory=dict)
    reports: dict[Address, Address] = field(default_factory=dict)
    all_requests: dict[Address, AidRequest] = field(default_factory=dict)
    pledges: list[PledgeFact] = field(default_factory=list)
    helped: list[HelpFact] = field(default_factory=list)
    vouches: dict[str, VouchFact] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        item, mine = read_aid_event(event), event.pubkey == self.pubkey
        if isinstance(item, AidRequest):
            self._request(event, item)
        elif isinstance(item, Report) and mine:
            self.reports[item.address(event.pubkey)] = item.request
        elif isinstance(item, Pledge) and mine and not item.private:
            fact = PledgeFact(
                item.request.address, item.amount, item.currency, item.action, event.created_at
            )
            self.pledges.append(fact)
        elif isinstance(item, Confirmation) and item.helper == self.pubkey:
            self.helped.append(
                HelpFact(
                    event.pubkey,
                    item.request.address,
                    item.amount,
                    item.currency,
                    event.created_at,
                )
            )
        elif isinstance(item, Vouch) and item.subject == self.pubkey:
            trust = event.pubkey in self.trusted
            self.vouches[event.pubkey] = VouchFact(
                event.pubkey, event.created_at, trust, item.reason
            )

    def confirmed_by_recipient(self, fact: HelpFact) -> bool:
        """Only the request's author, or the member a champion spoke for, can confirm."""
        if fact.recipient == fact.request.pubkey:
            return True
        request = self.all_requests.get(fact.request)
        return request is not None and request.beneficiary == fact.recipient

    def capital(self, first_seen: int | None) -> SocialCapital:
        reported = set(self.reports.values())
        facts = tuple(
            RequestFact(
                address, r.title, r.status, r.published_at, champion, address in reported,
                revoked_key=address.pubkey in self.revoked,
            )
            for address, (r, champion) in self.requests.items()
        )  # fmt: skip
        return SocialCapital(
            pubkey=self.pubkey,
            first_seen=first_seen,
            requests=facts,
            reports=tuple(self.reports),
            pledges=tuple(self.pledges),
            help_confirmed=tuple(f for f in self.helped if self.confirmed_by_recipient(f)),
            vouches=tuple(self.vouches.values()),
        )

    def _request(self, event: Event, request: AidRequest) -> None:
        address = request.address(event.pubkey)
        self.all_requests[address] = request
        for_them = request.beneficiary == self.pubkey
        champion = for_them and event.pubkey in self.emergency_keys
        if event.pubkey == self.pubkey or champion or (for_them and event.pubkey in self.revoked):
            self.requests[address] = (request, champion)


def summarize(
    pubkey: str,
    events: Iterable[Event],
    *,
    trusted: Collection[str] = (),
    verify: bool = True,
) -> SocialCapital:
    """The facts about ``pubkey`` in ``events``; invalid or unrelated events are skipped."""
    check_hex64(pubkey, "pubkey")
    unique = {e.id: e for e in events if not verify or e.is_valid()}
    ordered = sorted(unique.values(), key=lambda e: (e.created_at, e.id))
    first_seen = min((e.created_at for e in ordered if e.pubkey == pubkey), default=None)
    # A removed champion's key speaks for nobody, but what it published in their name is
    # still shown, marked, so a reader is not misled by it.
    emergency_keys, revoked = _emergency_keys(pubkey, ordered)
    facts = _Facts(pubkey, emergency_keys, revoked, trusted)
    for event in ordered:  # oldest first, so a later version of an address wins
        facts.add(event)
    return facts.capital(first_seen)


@dataclass(frozen=True, slots=True)
class Answers:
    """The founding essay's questions about a person, answered for one reader (``mine``:
    the reader's identities; ``trusted``: whom the reader trusts), with the evidence."""

    helped_me: tuple[HelpFact, ...]  # help that one of my identities confirmed
    pledged_to_me: tuple[PledgeFact, ...]  # their public pledges to my requests
    paid_forward: tuple[HelpFact, ...]  # help that others confirmed
    pledged_to_others: tuple[PledgeFact, ...]
    trusted_vouches: tuple[VouchFact, ...]


def answer(facts: SocialCapital, mine: Collection[str]) -> Answers:
    """Sort the facts by whom they concern: the reader, or everybody else."""
    return Answers(
        helped_me=tuple(h for h in facts.help_confirmed if h.recipient in mine),
        pledged_to_me=tuple(p for p in facts.pledges if p.request.pubkey in mine),
        paid_forward=tuple(h for h in facts.help_confirmed if h.recipient not in mine),
        pledged_to_others=tuple(p for p in facts.pledges if p.request.pubkey not in mine),
        trusted_vouches=facts.trusted_vouches,
    )
