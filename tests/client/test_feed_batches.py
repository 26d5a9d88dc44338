"""The feed's reading without the CLI (client/feedthreads.py) against a real relay:
ThreadBatches' burst of rows costs a few REQs, never one per event, and a refresh brings
the rows' new pledges; list_stored gives a list command its rows, threads and names."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from shieldmutual.client.aid import publish, require_acks
from shieldmutual.client.errors import RelayError
from shieldmutual.client.feedthreads import ThreadBatches, list_stored
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared.aid.comments import Pledge, RequestRef, pledge_template
from shieldmutual.shared.aid.feed import Feed, FeedFilter, FeedItem
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.event import sign

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)
ROWS = 30


def a_request(n: int) -> AidRequest:
    return AidRequest(
        title=f"Request {n}",
        summary="Two weeks of work lost.",
        story="The social centre was raided.",
        location="Leeds, UK",
        amount=Decimal(100),
        currency="GBP",
        societies=("leeds-care",),
        identifier=f"r{n}",
    )


async def test_a_burst_of_rows_costs_few_queries_and_refresh_updates(
    relay: Any, keys: Any, count_fetches: Any
) -> None:
    events = [sign(keys.alice, *request_event_template(a_request(n))) for n in range(ROWS)]
    feed = Feed()
    items = [item for e in events if isinstance(item := feed.offer(e), FeedItem)]
    shown: list[tuple[FeedItem, bool]] = []
    async with Pool([relay.url], options=OPTIONS) as pool:
        for event in events:
            require_acks(await pool.publish(event))
        first = RequestRef.of(events[0], relay.url)
        require_acks(
            await publish(pool, keys.bob, pledge_template(Pledge(first, Decimal(10), "GBP")))
        )

        fetches = count_fetches(pool)
        batches = ThreadBatches(pool, shown.extend)
        runner = asyncio.get_running_loop().create_task(batches.run())
        try:
            for item in items:  # as fast as a relay replays stored events
                batches.add(item, True)
            await asyncio.wait_for(batches.drain(), 10)
            assert [item for item, _ in shown] == items
            assert fetches[0] <= 2  # one batch, or the first item then all the rest
            key = str(items[0].address)
            assert batches.threads[key].progress.pledged == {"GBP": Decimal(10)}
            assert len(batches.threads) == ROWS

            # Edits of known requests reuse their threads: no query at all.
            before = fetches[0]
            batches.add(items[1])
            await asyncio.wait_for(batches.drain(), 10)
            assert fetches[0] == before

            # A new pledge shows once the rows are refreshed: one query for all of them.
            pledge = Pledge(first, Decimal(5), "GBP")
            require_acks(await publish(pool, keys.carol, pledge_template(pledge)))
            batches.refresh(items)
            await asyncio.wait_for(batches.drain(), 10)
            assert fetches[0] == before + 1
            assert batches.threads[key].progress.pledged == {"GBP": Decimal(15)}
        finally:
            runner.cancel()


async def test_list_stored_keeps_limits_and_sorts_out_threads(relay: Any, keys: Any) -> None:
    mine = [sign(keys.alice, *request_event_template(a_request(n))) for n in range(3)]
    theirs = sign(keys.bob, *request_event_template(a_request(9)))
    tags = ["mas-leeds-care"]
    async with Pool([relay.url], options=OPTIONS) as pool:
        for event in (*mine, theirs):
            require_acks(await pool.publish(event))
        ref = RequestRef.of(mine[0], relay.url)
        require_acks(await publish(pool, keys.bob, pledge_template(Pledge(ref, Decimal(7), "GBP"))))

        everything = await list_stored(pool, tags, FeedFilter())
        assert {i.event.id for i in everything.items} == {e.id for e in (*mine, theirs)}

        def by_alice(item: FeedItem) -> bool:
            return item.event.pubkey == keys.alice.public_hex

        two = await list_stored(pool, tags, FeedFilter(), keep=by_alice, limit=2)
        assert len(two.items) == 2 and all(by_alice(i) for i in two.items)
        first = await list_stored(pool, tags, FeedFilter(), keep=by_alice)
        threads = first.threads
        assert set(threads) == {str(i.address) for i in first.items}
        pledged = threads[str(Feed().offer(mine[0]).address)].progress.pledged  # type: ignore[union-attr]
        assert pledged == {"GBP": Decimal(7)}


async def test_list_stored_says_when_no_relay_answered(unused_tcp_port: int) -> None:
    async with Pool([f"ws://127.0.0.1:{unused_tcp_port}"], options=OPTIONS) as pool:
        with pytest.raises(RelayError, match="no relay answered"):
            await list_stored(pool, ["mas-leeds-care"], FeedFilter())
