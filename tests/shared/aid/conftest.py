"""Shared people and a signed sample request for the aid protocol tests."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from shieldmutual.shared.aid.comments import RequestRef
from shieldmutual.shared.aid.helping import CallFlood, Payment
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.event import Event, EventTemplate, sign
from shieldmutual.shared.keys import SecretKey

NOW = 1_700_000_000


@dataclass(frozen=True)
class People:
    alice: SecretKey  # asks for help
    bob: SecretKey  # helps
    carol: SecretKey  # vouches
    emergency: SecretKey  # alice's emergency key, held by her champions

    def sign(self, key: SecretKey, template: EventTemplate, at: int = NOW) -> Event:
        return sign(key, *template, created_at=at)


@pytest.fixture(scope="session")
def people() -> People:
    return People(*(SecretKey(bytes([n]) * 32) for n in (1, 2, 3, 4)))


@pytest.fixture(scope="session")
def request_obj() -> AidRequest:
    return AidRequest(
        title="Rent after the raid",
        summary="Alice lost two weeks of work after the raid on the social centre.",
        story="The centre was raided on Tuesday and Alice was held for two days.",
        location="Leeds, UK",
        amount=Decimal("400"),
        currency="GBP",
        geohash="gcwcv",
        language="en",
        societies=("leeds-care",),
        payments=(Payment("lightning", "alice@example.org"),),
        actions=(CallFlood("+44 113 000 0000", "the landlord", "Please wait for the rent"),),
        identifier="rent-raid",
        published_at=NOW - 100,
    )


@pytest.fixture(scope="session")
def request_event(people: People, request_obj: AidRequest) -> Event:
    return people.sign(people.alice, request_event_template(request_obj), NOW - 100)


@pytest.fixture(scope="session")
def ref(request_event: Event) -> RequestRef:
    return RequestRef.of(request_event, "wss://relay.example.org")
