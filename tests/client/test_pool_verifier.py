"""Signature checks in the pool's worker process (client/verifier.py, issue 15).

Every test runs real relays (the root conftest's ``hostile_relay``) and the real worker
process. What must hold on the worker path exactly as on the inline one: a forged event
(bad signature, signature of another id, bad id, another key's signature, not matching the
filters) is counted invalid and never delivered, with the same per-relay stats; a forged
copy never suppresses the genuine one; events come in the relay's order, EOSE after them;
the worker ends with the pool; short reads never start it; a dead worker is never trusted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest

from shieldmutual.client.pool import EOSE, Pool, PoolOptions
from shieldmutual.client.verifier import Verifier
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

KEY = SecretKey(bytes.fromhex("44" * 32))
OTHER = SecretKey(bytes.fromhex("55" * 32))
AT = 1_700_000_000
KIND_1 = [Filter(kinds=frozenset({1}))]
WORKER = PoolOptions(connect_timeout=2, eose_timeout=8, backoff_base=0.05, offload_after=0)
INLINE = replace(WORKER, offload_after=None)


def genuine(n: int, start: int = 0) -> list[Event]:
    """Newest first, as relays send stored events."""
    return [sign(KEY, 1, f"genuine {i}", [], AT + i) for i in reversed(range(start, start + n))]


def forge(events: list[Event]) -> list[dict[str, Any]]:
    """Each event kept or forged one of five ways, in turn."""
    out = []
    for i, event in enumerate(events):
        data = event.to_dict()
        way = i % 6
        if way == 1:  # a valid signature, of another id
            data["sig"] = events[i - 1].sig
        elif way == 2:  # the content changed under its id
            data["content"] += " (edited)"
        elif way == 3:  # another key's valid signature of this id
            data["sig"] = OTHER.sign(bytes.fromhex(event.id)).hex()
        elif way == 4:  # a well-formed signature that is no point on the curve
            data["sig"] = "ff" * 64
        elif way == 5:  # a genuine event the filters did not ask for
            data = sign(KEY, 7, "+", [], AT + i).to_dict()
        out.append(data)
    return out


async def ready_pool(urls: list[str], options: PoolOptions, until: Callable[..., Any]) -> Pool:
    """A pool whose worker is up before the first event, so every check can go to it."""
    pool = Pool(urls, options=options)
    if options.offload_after is not None:
        verifier = pool.verifier()
        await until(lambda: verifier.ready, timeout=20, what="the signature worker to start")
    return pool


async def read(pool: Pool, **kwargs: Any) -> tuple[list[Event | object], Any]:
    """Every item of one subscription until EOSE (the marker included), and the stats."""
    items: list[Event | object] = []
    async with pool.subscribe(KIND_1, **kwargs) as sub:
        async for item in sub.items():
            items.append(item)
            if item is EOSE:
                break
    return items, sub


def counts(sub: Any) -> dict[str, tuple[int, int, int]]:
    return {url: (s.events, s.invalid, s.duplicates) for url, s in sub.stats.items()}


async def test_forged_events_are_refused_by_the_worker_with_the_inline_stats(
    hostile_relay: Any, until: Callable[..., Any]
) -> None:
    """Finding (issue 15's worker path): each forgery is counted invalid and never
    delivered, the genuine events arrive in the relay's order, and the stats equal those
    of inline checks; a repeated frame is a duplicate either way."""
    events = genuine(600)
    frames = forge(events)
    frames += frames[:12]  # sent again: the genuine ones are duplicates now
    wanted = [e for e, f in zip(events, frames, strict=False) if f == e.to_dict()]
    async with hostile_relay(frames) as relay:
        seen = {}
        for options in (INLINE, WORKER):
            pool = await ready_pool([relay.url], options, until)
            async with pool:
                items, sub = await read(pool)
                answered = pool.verifier().answered if options is WORKER else 0
            assert items == [*wanted, EOSE]
            seen[options.offload_after] = counts(sub)
        assert seen[None] == seen[0] == {relay.url: (100, 510, 2)}
        # Every new event whose id matched its content and the filters reached the worker
        # (those are checked on the loop): 100 genuine, 300 with a bad signature, and the
        # 6 bad signatures sent again unless their first copy was still in flight (then
        # the copy waited for its verdict and was checked inline).
        assert 400 <= answered <= 406


async def test_a_forged_copy_in_flight_does_not_suppress_the_genuine_one(
    hostile_relay: Any, until: Callable[..., Any]
) -> None:
    """Finding: with checks in flight, a relay sending forged copies of every id (a valid
    signature of another id) must not keep the genuine copies of two other relays out,
    and two genuine copies of one id must not both be delivered."""
    events = genuine(500)
    forged = [{**e.to_dict(), "sig": events[i - 1].sig} for i, e in enumerate(events)]
    async with (
        hostile_relay(forged) as liar,
        hostile_relay(events) as honest,
        hostile_relay(events) as twin,
    ):
        pool = await ready_pool([liar.url, honest.url, twin.url], WORKER, until)
        async with pool:
            items, sub = await read(pool)
    delivered = [i for i in items if isinstance(i, Event)]
    assert sorted(e.id for e in delivered) == sorted(e.id for e in events)
    assert items[-1] is EOSE
    stats = counts(sub)
    assert stats[liar.url][0] == 0  # nothing of the liar's delivered
    assert stats[honest.url][1] == stats[twin.url][1] == 0
    assert stats[honest.url][0] + stats[twin.url][0] == 500
    assert all(sum(s) == 500 for s in stats.values())  # every copy accounted for once


async def test_eose_and_live_events_keep_their_place_behind_the_checks(
    hostile_relay: Any, until: Callable[..., Any]
) -> None:
    """Finding: EOSE must come after every stored event the relay sent before it, even
    while their signatures are still being checked, and a live event after it."""
    stored = genuine(800)
    async with hostile_relay(stored) as relay:
        pool = await ready_pool([relay.url], WORKER, until)
        async with pool, pool.subscribe(KIND_1, stream=True) as sub:
            items = []
            live = genuine(3, start=800)
            async for item in sub.items():
                items.append(item)
                if item is EOSE:
                    for event in live:
                        await relay.push(event)
                if len(items) == 804:
                    break
    assert items == [*stored, EOSE, *live]


async def test_the_worker_ends_with_the_pool(hostile_relay: Any, until: Callable[..., Any]) -> None:
    """Finding: no orphan process: the worker a feed started exits when its pool closes."""
    async with hostile_relay(genuine(50)) as relay:
        pool = await ready_pool([relay.url], WORKER, until)
        async with pool:
            pid = pool.verifier_pid
            assert pid is not None
            await read(pool)
            os.kill(pid, 0)  # alive while the pool is open
        assert pool.verifier_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # exited and reaped


async def test_short_reads_never_start_the_worker(
    hostile_relay: Any, until: Callable[..., Any]
) -> None:
    """Finding: starting a process costs tens of ms, so a command reading a few events
    (`mas req`, `request show`) must check them inline; a read past ``offload_after``
    starts the worker."""
    options = replace(WORKER, offload_after=2000)  # the default where there are 2 cores
    async with hostile_relay(genuine(1999)) as short, Pool([short.url], options=options) as pool:
        items, sub = await read(pool)
        assert len(items) == 2000 and sub.received == 1999
        assert pool.verifier_pid is None
    async with hostile_relay(genuine(2100)) as long, Pool([long.url], options=options) as pool:
        items, sub = await read(pool)
        assert len(items) == 2101
        await until(lambda: pool.verifier_pid is not None, what="the worker of a long read")


class Told:
    """A waiter that records being told its batch was answered."""

    def __init__(self) -> None:
        self.times = 0

    def checked(self) -> None:
        self.times += 1


async def test_a_dead_worker_is_never_trusted(
    hostile_relay: Any, until: Callable[..., Any]
) -> None:
    """Finding: a worker killed with checks in flight gives no verdict (the events are
    checked inline), and a pool whose worker died checks everything inline with the same
    stats."""
    event = genuine(1)[0]
    verifier = Verifier()
    try:
        await until(lambda: verifier.ready, timeout=20, what="the signature worker to start")
        assert verifier.pid is not None
        os.kill(verifier.pid, signal.SIGKILL)
        told = Told()
        batch, index = verifier.submit(event.pubkey, event.id, event.sig, told)
        await until(lambda: batch.done, what="the batch to be given up")
        assert told.times == 1 and batch.valid(index) is None and not verifier.ready
    finally:
        await verifier.close()
    assert not verifier.running

    frames = forge(genuine(120))
    async with hostile_relay(frames) as relay:
        inline_pool = Pool([relay.url], options=INLINE)
        async with inline_pool:
            inline_items, inline_sub = await read(inline_pool)
        pool = await ready_pool([relay.url], WORKER, until)
        async with pool:
            dead = pool.verifier()
            assert dead.pid is not None
            os.kill(dead.pid, signal.SIGKILL)  # the first batch sent to it finds out
            items, sub = await read(pool)
            assert dead.answered == 0 and not dead.ready
    assert items == inline_items and counts(sub) == counts(inline_sub)
    assert sub.stats[relay.url].events == 20


async def test_the_worker_answers_batches_in_order(until: Callable[..., Any]) -> None:
    """The wire format end to end: several batches in one loop iteration and the next,
    each verdict where its event was."""
    good = genuine(5)
    bad = [replace(e, sig=good[0].sig) for e in good[1:]]
    verifier = Verifier()
    try:
        await until(lambda: verifier.ready, timeout=20, what="the signature worker to start")
        told = Told()
        first = [verifier.submit(e.pubkey, e.id, e.sig, told) for e in [*good, *bad]]
        await asyncio.sleep(0)  # yield once: the first batch goes out, the next is another
        second = [verifier.submit(e.pubkey, e.id, e.sig, told) for e in [*bad, *good]]
        await until(lambda: all(b.done for b, _ in (*first, *second)), what="both answers")
    finally:
        await verifier.close()
    verdicts = [batch.valid(index) for batch, index in (*first, *second)]
    assert verdicts == [True] * 5 + [False] * 8 + [True] * 5
    assert told.times == 2 and verifier.answered == 18


def test_one_core_never_starts_the_worker() -> None:
    """Finding: on one core the worker cannot run beside the loop, it only adds work: the
    default is then to check inline."""
    script = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))});"
        "from shieldmutual.client.pool_options import PoolOptions;"
        "print(PoolOptions().offload_after)"
    )
    one = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    assert one.stdout.strip() == b"None"
    if len(os.sched_getaffinity(0)) > 1:
        assert PoolOptions().offload_after == 2000


def frame(event: Event) -> bytes:
    """An EVENT frame as relays write it (no spaces: the pool reads its id from the bytes)."""
    return orjson.dumps(["EVENT", "s", event.to_dict()])


async def test_copies_of_an_id_in_flight_are_held_unread(until: Callable[..., Any]) -> None:
    """Finding (issue 15): a copy arriving while the first copy of its id was at the worker
    was parsed (JSON and Event) only to be dropped at its turn: a third of the copies in a
    feed over 3 relays. Now it waits as its frame's bytes, and is parsed only if the copy
    ahead of it is not delivered. The subscription (real, with the real worker) is handed
    frames directly, so the copies are surely in flight: an unreadable copy behind a
    delivered one is a duplicate (never parsed), a genuine one behind a forgery is read
    and delivered."""
    first, second, third = genuine(3)
    pool = await ready_pool(["ws://127.0.0.1:9"], WORKER, until)
    async with pool:
        sub = pool.subscribe(KIND_1)
        url = next(iter(sub.stats))
        assert sub.on_event(url, replace(first, sig=second.sig)) is False  # a forgery first
        assert sub.on_frame(url, first.id, frame(first)) is False  # held, unread
        assert sub.on_frame(url, first.id, b'["EVENT","s",{"id":"' + first.id.encode()) is False
        assert sub.on_event(url, second) is False
        assert sub.on_frame(url, second.id, b'["EVENT","s",{"id":"' + second.id.encode()) is False
        assert sub.on_frame(url, third.id, frame(third)) is None  # a new id: parse it
        delivered: list[Event | object] = []
        async with asyncio.timeout(10):
            async for item in sub.items():
                delivered.append(item)
                if len(delivered) == 2:
                    break
    assert delivered == [first, second]
    assert counts(sub) == {url: (2, 1, 2)}  # the forgery invalid, the unreadable copies dupes
