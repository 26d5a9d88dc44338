"""Vouches and champion attestations: NIP-32 labels (kind 1985) about a person.

A *vouch* is one person saying, in public and under their own key, that they know and
trust another (``["l", "vouch", "mas"]`` on a ``p`` target, an optional reason in the
content). It is a fact other members weigh locally, never an input to a global score;
withdrawing it is a NIP-09 deletion.

An *attestation* is the champion hook: a member signs ``["l", "emergency-key", "mas"]``
on the ``p`` of an emergency key E they created. The member hands it, privately, to
their champions together with E's secret. It is published only when a champion raises
the alarm, next to a request signed by E that names the member as beneficiary; a client
that finds a valid attestation shows "published by a champion for <member>". The
attestation links the member and E, never the member and a champion.

A *revocation* is the member withdrawing E (``["l", "emergency-key-revoked", "mas"]`` on
the ``p`` of E), after removing a champion who holds E's secret. It is published at
once and handed to the remaining champions to re-publish, so a removed champion who
publishes with E anyway is shown as revoked. The champion check query
``{"kinds": [1985], "authors": [member], "#p": [E]}`` returns both labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import (
    Origin,
    check_hex64,
    check_relay,
    check_text,
    hinted,
    label_tags,
    labels,
    normalize_text,
    require_kind,
)
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import EventTemplate, Rumor

VOUCH, EMERGENCY_KEY, REVOKED = "vouch", "emergency-key", "emergency-key-revoked"


def _single_target(event: Rumor, label: str, what: str) -> tuple[str, str]:
    """Kind 1985 with exactly our one label and exactly one ``p`` target: (pubkey, relay)."""
    require_kind(event, kinds.LABEL, what)
    if labels(event.tags) != [label]:
        raise AidError(f"{what} must carry exactly the label ['l', {label!r}, 'mas']")
    targets = [t for t in event.tags if t[0] == "p" and len(t) > 1]
    if len(targets) != 1:
        raise AidError(f"{what} must name exactly one person with a 'p' tag")
    relay = targets[0][2] if len(targets[0]) > 2 else ""
    return check_hex64(targets[0][1], f"{what} target"), relay


@dataclass(frozen=True, slots=True)
class Vouch:
    """ "I know and trust ``subject``", with an optional reason."""

    subject: str
    reason: str = ""
    relay: str = ""
    origin: Origin | None = None

    def __post_init__(self) -> None:
        check_hex64(self.subject, "vouch subject")
        check_text(self.reason, "vouch reason", 2000)
        if self.relay:
            check_relay(self.relay)


def vouch_template(vouch: Vouch) -> EventTemplate:
    tags = [*label_tags(VOUCH), hinted("p", vouch.subject, vouch.relay)]
    return EventTemplate(kinds.LABEL, vouch.reason, tags)


def parse_vouch(event: Rumor) -> Vouch:
    subject, relay = _single_target(event, VOUCH, "vouch")
    if subject == event.pubkey:
        raise AidError("a vouch for oneself means nothing")
    return Vouch(subject, normalize_text(event.content), relay, Origin.of(event))


@dataclass(frozen=True, slots=True)
class Attestation:
    """The member (author) says the emergency key ``emergency_key`` may speak for them."""

    emergency_key: str
    note: str = ""
    origin: Origin | None = None

    def __post_init__(self) -> None:
        check_hex64(self.emergency_key, "emergency key")
        check_text(self.note, "attestation note", 2000)


def attestation_template(attestation: Attestation) -> EventTemplate:
    tags = [*label_tags(EMERGENCY_KEY), ["p", attestation.emergency_key]]
    return EventTemplate(kinds.LABEL, attestation.note, tags)


def parse_attestation(event: Rumor) -> Attestation:
    key, _relay = _single_target(event, EMERGENCY_KEY, "attestation")
    if key == event.pubkey:
        raise AidError("an attestation names a different key than its author's")
    return Attestation(key, normalize_text(event.content), Origin.of(event))


@dataclass(frozen=True, slots=True)
class Revocation:
    """The member (author) says ``emergency_key`` no longer speaks for them."""

    emergency_key: str
    reason: str = ""
    origin: Origin | None = None

    def __post_init__(self) -> None:
        check_hex64(self.emergency_key, "revoked emergency key")
        check_text(self.reason, "revocation reason", 2000)


def revocation_template(revocation: Revocation) -> EventTemplate:
    tags = [*label_tags(REVOKED), ["p", revocation.emergency_key]]
    return EventTemplate(kinds.LABEL, revocation.reason, tags)


def parse_revocation(event: Rumor) -> Revocation:
    key, _relay = _single_target(event, REVOKED, "revocation")
    return Revocation(key, normalize_text(event.content), Origin.of(event))


Trust = Vouch | Attestation | Revocation
# Trust labels and their parsers; shared/aid/parse.py's dispatcher reads this table.
PARSERS: dict[str, Callable[[Rumor], Trust]] = {
    VOUCH: parse_vouch,
    EMERGENCY_KEY: parse_attestation,
    REVOKED: parse_revocation,
}


class ChampionStatus(StrEnum):
    NONE = "none"  # no beneficiary: an ordinary request
    VERIFIED = "verified"  # the beneficiary attested the request's key and never revoked it
    REVOKED = "revoked"  # attested, but the beneficiary has since revoked that key
    UNVERIFIED = "unverified"  # names a beneficiary, but no attestation was found


@dataclass(frozen=True, slots=True)
class ChampionCheck:
    """What a reader may say about who a request speaks for."""

    status: ChampionStatus
    member: str | None = None
    attestation: Attestation | None = None
    revocation: Revocation | None = None


def check_champion(request: AidRequest, label_events: Iterable[Rumor]) -> ChampionCheck:
    """Verify a champion-published request against the member's kind 1985 labels.

    ``label_events`` are events from the champion check query (others are ignored); their
    signatures are the caller's to check. A revocation wins over any attestation,
    whatever the order, because a removed champion could re-publish an old attestation.
    """
    if request.beneficiary is None or request.origin is None:
        return ChampionCheck(ChampionStatus.NONE)
    member, key = request.beneficiary, request.origin.pubkey
    attestation = revocation = None
    for event in label_events:
        if event.pubkey != member:
            continue
        try:
            if REVOKED in labels(event.tags):
                found = parse_revocation(event)
                if found.emergency_key == key:
                    revocation = found
            else:
                parsed = parse_attestation(event)
                if parsed.emergency_key == key:
                    attestation = parsed
        except AidError:
            continue
    if revocation is not None:
        return ChampionCheck(ChampionStatus.REVOKED, member, attestation, revocation)
    if attestation is not None:
        return ChampionCheck(ChampionStatus.VERIFIED, member, attestation)
    return ChampionCheck(ChampionStatus.UNVERIFIED, member)


def champion_for(request: AidRequest, attestations: Iterable[Rumor]) -> str | None:
    """The member a champion-published request speaks for, if a valid, unrevoked
    attestation exists (see :func:`check_champion` for the reason when it does not).

    The request must name a beneficiary and come from a key the beneficiary attested.
    Signatures are the caller's to check (events from a relay pool are verified).
    """
    check = check_champion(request, attestations)
    return check.member if check.status is ChampionStatus.VERIFIED else None
