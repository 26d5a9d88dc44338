"""client/aid.fetch_threads against a real relay: many threads from one uniform query."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shieldmutual.client.aid import (
    RequestRecord,
    fetch_request,
    fetch_thread,
    fetch_threads,
    parse_pointer,
    publish,
    require_acks,
    said_filters,
)
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    RequestRef,
    confirmation_template,
    pledge_template,
)
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.aid.vouch import (
    Attestation,
    ChampionStatus,
    Revocation,
    attestation_template,
    revocation_template,
)
from shieldmutual.shared.event import sign

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_many_threads_in_one_query_each_with_its_own_events(
    relay: Any, keys: Any, count_fetches: Any, rent_request: Any
) -> None:
    sam, bob, member, emergency = keys.alice, keys.bob, keys.carol, keys.dave
    async with Pool([relay.url], options=OPTIONS) as pool:
        refs = []
        for name in ("rent-1", "rent-2", "rent-3"):
            event = sign(sam, *request_event_template(rent_request(identifier=name)))
            require_acks(await pool.publish(event))
            refs.append(RequestRef.of(event, relay.url))
        held = rent_request(identifier="held", beneficiary=member.public_hex)
        held_event = sign(emergency, *request_event_template(held))
        require_acks(await pool.publish(held_event))
        for template in (
            pledge_template(Pledge(refs[0], Decimal(50), "GBP")),
            pledge_template(Pledge(refs[1], Decimal(20), "EUR")),
        ):
            require_acks(await publish(pool, bob, template))
        got = confirmation_template(Confirmation(refs[1], Decimal(20), "EUR"))
        require_acks(await publish(pool, sam, got))
        for template in (
            attestation_template(Attestation(emergency.public_hex)),
            revocation_template(Revocation(emergency.public_hex)),
        ):
            require_acks(await publish(pool, member, template))

        pointers = [str(ref.address) for ref in refs] + [f"30402:{emergency.public_hex}:held"]
        records = [await fetch_request(pool, parse_pointer(p)) for p in pointers]
        # One REQ, naming no request: what is said about every one, sorted out here.
        filters = said_filters()
        assert [sorted(f.kinds or ()) for f in filters] == [[1111], [16, 30023], [1985]]
        assert not any(p in str(filters) for p in pointers)
        fetches = count_fetches(pool)
        threads = await fetch_threads(pool, records)
        assert fetches == [1]

        first, second, third, revoked = (threads[p] for p in pointers)
        assert first.progress.pledged == {"GBP": Decimal(50)} and not first.confirmations
        assert second.progress.pledged == {"EUR": Decimal(20)}
        assert second.progress.received == {"EUR": Decimal(20)}
        assert third.progress.pledges == 0 and third.champion.status is ChampionStatus.NONE
        assert revoked.champion.status is ChampionStatus.REVOKED
        for record, pointer in zip(records, pointers, strict=True):
            alone = await fetch_thread(pool, record)  # the same as one request at a time
            assert threads[pointer].progress == alone.progress
            assert threads[pointer].champion.status is alone.champion.status


async def test_any_number_of_requests_takes_one_query(
    relay: Any, keys: Any, count_fetches: Any, rent_request: Any
) -> None:
    events = [
        sign(keys.alice, *request_event_template(rent_request(identifier=f"r{n}")))
        for n in range(60)
    ]
    records = [RequestRecord(e, AidRequest.from_event(e)) for e in events]
    async with Pool([relay.url], options=OPTIONS) as pool:
        fetches = count_fetches(pool)
        threads = await fetch_threads(pool, records)
    assert fetches == [1] and len(threads) == 60
