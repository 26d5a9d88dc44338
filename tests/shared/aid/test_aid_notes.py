"""Announcements (kind 1), syndication (kind 16), spending reports (30023), vouches (1985)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from shieldmutual.shared import nip19
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.notes import (
    Announcement,
    Syndication,
    announcement_template,
    parse_announcement,
    parse_syndication,
    syndication_template,
)
from shieldmutual.shared.aid.report import Report, parse_report, report_template
from shieldmutual.shared.aid.request import AidRequest, parse_request
from shieldmutual.shared.aid.vouch import (
    Attestation,
    Vouch,
    attestation_template,
    champion_for,
    parse_attestation,
    parse_vouch,
    vouch_template,
)
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import Event

People = Any  # the conftest's People fixture
RELAY = "wss://relay.example.org"


def test_announcement_links_the_request(people: People, request_obj: AidRequest) -> None:
    alice = people.alice.public_hex
    announcement = Announcement.of(request_obj, alice, (RELAY,))
    template = announcement_template(announcement)
    assert template.kind == 1
    assert template.tags[0] == ["q", f"30402:{alice}:rent-raid", RELAY]
    assert ["t", "mas-leeds-care"] in template.tags and ["t", "mutualaid"] in template.tags
    assert template.content.startswith("Rent after the raid\n\nAlice lost")
    assert template.content.endswith("#mas-leeds-care #mutualaid")
    naddr = template.content.split("nostr:")[1].split()[0]
    pointer = nip19.naddr_decode(naddr)
    assert (pointer.kind, pointer.pubkey, pointer.identifier) == (30402, alice, "rent-raid")
    assert pointer.relays == (RELAY,)
    parsed = parse_announcement(people.sign(people.bob, template))
    assert replace(parsed, origin=None) == announcement


def test_announcement_link_must_match_its_q_tag(people: People, request_obj: AidRequest) -> None:
    template = announcement_template(Announcement.of(request_obj, people.alice.public_hex))
    tags = [["q", f"30402:{people.bob.public_hex}:rent-raid", ""], *template.tags[1:]]
    with pytest.raises(AidError, match="matching 'q'"):
        parse_announcement(people.sign(people.bob, (1, template.content, tags)))
    with pytest.raises(AidError, match="no nostr:naddr"):
        parse_announcement(people.sign(people.bob, (1, "see my request", template.tags)))
    with pytest.raises(AidError, match="mutualaid"):
        parse_announcement(people.sign(people.bob, (1, template.content, template.tags[:1])))


def test_syndication_reposts_into_other_societies(people: People, request_event: Event) -> None:
    community = Address(34550, people.carol.public_hex, "york-care")
    syndication = Syndication.of(request_event, ("york-care", "north"), RELAY, (community,))
    template = syndication_template(syndication)
    alice = people.alice.public_hex
    assert template.kind == 16
    assert ["k", "30402"] in template.tags
    assert ["a", f"30402:{alice}:rent-raid", RELAY] in template.tags
    assert ["e", request_event.id, RELAY] in template.tags and ["p", alice, RELAY] in template.tags
    assert ["t", "mas-york-care"] in template.tags and ["t", "mas-north"] in template.tags
    assert ["a", str(community), RELAY] in template.tags
    assert orjson.loads(template.content)["id"] == request_event.id
    parsed = parse_syndication(people.sign(people.bob, template))
    assert replace(parsed, origin=None) == syndication
    embedded = parsed.embedded_event()
    assert embedded is not None and parse_request(embedded).title == "Rent after the raid"


def test_syndication_checks_the_embedded_request(people: People, request_event: Event) -> None:
    syndication = Syndication.of(request_event, ("north",), RELAY)
    template = syndication_template(syndication)
    tampered = orjson.loads(template.content)
    tampered["content"] = "Send money to mallory@example.org"
    with pytest.raises(AidError, match="not a valid event"):
        parse_syndication(
            people.sign(people.bob, (16, orjson.dumps(tampered).decode(), template.tags))
        )
    other = people.sign(people.alice, (30402, "", [["d", "rent-raid"]]), 5)
    with pytest.raises(AidError, match="not the version"):
        parse_syndication(people.sign(people.bob, (16, other.to_json().decode(), template.tags)))
    bare = parse_syndication(people.sign(people.bob, (16, "", template.tags)))
    assert bare.embedded_event() is None
    with pytest.raises(AidError, match="at least one"):
        replace(syndication, targets=())
    with pytest.raises(AidError, match="event id"):
        replace(syndication, request=replace(syndication.request, event_id=None), embedded="")
    no_k = [t for t in template.tags if t[0] != "k"]
    with pytest.raises(AidError, match="'k'"):
        parse_syndication(people.sign(people.bob, (16, "", no_k)))


def test_report_round_trip(people: People, request_event: Event) -> None:
    address = Address.of(request_event)
    report = Report(
        "Where the rent money went",
        "## Received\n\n420 GBP from 9 people.\n\n## Spent\n\n400 GBP rent; 20 GBP bus fares.",
        address,
        summary="All of it went to rent and fares.",
        societies=("leeds-care",),
        identifier="rent-raid-report",
        relay=RELAY,
    )
    template = report_template(report, now=1_700_000_500)
    assert template.kind == 30023
    assert ["a", str(address), RELAY] in template.tags
    assert ["published_at", "1700000500"] in template.tags
    assert ["l", "report", "mas"] in template.tags and ["t", "mutualaid"] in template.tags
    parsed = parse_report(people.sign(people.alice, template))
    assert replace(parsed, origin=None) == replace(report, published_at=1_700_000_500)
    with pytest.raises(AidError, match="identifier"):
        report_template(replace(report, identifier=""))
    with pytest.raises(AidError, match="exactly one aid request"):
        parse_report(
            people.sign(people.alice, (30023, "x", [t for t in template.tags if t[0] != "a"]))
        )
    with pytest.raises(AidError, match="label"):
        parse_report(
            people.sign(people.alice, (30023, "x", [t for t in template.tags if t[0] != "l"]))
        )


def test_vouch_round_trip(people: People) -> None:
    vouch = Vouch(people.alice.public_hex, "I have known Alice for ten years.", RELAY)
    template = vouch_template(vouch)
    assert template.kind == 1985
    assert template.tags == [["L", "mas"], ["l", "vouch", "mas"], ["p", vouch.subject, RELAY]]
    parsed = parse_vouch(people.sign(people.carol, template))
    assert replace(parsed, origin=None) == vouch
    with pytest.raises(AidError, match="oneself"):
        parse_vouch(people.sign(people.alice, template))
    two = [*template.tags, ["p", people.bob.public_hex]]
    with pytest.raises(AidError, match="exactly one person"):
        parse_vouch(people.sign(people.carol, (1985, "", two)))


def test_champion_attestation_hook(people: People, request_obj: AidRequest) -> None:
    alice, emergency = people.alice.public_hex, people.emergency
    attestation = Attestation(emergency.public_hex, "This key speaks for me if I go silent.")
    template = attestation_template(attestation)
    assert template.tags == [
        ["L", "mas"],
        ["l", "emergency-key", "mas"],
        ["p", emergency.public_hex],
    ]
    attestation_event = people.sign(people.alice, template)
    assert replace(parse_attestation(attestation_event), origin=None) == attestation

    from shieldmutual.shared.aid.request import request_event_template

    on_behalf = replace(request_obj, beneficiary=alice, identifier="alice-arrested")
    tags = request_event_template(on_behalf).tags
    assert ["p", alice, "", "beneficiary"] in tags and ["zap", alice, "", "1"] in tags
    published = parse_request(people.sign(emergency, request_event_template(on_behalf)))
    assert published.beneficiary == alice
    assert champion_for(published, [attestation_event]) == alice
    # Without the member's own attestation for that exact key, nobody speaks for her.
    forged = people.sign(people.bob, template)
    assert champion_for(published, [forged]) is None
    by_bob = parse_request(people.sign(people.bob, request_event_template(on_behalf)))
    assert champion_for(by_bob, [attestation_event]) is None
