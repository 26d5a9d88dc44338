"""Social capital: facts from events about one person, with signatures checked."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from shieldmutual.shared.aid.capital import answer, summarize
from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    RequestRef,
    confirmation_template,
    pledge_template,
)
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.report import Report, report_template
from shieldmutual.shared.aid.request import AidRequest, Status, request_event_template
from shieldmutual.shared.aid.vouch import Attestation, Vouch, attestation_template, vouch_template
from shieldmutual.shared.event import Event

People = Any  # the conftest's People fixture


def test_summary_of_a_requester(
    people: People, request_obj: AidRequest, request_event: Event
) -> None:
    alice, bob, carol = people.alice, people.bob, people.carol
    ref = RequestRef.of(request_event)
    # A later version of the same request (funded) replaces the first.
    funded = people.sign(
        alice, request_event_template(replace(request_obj, status=Status.FUNDED)), 2 * 10**9 + 10
    )
    second = people.sign(
        alice, request_event_template(replace(request_obj, identifier="second")), 2 * 10**9 + 20
    )
    report = people.sign(
        alice,
        report_template(Report("Spent", "All on rent.", ref.address, identifier="r1"), now=10**9),
        2 * 10**9 + 30,
    )
    vouch_carol = people.sign(carol, vouch_template(Vouch(alice.public_hex, "Known her for years")))
    vouch_bob_old = people.sign(bob, vouch_template(Vouch(alice.public_hex, "old")), 5)
    vouch_bob = people.sign(bob, vouch_template(Vouch(alice.public_hex, "new")), 6)
    forged = replace(vouch_carol, content="tampered")  # bad id: must be ignored
    events = [request_event, funded, second, report, vouch_carol, vouch_bob_old, vouch_bob, forged]

    capital = summarize(alice.public_hex, events, trusted={carol.public_hex})
    assert capital.first_seen == min(e.created_at for e in events if e.pubkey == alice.public_hex)
    statuses = {f.address.identifier: (f.status, f.reported) for f in capital.requests}
    assert statuses == {"rent-raid": (Status.FUNDED, True), "second": (Status.OPEN, False)}
    assert capital.requests_by_status() == {Status.OPEN: 1, Status.FUNDED: 1, Status.CLOSED: 0}
    assert capital.unreported == ()
    assert capital.reports == (Address(30023, alice.public_hex, "r1"),)
    assert {(v.voucher, v.trusted, v.reason) for v in capital.vouches} == {
        (carol.public_hex, True, "Known her for years"),
        (bob.public_hex, False, "new"),
    }
    assert [v.voucher for v in capital.trusted_vouches] == [carol.public_hex]


def test_summary_of_a_helper(people: People, request_event: Event) -> None:
    alice, bob, carol = people.alice, people.bob, people.carol
    ref = RequestRef.of(request_event)
    pledge = people.sign(bob, pledge_template(Pledge(ref, Decimal(5), "GBP")))
    thanks = Confirmation(ref, Decimal(5), "GBP", helper=bob.public_hex)
    confirmed = people.sign(alice, confirmation_template(thanks, helper_consents=True), 77)
    # Carol is not the recipient: her "confirmation" of Bob's help does not count.
    boast = people.sign(carol, confirmation_template(thanks, helper_consents=True))
    capital = summarize(bob.public_hex, [request_event, pledge, confirmed, boast])
    assert capital.pledges_made == 1 and capital.requests == ()
    assert [(h.recipient, h.amount, h.created_at) for h in capital.help_confirmed] == [
        (alice.public_hex, Decimal(5), 77)
    ]


def test_champion_requests_count_for_the_member_only_with_her_attestation(
    people: People, request_obj: AidRequest
) -> None:
    alice, emergency = people.alice, people.emergency
    on_behalf = replace(request_obj, beneficiary=alice.public_hex, identifier="arrested")
    published = people.sign(emergency, request_event_template(on_behalf))
    attestation = people.sign(alice, attestation_template(Attestation(emergency.public_hex)))
    assert summarize(alice.public_hex, [published]).requests == ()
    capital = summarize(alice.public_hex, [published, attestation])
    assert [(f.address.pubkey, f.by_champion) for f in capital.requests] == [
        (emergency.public_hex, True)
    ]
    # A funded request without a report is listed as a fact, not judged.
    funded = people.sign(
        emergency, request_event_template(replace(on_behalf, status=Status.FUNDED)), 2 * 10**9
    )
    assert len(summarize(alice.public_hex, [published, funded, attestation]).unreported) == 1


def test_answers_sort_help_by_whom_it_was_for(
    people: People, request_obj: AidRequest, request_event: Event
) -> None:
    """Have they helped me (my identities confirmed it; their pledges to my requests),
    have they helped others, do people I trust vouch for them."""
    alice, bob, carol = people.alice, people.bob, people.carol
    mine = RequestRef.of(request_event)  # alice's request: alice is the reader here
    theirs = RequestRef.of(
        people.sign(carol, request_event_template(replace(request_obj, identifier="carol")))
    )
    thanks = Confirmation(mine, Decimal(5), "GBP", helper=bob.public_hex)
    for_carol = Confirmation(theirs, helper=bob.public_hex)
    events = [
        people.sign(bob, pledge_template(Pledge(mine, Decimal(5), "GBP")), 10),
        people.sign(bob, pledge_template(Pledge(theirs, action="transport")), 11),
        people.sign(alice, confirmation_template(thanks, helper_consents=True), 12),
        people.sign(carol, confirmation_template(for_carol, helper_consents=True), 13),
        people.sign(carol, vouch_template(Vouch(bob.public_hex, "reliable")), 14),
    ]
    facts = summarize(bob.public_hex, events, trusted={carol.public_hex})
    got = answer(facts, {alice.public_hex})
    assert [h.recipient for h in got.helped_me] == [alice.public_hex]
    assert [(p.request, p.amount) for p in got.pledged_to_me] == [(mine.address, Decimal(5))]
    assert [h.recipient for h in got.paid_forward] == [carol.public_hex]
    assert [(p.request, p.action) for p in got.pledged_to_others] == [(theirs.address, "transport")]
    assert [v.voucher for v in got.trusted_vouches] == [carol.public_hex]
    # Carol reads the same record the other way round.
    flipped = answer(summarize(bob.public_hex, events), {carol.public_hex})
    assert [h.recipient for h in flipped.helped_me] == [carol.public_hex]
    assert [h.recipient for h in flipped.paid_forward] == [alice.public_hex]
    assert flipped.trusted_vouches == ()
