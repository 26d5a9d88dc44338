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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import (
    EventLike,
    EventTemplate,
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

VOUCH, EMERGENCY_KEY = "vouch", "emergency-key"


def _single_target(event: EventLike, label: str, what: str) -> tuple[str, str]:
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


def parse_vouch(event: EventLike) -> Vouch:
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


def parse_attestation(event: EventLike) -> Attestation:
    key, _relay = _single_target(event, EMERGENCY_KEY, "attestation")
    if key == event.pubkey:
        raise AidError("an attestation names a different key than its author's")
    return Attestation(key, normalize_text(event.content), Origin.of(event))


def champion_for(request: AidRequest, attestations: Iterable[EventLike]) -> str | None:
    """The member a champion-published request speaks for, if a valid attestation exists.

    The request must name a beneficiary and come from a key the beneficiary attested.
    Signatures are the caller's to check (events from a relay pool are verified).
    """
    if request.beneficiary is None or request.origin is None:
        return None
    for event in attestations:
        try:
            attestation = parse_attestation(event)
        except AidError:
            continue
        if event.pubkey == request.beneficiary and attestation.emergency_key == (
            request.origin.pubkey
        ):
            return request.beneficiary
    return None
