"""Acting on a member's behalf, pure: the template refusal, appended facts, status, the
member's notice, and a second activation built on the version relays hold."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shieldmutual.shared.aid.behalf import (
    activation_notice,
    add_fact,
    check_not_example,
    emergency_identifier,
    emergency_request,
    example_leftovers,
)
from shieldmutual.shared.aid.champion import Package
from shieldmutual.shared.aid.draft import example_request
from shieldmutual.shared.aid.helping import CallFlood, Payment
from shieldmutual.shared.aid.markdown import parse_template, render_template
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.vouch import Attestation, attestation_template
from shieldmutual.shared.errors import AidError

T0 = 1_800_000_000


def test_the_unedited_template_is_refused() -> None:
    """Finding: `champion add` handed over the example's rent story and payment addresses."""
    example = parse_template(render_template(example_request(T0), hints=True))
    leftovers = example_leftovers(example)
    assert leftovers[:2] == ["its summary", "its story"]
    assert "its payment address 'sam@pay.example'" in leftovers
    assert "its phone number '+44 113 496 0000'" in leftovers
    with pytest.raises(AidError, match="unedited example from `mas request template`"):
        check_not_example(example)


def test_only_the_example_payment_or_phone_left_is_still_refused(request_obj: AidRequest) -> None:
    assert check_not_example(request_obj) is request_obj
    lent = replace(request_obj, payments=(Payment("lightning", "sam@pay.example"),))
    assert example_leftovers(lent) == ["its payment address 'sam@pay.example'"]
    called = replace(request_obj, actions=(CallFlood("+44 113 496 0000", "the office"),))
    assert example_leftovers(called) == ["its phone number '+44 113 496 0000'"]
    story = replace(request_obj, story=example_request(T0).story)
    with pytest.raises(AidError, match="its story"):
        check_not_example(story)


def test_facts_are_appended_dated_and_never_replace_earlier_ones(request_obj: AidRequest) -> None:
    first = add_fact(request_obj, "  Held since Monday.  ", T0)
    assert first.details.startswith(request_obj.details)
    assert first.details.endswith(
        "Added by a champion on 2027-01-15 08:00 UTC:\n\nHeld since Monday."
    )
    second = add_fact(first, "Hearing moved to Friday.", T0 + 86400)
    assert second.details.startswith(first.details)
    assert second.details.index("Held since Monday.") < second.details.index("Hearing moved")
    assert add_fact(second, " \n", T0) == second
    bare = add_fact(replace(request_obj, details=""), "Held.", T0)
    assert bare.details == "Added by a champion on 2027-01-15 08:00 UTC:\n\nHeld."
    assert parse_template(render_template(second)).details == second.details  # round trip


def test_notice_names_who_and_when_and_the_reason() -> None:
    text = activation_notice("npub1champ", T0, "Sam held", "naddr1x", "Her sister called me.")
    assert "npub1champ" in text and "2027-01-15 08:00 UTC" in text and "naddr1x" in text
    assert "Her sister called me." in text and "mas champion remove" in text
    assert "reason" not in activation_notice("npub1champ", T0, "Sam held", "naddr1x", " ")


def test_a_second_activation_edits_the_version_relays_hold(
    people: Any, request_obj: AidRequest
) -> None:
    """Finding: a second champion's activation rebuilt the request from the hand-over and
    dropped the first champion's facts (and any later status)."""
    attestation = people.sign(
        people.alice,
        attestation_template(Attestation(people.emergency.public_hex, "speaks for me")),
    )
    package = Package(
        people.alice.public_hex,
        people.emergency.secret.hex(),
        attestation,
        render_template(replace(request_obj, identifier="")),
        3600,
    )
    first = emergency_request(package, "Held since Monday.", T0)
    live = replace(first, status=Status.FUNDED)
    second = emergency_request(package, "Hearing on Friday.", T0 + 600, current=live)
    assert second.identifier == first.identifier == emergency_identifier(package)
    assert second.published_at == T0 and second.status is Status.FUNDED
    assert second.details.index("Held since Monday.") < second.details.index("Hearing on Friday.")
    assert second.beneficiary == people.alice.public_hex
