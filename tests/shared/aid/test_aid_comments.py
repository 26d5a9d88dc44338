"""Pledges (public and private), confirmations, updates, and the progress tally."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    RequestRef,
    Update,
    confirmation_template,
    parse_confirmation,
    parse_pledge,
    parse_update,
    pledge_template,
    update_template,
)
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.thread import tally
from shieldmutual.shared.errors import AidError

People = Any  # the conftest's People fixture


def test_public_pledge_is_a_nip22_comment(people: People, ref: RequestRef) -> None:
    pledge = Pledge(ref, Decimal("25.50"), "GBP", action="call")
    template = pledge_template(pledge)
    alice = people.alice.public_hex
    coordinate = f"30402:{alice}:rent-raid"
    relay = "wss://relay.example.org"
    assert template.kind == 1111
    assert template.tags[:3] == [["A", coordinate, relay], ["K", "30402"], ["P", alice, relay]]
    assert ["a", coordinate, relay] in template.tags
    assert ["e", ref.event_id, relay, alice] in template.tags
    assert ["k", "30402"] in template.tags and ["p", alice, relay] in template.tags
    assert ["l", "pledge", "mas"] in template.tags and ["L", "mas"] in template.tags
    assert ["amount", "25.50", "GBP"] in template.tags and ["action", "call"] in template.tags
    assert template.content == "I pledge 25.50 GBP and to join the call action."
    parsed = parse_pledge(people.sign(people.bob, template))
    assert replace(parsed, origin=None) == pledge


def test_private_pledge_is_a_kind_14_rumor_without_the_version_id(
    people: People, ref: RequestRef
) -> None:
    pledge = Pledge(ref, Decimal("10"), "GBP", note="From a friend at work.", private=True)
    template = pledge_template(pledge)
    assert template.kind == 14
    assert [t for t in template.tags if t[0] == "p"] == [["p", ref.author, ref.relay]]
    assert not [t for t in template.tags if t[0] == "e"]
    parsed = parse_pledge(people.sign(people.bob, template))
    assert replace(parsed, origin=None) == replace(pledge, request=replace(ref, event_id=None))


@settings(max_examples=60, deadline=None)
@given(
    st.none() | st.decimals(Decimal("0.01"), Decimal("99999"), places=2),
    st.none() | st.sampled_from(["call", "signwave"]),
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40).map(
        str.strip
    ),
    st.booleans(),
)
def test_pledge_round_trip(
    people: People,
    ref: RequestRef,
    amount: Decimal | None,
    action: str | None,
    note: str,
    private: bool,
) -> None:
    if amount is None and action is None:
        return
    currency = None if amount is None else "EUR"
    pledge = Pledge(ref, amount, currency, action, note, private)
    parsed = parse_pledge(people.sign(people.bob, pledge_template(pledge)))
    expected = replace(pledge, request=replace(ref, event_id=None)) if private else pledge
    assert replace(parsed, origin=None) == expected


def test_pledge_validation(ref: RequestRef) -> None:
    with pytest.raises(AidError, match="amount, an action"):
        Pledge(ref)
    with pytest.raises(AidError, match="together"):
        Pledge(ref, Decimal(5))
    with pytest.raises(AidError, match="lowercase word"):
        Pledge(ref, action="Call Them")


def test_pledge_must_point_at_a_request(people: People, ref: RequestRef) -> None:
    template = pledge_template(Pledge(ref, Decimal(5), "GBP"))
    wrong_p = [["P", people.bob.public_hex] if t[0] == "P" else t for t in template.tags]
    with pytest.raises(AidError, match="'P' tag"):
        parse_pledge(people.sign(people.bob, (1111, "x", wrong_p)))
    no_root = [t for t in template.tags if t[0] not in ("A", "K")]
    with pytest.raises(AidError, match="scoped"):
        parse_pledge(people.sign(people.bob, (1111, "x", no_root)))
    two_labels = [*template.tags, ["l", "update", "mas"]]
    with pytest.raises(AidError, match="exactly the label"):
        parse_pledge(people.sign(people.bob, (1111, "x", two_labels)))
    with pytest.raises(AidError, match="kind 1111"):
        parse_pledge(people.sign(people.bob, (1, "x", template.tags)))
    with pytest.raises(AidError, match="aid request"):
        RequestRef(Address(30023, people.alice.public_hex, "x"))


def test_confirmation_names_the_helper_only_with_consent(people: People, ref: RequestRef) -> None:
    bob = people.bob.public_hex
    anonymous = Confirmation(ref, Decimal("25.50"), "GBP")
    template = confirmation_template(anonymous)
    assert [t[1] for t in template.tags if t[0] == "p"] == [ref.author]
    assert template.content == "Help received 25.50 GBP. Thank you!"
    parsed = parse_confirmation(people.sign(people.alice, template))
    assert parsed.helper is None and replace(parsed, origin=None) == anonymous

    named = Confirmation(ref, helper=bob, note="Bob paid the first week.")
    with pytest.raises(AidError, match="consent"):
        confirmation_template(named)
    template = confirmation_template(named, helper_consents=True)
    assert ["p", bob] in template.tags
    parsed = parse_confirmation(people.sign(people.alice, template))
    assert replace(parsed, origin=None) == named


def test_confirmation_replying_to_a_pledge(people: People, ref: RequestRef) -> None:
    pledge_event = people.sign(people.bob, pledge_template(Pledge(ref, Decimal(5), "GBP")))
    reply = Confirmation(ref, Decimal(5), "GBP", people.bob.public_hex, pledge_event.id)
    template = confirmation_template(reply, helper_consents=True)
    assert ["k", "1111"] in template.tags
    assert ["e", pledge_event.id, ref.relay, people.bob.public_hex] in template.tags
    parsed = parse_confirmation(people.sign(people.alice, template))
    assert replace(parsed, origin=None) == replace(reply, request=replace(ref, event_id=None))
    with pytest.raises(AidError, match="names its author"):
        Confirmation(ref, pledge_id=pledge_event.id)
    with pytest.raises(AidError, match="own author"):
        Confirmation(ref, helper=ref.author)


def test_update_round_trip(people: People, ref: RequestRef) -> None:
    update = Update(ref, "Rent is paid for March.\nThank you all.")
    template = update_template(update)
    assert template.content == update.text and ["l", "update", "mas"] in template.tags
    parsed = parse_update(people.sign(people.alice, template))
    assert replace(parsed, origin=None) == update
    with pytest.raises(AidError, match="empty"):
        Update(ref, "")


def test_tally_counts_pledges_from_anyone_and_news_only_from_recipients(
    people: People, ref: RequestRef
) -> None:
    bob, carol, alice = people.bob, people.carol, people.alice
    p1 = people.sign(bob, pledge_template(Pledge(ref, Decimal("10"), "GBP")))
    p2 = people.sign(carol, pledge_template(Pledge(ref, Decimal("2.5"), "GBP")), 1)
    p3 = people.sign(carol, pledge_template(Pledge(ref, Decimal("0.001"), "btc")), 2)
    p4 = people.sign(carol, pledge_template(Pledge(ref, action="call")), 3)
    got = people.sign(alice, confirmation_template(Confirmation(ref, Decimal("10"), "GBP")))
    fake = people.sign(bob, confirmation_template(Confirmation(ref, Decimal("999"), "GBP")))
    news = people.sign(alice, update_template(Update(ref, "Half way there")), 5)
    fake_news = people.sign(bob, update_template(Update(ref, "Send it to me instead")), 6)
    other = RequestRef(Address(30402, alice.public_hex, "another"))
    unrelated = people.sign(bob, pledge_template(Pledge(other, Decimal(1), "GBP")))
    noise = people.sign(bob, (1111, "just a comment", []))
    events = [p1, p1, p2, p3, p4, got, fake, news, fake_news, unrelated, noise]
    progress = tally(ref.address, {alice.public_hex}, events)
    assert progress.pledges == 4
    assert progress.pledged == {"GBP": Decimal("12.5"), "btc": Decimal("0.001")}
    assert progress.confirmations == 1 and progress.received == {"GBP": Decimal("10")}
    assert [u.text for u in progress.updates] == ["Half way there"]
