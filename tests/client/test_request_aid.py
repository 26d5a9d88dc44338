"""client/aid.py against a real relay: find a request, its thread, syndications, societies."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from shieldmutual.client.aid import (
    fetch_societies,
    load_request,
    parse_pointer,
    publish,
    require_acks,
)
from shieldmutual.client.errors import NotFoundError, RelayError
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    RequestRef,
    Update,
    confirmation_template,
    pledge_template,
    update_template,
)
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.notes import Syndication, syndication_template
from shieldmutual.shared.aid.report import Report, report_template
from shieldmutual.shared.aid.request import Status, request_event_template
from shieldmutual.shared.aid.society import Society, society_event_template
from shieldmutual.shared.aid.vouch import (
    Attestation,
    ChampionStatus,
    Revocation,
    attestation_template,
    revocation_template,
)
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import sign

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)
NOW = int(time.time())


async def test_request_and_its_thread(relay: Any, keys: Any, rent_request: Any) -> None:
    sam, bob, carol = keys.alice, keys.bob, keys.carol
    async with Pool([relay.url], options=OPTIONS) as pool:
        first = request_event_template(rent_request(), now=NOW - 100)
        require_acks(await pool.publish(sign(sam, *first, created_at=NOW - 100)))
        # A newer version with a new status replaces the first one.
        funded = rent_request(status=Status.FUNDED, published_at=NOW - 100)
        template = request_event_template(funded)
        newer = sign(sam, template.kind, template.content, template.tags, created_at=NOW - 50)
        require_acks(await pool.publish(newer))
        ref = RequestRef.of(newer, relay.url)
        pledge = Pledge(ref, Decimal(50), "GBP")
        require_acks(await publish(pool, bob, pledge_template(pledge)))
        got = Confirmation(ref, Decimal(50), "GBP")
        require_acks(await publish(pool, sam, confirmation_template(got)))
        fake = Confirmation(ref, Decimal(999), "GBP")  # not the recipient: ignored
        require_acks(await publish(pool, carol, confirmation_template(fake)))
        require_acks(await publish(pool, sam, update_template(Update(ref, "Half covered."))))
        report = Report("Where it went", "All rent.", ref.address, identifier="rep")
        require_acks(await publish(pool, sam, report_template(report)))
        repost = syndication_template(Syndication.of(newer, ["north"], relay.url))
        require_acks(await publish(pool, carol, repost))

        naddr = ref.address.naddr([relay.url])
        found, thread = await load_request(pool, naddr)
        assert found.event.id == newer.id and found.request.status is Status.FUNDED
        assert parse_pointer(found.naddr()).address == ref.address
        assert thread.champion.status is ChampionStatus.NONE
        assert [p.amount for p in thread.pledges] == [Decimal(50)]
        assert [c.amount for c in thread.confirmations] == [Decimal(50)]
        assert thread.progress.received == {"GBP": Decimal(50)}
        assert [u.text for u in thread.updates] == ["Half covered."]
        assert [r.title for r in thread.reports] == ["Where it went"]
        assert [s.targets for s in thread.syndications] == [("north",)]

        with pytest.raises(NotFoundError):
            await load_request(pool, str(Address(30402, sam.public_hex, "missing")))


async def test_champion_attestation_is_checked(relay: Any, keys: Any, rent_request: Any) -> None:
    member, emergency = keys.alice, keys.dave
    request = rent_request(identifier="held", beneficiary=member.public_hex)
    async with Pool([relay.url], options=OPTIONS) as pool:
        require_acks(await publish(pool, emergency, request_event_template(request)))
        coordinate = f"30402:{emergency.public_hex}:held"
        _, thread = await load_request(pool, coordinate)
        assert thread.champion.status is ChampionStatus.UNVERIFIED
        assert thread.recipients == {emergency.public_hex}

        attestation = attestation_template(Attestation(emergency.public_hex))
        require_acks(await publish(pool, member, attestation))
        _, thread = await load_request(pool, coordinate)
        assert thread.champion.status is ChampionStatus.VERIFIED
        assert thread.champion.member == member.public_hex
        assert member.public_hex in thread.recipients

        revocation = revocation_template(Revocation(emergency.public_hex, "lost the key"))
        require_acks(await publish(pool, member, revocation))
        _, thread = await load_request(pool, coordinate)
        assert thread.champion.status is ChampionStatus.REVOKED
        assert thread.recipients == {emergency.public_hex}


async def test_societies_latest_version_per_author(relay: Any, keys: Any) -> None:
    async with Pool([relay.url], options=OPTIONS) as pool:
        old = society_event_template(Society("leeds", "Old name"))
        require_acks(await pool.publish(sign(keys.alice, *old, created_at=NOW - 100)))
        new = society_event_template(Society("leeds", "Leeds Care"))
        require_acks(await pool.publish(sign(keys.alice, *new, created_at=NOW - 50)))
        other = society_event_template(Society("york", "York"))
        require_acks(await publish(pool, keys.bob, other))
        leeds = await fetch_societies(pool, ["leeds"])
        assert [r.society.name for r in leeds] == ["Leeds Care"]
        everything = await fetch_societies(pool)
        assert {r.society.slug for r in everything} == {"leeds", "york"}


def test_pointer_forms_and_errors(keys: Any) -> None:
    address = Address(30402, keys.alice.public_hex, "x")
    naddr = address.naddr(["ws://127.0.0.1:1"])
    assert parse_pointer(naddr).relays == ("ws://127.0.0.1:1",)
    assert parse_pointer("nostr:" + naddr).address == address
    assert parse_pointer(str(address)).address == address
    with pytest.raises(AidError, match="not an aid request"):
        parse_pointer(Address(30023, keys.alice.public_hex, "x").naddr())
    with pytest.raises(AidError):
        parse_pointer("npub1nothing")


async def test_require_acks_fails_when_no_relay_holds_it(keys: Any, rent_request: Any) -> None:
    async with Pool(["ws://127.0.0.1:9"], options=PoolOptions(connect_timeout=1)) as pool:
        report = await publish(pool, keys.alice, request_event_template(rent_request()))
        with pytest.raises(RelayError, match="0 of 1"):
            require_acks(report)
