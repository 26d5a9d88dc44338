"""Every builder's output is a real event: it signs, verifies here and in rust-nostr, parses back.

``nostr_sdk`` (rust-nostr) is an independent implementation; if it accepts our events,
ordinary Nostr apps built on it (and on its peers) can at least load and verify them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import nostr_sdk
import pytest

from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    Update,
    confirmation_template,
    parse_confirmation,
    parse_pledge,
    parse_update,
    pledge_template,
    update_template,
)
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
from shieldmutual.shared.aid.request import parse_request, request_event_template
from shieldmutual.shared.aid.society import Society, parse_society, society_event_template
from shieldmutual.shared.aid.vouch import (
    Attestation,
    Vouch,
    attestation_template,
    parse_attestation,
    parse_vouch,
    vouch_template,
)
from shieldmutual.shared.event import EventTemplate, sign
from shieldmutual.shared.keys import SecretKey

Case = tuple[str, Callable[..., tuple[Any, EventTemplate]], Callable[[Any], Any]]


def _cases(people: Any, request_obj: Any, request_event: Any, ref: Any) -> list[Case]:
    bob, alice = people.bob.public_hex, people.alice.public_hex
    member = Address(34550, alice, "leeds-care")
    items: list[tuple[str, Any, Callable[[Any], EventTemplate], Callable[[Any], Any]]] = [
        ("request", request_obj, request_event_template, parse_request),
        (
            "society",
            Society("leeds-care", "Leeds Care", "Neighbours."),
            society_event_template,
            parse_society,
        ),
        (
            "syndicate",
            Society("north", "North", members=(member,)),
            society_event_template,
            parse_society,
        ),
        (
            "announcement",
            Announcement.of(request_obj, alice),
            announcement_template,
            parse_announcement,
        ),
        (
            "syndication",
            Syndication.of(request_event, ("north",)),
            syndication_template,
            parse_syndication,
        ),
        ("public pledge", Pledge(ref, Decimal(5), "GBP"), pledge_template, parse_pledge),
        ("private pledge", Pledge(ref, action="call", private=True), pledge_template, parse_pledge),
        (
            "confirmation",
            Confirmation(ref, Decimal(5), "GBP", helper=bob),
            lambda c: confirmation_template(c, helper_consents=True),
            parse_confirmation,
        ),
        ("update", Update(ref, "Half way."), update_template, parse_update),
        (
            "report",
            Report("Spent", "On rent.", ref.address, identifier="r"),
            report_template,
            parse_report,
        ),
        ("vouch", Vouch(alice, "Trustworthy."), vouch_template, parse_vouch),
        (
            "attestation",
            Attestation(people.emergency.public_hex),
            attestation_template,
            parse_attestation,
        ),
    ]
    return [(name, lambda o=obj, b=build: (o, b(o)), parse) for name, obj, build, parse in items]


NAMES = [
    "request", "society", "syndicate", "announcement", "syndication", "public pledge",
    "private pledge", "confirmation", "update", "report", "vouch", "attestation",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_builder_output_signs_verifies_and_parses_back(
    name: str, people: Any, request_obj: Any, request_event: Any, ref: Any
) -> None:
    cases = {case[0]: case for case in _cases(people, request_obj, request_event, ref)}
    assert set(cases) == set(NAMES)
    _, build, parse = cases[name]
    original, template = build()
    key = SecretKey.generate()
    event = sign(key, *template)
    event.verify()
    rust = nostr_sdk.Event.from_json(event.to_json().decode())
    assert rust.verify()
    assert rust.id().to_hex() == event.id and rust.kind().as_u16() == template.kind
    assert [tag.to_vec() for tag in rust.tags()] == event.tags
    for tag in event.tags:  # every coordinate we write is one rust-nostr understands
        if tag[0] in ("a", "A", "q") and ":" in tag[1]:
            coordinate = nostr_sdk.Coordinate.parse(tag[1])
            assert (
                f"{coordinate.kind().as_u16()}:{coordinate.public_key().to_hex()}:"
                + (coordinate.identifier())
                == tag[1]
            )
    parsed = parse(event)
    assert parsed.origin.id == event.id and parsed.origin.pubkey == key.public_hex
    stripped = replace(parsed, origin=None)
    if name == "request" or name == "report":
        assert replace(stripped, published_at=original.published_at) == original
    elif name == "private pledge":
        assert stripped == replace(original, request=replace(ref, event_id=None))
    else:
        assert stripped == original


def test_announcement_link_decodes_in_rust_nostr(people: Any, request_obj: Any) -> None:
    relays = ("wss://relay.example.org",)
    template = announcement_template(Announcement.of(request_obj, people.alice.public_hex, relays))
    uri = next(word for word in template.content.split() if word.startswith("nostr:naddr1"))
    pointer = nostr_sdk.Nip19Coordinate.from_nostr_uri(uri)
    coordinate = pointer.coordinate()
    assert coordinate.kind().as_u16() == 30402 and coordinate.identifier() == "rent-raid"
    assert coordinate.public_key().to_hex() == people.alice.public_hex
    assert [str(relay) for relay in pointer.relays()] == list(relays)
