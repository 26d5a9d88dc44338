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
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.comments import parse_confirmation, parse_pledge
from shieldmutual.shared.aid.common import Address, check_hex64, labels
from shieldmutual.shared.aid.report import parse_report
from shieldmutual.shared.aid.request import AidRequest, Status, parse_request
from shieldmutual.shared.aid.vouch import parse_attestation, parse_revocation, parse_vouch
from shieldmutual.shared.errors import AidError
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


def _label_of(event: Event) -> str | None:
    found = labels(event.tags)
    return found[0] if len(found) == 1 else None


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

    emergency_keys: set[str] = set()
    revoked: set[str] = set()
    for event in ordered:
        if event.kind == kinds.LABEL and event.pubkey == pubkey:
            with suppress(AidError):
                emergency_keys.add(parse_attestation(event).emergency_key)
            with suppress(AidError):
                revoked.add(parse_revocation(event).emergency_key)
    emergency_keys -= revoked  # a removed champion's key speaks for nobody, but what it
    # published in their name is still shown, marked, so a reader is not misled by it

    requests: dict[Address, tuple[AidRequest, bool]] = {}
    reports: dict[Address, Address] = {}
    all_requests: dict[Address, AidRequest] = {}
    pledges: list[PledgeFact] = []
    helped: list[HelpFact] = []
    vouches: dict[str, VouchFact] = {}
    for event in ordered:  # oldest first, so a later version of an address wins
        try:
            if event.kind == kinds.CLASSIFIED:
                request = parse_request(event)
                address = request.address(event.pubkey)
                all_requests[address] = request
                for_them = request.beneficiary == pubkey
                champion = for_them and event.pubkey in emergency_keys
                if event.pubkey == pubkey or champion or (for_them and event.pubkey in revoked):
                    requests[address] = (request, champion)
            elif event.kind == kinds.LONG_FORM and event.pubkey == pubkey:
                report = parse_report(event)
                reports[report.address(event.pubkey)] = report.request
            elif event.kind == kinds.COMMENT and _label_of(event) == "pledge":
                if event.pubkey == pubkey:
                    pledge = parse_pledge(event)  # counts only if it is a well-formed pledge
                    pledges.append(
                        PledgeFact(
                            pledge.request.address,
                            pledge.amount,
                            pledge.currency,
                            pledge.action,
                            event.created_at,
                        )
                    )
            elif event.kind == kinds.COMMENT and _label_of(event) == "received":
                confirmation = parse_confirmation(event)
                if confirmation.helper == pubkey:
                    helped.append(
                        HelpFact(
                            event.pubkey,
                            confirmation.request.address,
                            confirmation.amount,
                            confirmation.currency,
                            event.created_at,
                        )
                    )
            elif event.kind == kinds.LABEL and _label_of(event) == "vouch":
                vouch = parse_vouch(event)
                if vouch.subject == pubkey:
                    trust = event.pubkey in trusted
                    vouches[event.pubkey] = VouchFact(
                        event.pubkey, event.created_at, trust, vouch.reason
                    )
        except AidError:
            continue

    def by_recipient(fact: HelpFact) -> bool:
        # Only the request's author, or the member a champion spoke for, can confirm.
        if fact.recipient == fact.request.pubkey:
            return True
        request = all_requests.get(fact.request)
        return request is not None and request.beneficiary == fact.recipient

    reported = set(reports.values())
    facts = tuple(
        RequestFact(
            address, r.title, r.status, r.published_at, champion, address in reported,
            revoked_key=address.pubkey in revoked,
        )
        for address, (r, champion) in requests.items()
    )  # fmt: skip
    return SocialCapital(
        pubkey=pubkey,
        first_seen=first_seen,
        requests=facts,
        reports=tuple(reports),
        pledges=tuple(pledges),
        help_confirmed=tuple(f for f in helped if by_recipient(f)),
        vouches=tuple(vouches.values()),
    )


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
