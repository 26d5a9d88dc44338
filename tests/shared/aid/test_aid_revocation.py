"""Revoking an emergency key: the label, the reader's check, and social capital."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shieldmutual.shared.aid.capital import summarize
from shieldmutual.shared.aid.parse import parse_aid_event
from shieldmutual.shared.aid.request import AidRequest, parse_request, request_event_template
from shieldmutual.shared.aid.vouch import (
    Attestation,
    ChampionStatus,
    Revocation,
    attestation_template,
    champion_for,
    check_champion,
    parse_revocation,
    revocation_template,
)
from shieldmutual.shared.errors import AidError

People = Any


def _story(people: People, request_obj: AidRequest) -> tuple[AidRequest, Any, Any]:
    alice, emergency = people.alice, people.emergency
    on_behalf = replace(request_obj, beneficiary=alice.public_hex, identifier="held")
    published = parse_request(people.sign(emergency, request_event_template(on_behalf)))
    attestation = people.sign(alice, attestation_template(Attestation(emergency.public_hex)))
    revocation = people.sign(
        alice, revocation_template(Revocation(emergency.public_hex, "removed a champion")), 2
    )
    return published, attestation, revocation


def test_revocation_label_round_trips(people: People) -> None:
    template = revocation_template(Revocation(people.emergency.public_hex, "lost trust"))
    assert template.kind == 1985
    assert template.tags == [
        ["L", "mas"],
        ["l", "emergency-key-revoked", "mas"],
        ["p", people.emergency.public_hex],
    ]
    event = people.sign(people.alice, template)
    parsed = parse_revocation(event)
    assert (parsed.emergency_key, parsed.reason) == (people.emergency.public_hex, "lost trust")
    assert isinstance(parse_aid_event(event), Revocation)
    with pytest.raises(AidError):
        parse_revocation(people.sign(people.alice, attestation_template(Attestation("ab" * 32))))


def test_check_champion_states(people: People, request_obj: AidRequest) -> None:
    published, attestation, revocation = _story(people, request_obj)
    alice = people.alice.public_hex
    verified = check_champion(published, [attestation])
    assert (verified.status, verified.member) == (ChampionStatus.VERIFIED, alice)
    assert verified.attestation is not None and verified.revocation is None
    # Revoked wins whatever order the labels come in.
    for labels in ([attestation, revocation], [revocation, attestation]):
        check = check_champion(published, labels)
        assert check.status is ChampionStatus.REVOKED and check.member == alice
        assert check.revocation is not None and check.revocation.reason == "removed a champion"
        assert champion_for(published, labels) is None
    assert check_champion(published, []).status is ChampionStatus.UNVERIFIED
    # A revocation signed by someone else is ignored.
    forged = people.sign(people.bob, revocation_template(Revocation(people.emergency.public_hex)))
    assert check_champion(published, [attestation, forged]).status is ChampionStatus.VERIFIED
    ordinary = parse_request(people.sign(people.alice, request_event_template(request_obj)))
    assert check_champion(ordinary, [attestation]).status is ChampionStatus.NONE


def test_revoked_key_counts_for_nobody(people: People, request_obj: AidRequest) -> None:
    """Still shown (issue 11 §B: whois marks it), but never as the member's own."""
    alice, emergency = people.alice, people.emergency
    on_behalf = replace(request_obj, beneficiary=alice.public_hex, identifier="held")
    event = people.sign(emergency, request_event_template(on_behalf))
    _, attestation, revocation = _story(people, request_obj)
    (verified,) = summarize(alice.public_hex, [event, attestation]).requests
    assert verified.by_champion and not verified.revoked_key
    facts = summarize(alice.public_hex, [event, attestation, revocation])
    (revoked,) = facts.requests
    assert revoked.revoked_key and not revoked.by_champion
    assert sum(facts.requests_by_status().values()) == 0
