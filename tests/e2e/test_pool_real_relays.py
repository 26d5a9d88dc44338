"""The pool library against real mas-relay processes: a relay dies and comes back while a
subscription is open and events keep being published; nothing is lost or repeated."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shieldmutual.client.pool import Pool, PoolOptions, RelayState, Status
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from tests.waiting import until

KEY = SecretKey.generate()
OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=5, eose_timeout=10, backoff_base=0.1)


def note(text: str, created_at: int | None = None) -> Event:
    return sign(KEY, 1, text, [["t", "mas-pool-e2e"]], created_at)


async def test_publish_and_fetch_across_three_relays(relays: Any) -> None:
    r1, r2, r3 = relays(3)
    urls = [r1.url, r2.url, r3.url]

    async with Pool(urls, options=OPTIONS) as pool:
        events = [note(f"n{i}", int(time.time()) - i) for i in range(30)]
        reports = await asyncio.gather(*(pool.publish(e) for e in events))
        assert all(r.acks == 3 for r in reports)
        again = await pool.publish(events[0])
        assert {r.status for r in again.results} == {Status.DUPLICATE}
        # Different relays hold different subsets: the merged view has them all, once.
        only = note("only on r2")
        assert (await pool.publish(only, [r2.url])).acks == 1
        fetched = await pool.fetch([Filter.from_dict({"#t": ["mas-pool-e2e"]})])
        assert len(fetched) == 31 and len({e.id for e in fetched}) == 31
        assert fetched == sorted(fetched, key=lambda e: (-e.created_at, e.id))


async def test_subscription_survives_a_relay_restart(relays: Any) -> None:
    r1, r2, r3 = relays(3)
    urls = [r1.url, r2.url, r3.url]

    async with Pool(urls, options=OPTIONS) as pool:
        stored = note("stored before", int(time.time()) - 10)
        assert (await pool.publish(stored)).acks == 3
        sub = pool.subscribe([Filter.from_dict({"#t": ["mas-pool-e2e"]})], stream=True)
        got: list[Event] = []

        async def consume() -> None:
            async for event in sub:
                got.append(event)

        async with sub:
            consumer = asyncio.get_running_loop().create_task(consume())
            await until(lambda: sub.eose.is_set() and len(got) == 1)

            await asyncio.to_thread(r1.kill)
            await until(lambda: sub.stats[r1.url].status != RelayState.EOSE)
            down = note("while r1 is down")
            report = await pool.publish(down)
            status = {r.relay: r.status for r in report.results}
            assert status[r1.url] is Status.UNREACHABLE
            assert status[r2.url] is status[r3.url] is Status.ACCEPTED
            await until(lambda: len(got) == 2)

            await asyncio.to_thread(r1.restart)
            # Published to r1 alone: it can only reach us through the reconnection.
            only_r1 = note("only on r1 after its restart")
            assert (await pool.publish(only_r1, [r1.url])).acks == 1
            await until(lambda: len(got) == 3)
            await until(lambda: sub.stats[r1.url].status == RelayState.EOSE)
            after = note("after")
            assert (await pool.publish(after)).acks == 3
            await until(lambda: len(got) == 4)
        await consumer

        assert [e.content for e in got] == [
            "stored before",
            "while r1 is down",
            "only on r1 after its restart",
            "after",
        ]
        r1_stats = sub.stats[r1.url]
        assert r1_stats.reconnects >= 1
        assert r1_stats.resume_since is not None  # resumed with since, not from scratch
        assert sub.invalid == 0
