"""The pool against scripted relays: per-relay results, de-duplication, verification,
EOSE tracking, timeouts, resume after a drop, and NIP-42.

Well-behaved relays are covered against the real mas-relay in tests/e2e; these relays
misbehave on purpose (forged signatures, silence, events that do not match).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool import EOSE, Pool, PoolOptions, RelayState, Status
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

KEY = SecretKey(bytes.fromhex("22" * 32))
FAST = PoolOptions(connect_timeout=2, ok_timeout=0.5, eose_timeout=1, backoff_base=0.05)


def note(text: str, created_at: int | None = None, kind: int = 1) -> Event:
    return sign(KEY, kind, text, [["t", "mas-test"]], created_at)


def forged(event: Event) -> dict[str, Any]:
    data = event.to_dict()
    data["sig"] = ("0" if data["sig"][0] != "0" else "1") + data["sig"][1:]
    return data


def dead_url() -> str:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{s.getsockname()[1]}"


async def test_publish_reports_every_relay_kind_of_answer(fake_relay: Any) -> None:
    async with (
        fake_relay() as ok,
        fake_relay(ok=lambda _event: (True, "duplicate: have it")) as dup,
        fake_relay(ok=lambda _event: (False, "blocked: not here")) as rejecting,
        fake_relay(ok=None) as silent,
    ):
        dead = dead_url()
        urls = [ok.url, dup.url, rejecting.url, silent.url, dead]
        event = note("hello")
        async with Pool(urls, options=FAST) as pool:
            report = await pool.publish(event)
        by = {r.relay: r for r in report.results}
        assert [r.relay for r in report.results] == urls
        assert by[ok.url].status is Status.ACCEPTED
        assert by[dup.url].status is Status.DUPLICATE
        assert by[rejecting.url].status is Status.REJECTED
        assert by[rejecting.url].message == "blocked: not here"
        assert by[silent.url].status is Status.TIMEOUT
        assert by[dead].status is Status.UNREACHABLE
        assert by[dead].message == "connection refused"
        assert report.acks == 2 and report.ok(2) and not report.ok(3)
        assert all(r.event_id == event.id for r in report.results)
        assert ok.events == [event.to_dict()]
        assert by[ok.url].to_dict()["status"] == "accepted"


async def test_a_silent_relay_does_not_delay_the_others(fake_relay: Any) -> None:
    options = PoolOptions(ok_timeout=2, eose_timeout=5, connect_timeout=2)
    async with (
        fake_relay(eose=False, ok=None) as silent,
        fake_relay([note("first").to_dict()]) as good,
        Pool([silent.url, good.url], options=options) as pool,
    ):
        start = time.monotonic()
        async with pool.subscribe([Filter.from_dict({"kinds": [1]})]) as sub:
            first = await anext(aiter(sub))
            # Delivered while the silent relay is still being waited for.
            assert first.content == "first" and not sub.eose.is_set()
            assert sub.stats[good.url].status is RelayState.EOSE
            rest = [e async for e in sub]
        assert rest == []
        assert sub.stats[silent.url].status is RelayState.TIMEOUT
        # The silent relay got the grace after the good one's EOSE, not eose_timeout.
        assert options.eose_grace <= time.monotonic() - start < options.eose_timeout
        assert "after the other relays answered" in sub.stats[silent.url].message

        report = await pool.publish(note("x"))
        good_result, silent_result = report.results[1], report.results[0]
        assert good_result.status is Status.ACCEPTED
        assert silent_result.status is Status.TIMEOUT
        # It let the subscription's grace run out: this publish does not wait for it.
        assert silent.url in pool.lagging
        assert good_result.elapsed < 1 and silent_result.elapsed < options.ok_timeout


async def test_subscription_dedupes_verifies_and_counts(fake_relay: Any) -> None:
    a, b, c = note("a"), note("b"), note("c")
    wrong_kind = note("x", kind=7)
    bad_shape = {**a.to_dict(), "id": "nope"}
    async with (
        fake_relay([a.to_dict(), b.to_dict(), forged(c)]) as r1,
        fake_relay([b.to_dict(), c.to_dict(), wrong_kind.to_dict(), bad_shape]) as r2,
    ):
        async with Pool([r1.url, r2.url], options=FAST) as pool:
            sub = pool.subscribe([Filter.from_dict({"kinds": [1]})])
            async with sub:
                items = [item async for item in sub.items()]
        events = [i for i in items if isinstance(i, Event)]
        assert sorted(e.content for e in events) == ["a", "b", "c"]
        assert items[-1] is EOSE
        assert sub.eose.is_set()
        assert sub.received == 3
        assert sub.stats[r1.url].invalid == 1  # forged c
        assert sub.stats[r2.url].invalid == 2  # kind 7 does not match, bad shape
        assert sub.invalid == 3
        assert sub.duplicates == 1  # b from the second relay
        assert {s.status for s in sub.stats.values()} == {RelayState.EOSE}


async def test_a_forged_copy_cannot_suppress_the_genuine_event(fake_relay: Any) -> None:
    genuine = note("real")
    async with fake_relay([forged(genuine)]) as liar, fake_relay([genuine.to_dict()]) as ok:
        async with Pool([liar.url, ok.url], options=FAST) as pool:
            # The liar answers first: its connection is opened and its REQ sent first.
            events = await pool.fetch([Filter.from_dict({"ids": [genuine.id]})])
        assert events == [genuine]


async def test_unreachable_and_closed_relays_count_towards_eose(fake_relay: Any) -> None:
    async with (
        fake_relay([note("x").to_dict()]) as good,
        fake_relay(challenge="c", require_auth=True) as closing,
    ):
        dead = dead_url()
        options = PoolOptions(eose_timeout=10, connect_timeout=2, backoff_base=0.05)
        async with Pool([good.url, dead, closing.url], options=options) as pool:
            start = time.monotonic()
            async with pool.subscribe([Filter.from_dict({"kinds": [1]})]) as sub:
                events = [e async for e in sub]
            assert time.monotonic() - start < 5
        assert len(events) == 1
        assert sub.stats[dead].status is RelayState.UNREACHABLE
        assert sub.stats[closing.url].status is RelayState.CLOSED
        assert sub.stats[closing.url].message.startswith("auth-required:")
        assert sub.stats[good.url].eose_after is not None


async def test_stream_resumes_after_a_drop_with_since_and_without_limit(
    fake_relay: Any, until: Any
) -> None:
    old = note("old", created_at=int(time.time()) - 5000)
    async with fake_relay([old.to_dict()]) as relay:
        options = PoolOptions(eose_timeout=5, backoff_base=0.05, resume_slack=10)
        async with Pool([relay.url], options=options) as pool:
            sub = pool.subscribe([Filter.from_dict({"kinds": [1], "limit": 5})], stream=True)
            async with sub:
                items = aiter(sub.items())
                assert (await anext(items)).content == "old"
                assert await anext(items) is EOSE
                before_drop = int(time.time())
                relay.got_req.clear()
                await relay.drop_all()
                await until(lambda: relay.got_req.is_set())
                resumed = relay.reqs[-1][2]
                assert "limit" not in resumed
                assert before_drop - 12 <= resumed["since"] <= before_drop - 9
                # The stored event is sent again on resume; it is not repeated.
                live = note("live")
                await relay.push(live.to_dict())
                assert (await anext(items)).content == "live"
            stats = sub.stats[relay.url]
            assert stats.reconnects == 1
            assert stats.duplicates == 1  # "old" again, dropped


async def test_drop_before_eose_repeats_the_original_filters(fake_relay: Any, until: Any) -> None:
    async with fake_relay(eose=False) as relay:
        options = PoolOptions(eose_timeout=5, backoff_base=0.05)
        async with Pool([relay.url], options=options) as pool:
            sub = pool.subscribe([Filter.from_dict({"kinds": [1], "limit": 5})], stream=True)
            async with sub:
                await until(lambda: len(relay.reqs) == 1)
                await relay.drop_all()
                await until(lambda: len(relay.reqs) == 2)
                assert relay.reqs[1][2] == {"kinds": [1], "limit": 5}
                assert relay.reqs[0][1] == relay.reqs[1][1]  # same subscription id


async def test_publish_after_the_relay_dropped_us_reconnects(fake_relay: Any) -> None:
    async with fake_relay() as relay, Pool([relay.url], options=FAST) as pool:
        assert (await pool.publish(note("1"))).acks == 1
        await relay.drop_all()
        report = await pool.publish(note("2"))
        assert report.acks == 1, report.results


async def test_rate_limited_publish_is_retried(fake_relay: Any) -> None:
    answers = iter([(False, "rate-limited: slow down"), (False, "rate-limited: again")])

    def ok(_event: dict[str, Any]) -> tuple[bool, str]:
        return next(answers, (True, ""))

    async with fake_relay(ok=ok) as relay, Pool([relay.url], options=FAST) as pool:
        report = await pool.publish(note("patient"))
        assert report.results[0].status is Status.ACCEPTED
        assert len(relay.events) == 3
    stubborn = PoolOptions(backoff_base=0.05, rate_limit_wait=0.3)
    async with (
        fake_relay(ok=lambda _event: (False, "rate-limited: no")) as relay,
        Pool([relay.url], options=stubborn) as pool,
    ):
        result = (await pool.publish(note("x"))).results[0]
        assert result.status is Status.REJECTED and result.message == "rate-limited: no"
        assert result.elapsed < 1


async def test_nip42_auth_then_retry(fake_relay: Any) -> None:
    stored = [note("secret stuff").to_dict()]
    async with fake_relay(stored, challenge="chal-1", require_auth=True) as relay:
        async with Pool([relay.url], options=FAST, auth=KEY) as pool:
            events = await pool.fetch([Filter.from_dict({"kinds": [1]})])
        assert [e.content for e in events] == ["secret stuff"]
        auth = Event.from_dict(relay.auth_events[0])
        assert auth.kind == 22242 and auth.is_valid()
        assert auth.first_tag("relay") == relay.url
        assert auth.first_tag("challenge") == "chal-1"
        assert auth.pubkey == KEY.public_hex


async def test_subscription_ids_differ_per_relay(fake_relay: Any) -> None:
    async with fake_relay() as r1, fake_relay() as r2:
        async with Pool([r1.url, r2.url], options=FAST) as pool:
            await pool.fetch([Filter.from_dict({"kinds": [1]})])
        assert r1.reqs[0][1] != r2.reqs[0][1]


async def test_malformed_messages_do_not_break_the_connection(fake_relay: Any, until: Any) -> None:
    async with fake_relay(eose=False) as relay, Pool([relay.url], options=FAST) as pool:
        sub = pool.subscribe([Filter.from_dict({"kinds": [1]})], stream=True)
        async with sub:
            await until(lambda: relay.reqs)
            sub_id = relay.reqs[0][1]
            for frame in ["not json", "[]", '["EVENT"]', f'["EVENT","{sub_id}",{{}}]']:
                await relay.send_raw(frame)
            await relay.push(note("after").to_dict())
            assert (await anext(aiter(sub))).content == "after"
        assert sub.stats[relay.url].invalid == 1  # the one addressed to us


async def test_no_relays_is_a_relay_error() -> None:
    async with Pool([]) as pool:
        with pytest.raises(RelayError):
            await pool.publish(note("x"))
        with pytest.raises(RelayError):
            pool.subscribe([Filter.from_dict({"kinds": [1]})])


async def test_close_ends_open_subscriptions(fake_relay: Any) -> None:
    async with fake_relay(eose=False) as relay:
        pool = Pool([relay.url], options=FAST)
        sub = await pool.subscribe([Filter.from_dict({"kinds": [1]})], stream=True).start()
        consumer = asyncio.ensure_future(asyncio.wait_for(_drain(sub), 5))
        await pool.close()
        assert await consumer == []


async def _drain(sub: Any) -> list[Event]:
    return [e async for e in sub]


async def test_a_relay_that_never_completes_the_handshake_times_out() -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # TCP accepted, websocket handshake never answered

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    options = PoolOptions(connect_timeout=0.5, eose_timeout=5, backoff_base=0.05)
    async with server, Pool([url], options=options) as pool:
        result = (await pool.publish(note("x"))).results[0]
        assert result.status is Status.TIMEOUT
        assert result.message == "no connection within 0.5s"
        async with pool.subscribe([Filter.from_dict({"kinds": [1]})]) as sub:
            assert [e async for e in sub] == []
        assert sub.stats[url].status is RelayState.UNREACHABLE
        for writer in held:
            writer.close()


async def test_the_seen_set_is_bounded(fake_relay: Any) -> None:
    events = [note(f"n{i}", created_at=1_700_000_000 + i) for i in range(5)]
    async with fake_relay([e.to_dict() for e in events]) as relay:
        options = PoolOptions(seen_limit=3, eose_timeout=5)
        async with Pool([relay.url], options=options) as pool:
            sub = pool.subscribe([Filter.from_dict({"kinds": [1]})])
            async with sub:
                got = [e async for e in sub]
        assert len(got) == 5
        # Only the newest seen_limit ids are remembered as delivered.
        remembered = {e.id for e in got if sub.duplicate(relay.url, e.id)}
        assert remembered == {e.id for e in got[-3:]}
