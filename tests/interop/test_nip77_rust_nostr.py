"""NIP-77 against rust-nostr (``nostr_sdk``, the test extra), both ways.

* rust-nostr initiates: its ``Client.sync`` (both directions) against our relay, from a
  real LMDB database of its own; afterwards each side holds the union.
* We initiate: ``WsClient.neg_sync`` (shared/negentropy.py) against rust-nostr's own
  relay (``LocalRelay``, nostr-relay-builder), which answers as a full responder.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import nostr_sdk
import pytest

from shieldmutual.relay.server import Relay
from shieldmutual.shared.event import Event
from shieldmutual.shared.negentropy import MIN_FRAME_SIZE_LIMIT

WAIT = timedelta(seconds=5)


def rust_notes(keys: nostr_sdk.Keys, count: int, start: int) -> list[nostr_sdk.Event]:
    now = int(time.time()) - 5000
    return [
        nostr_sdk.EventBuilder(nostr_sdk.Kind(1), f"note {i}")
        .custom_created_at(nostr_sdk.Timestamp.from_secs(now + i % 37))
        .finalize(keys)
        for i in range(start, start + count)
    ]


def ids(events: list[nostr_sdk.Event]) -> set[str]:
    return {e.id().to_hex() for e in events}


def as_ours(event: nostr_sdk.Event) -> Event:
    return Event.from_json(event.as_json())


@pytest.fixture
async def uniffi_loop() -> AsyncIterator[None]:
    """nostr_sdk calls a Python-side database back from Rust threads; uniffi must be
    told which event loop runs those callbacks."""
    nostr_sdk.uniffi_set_event_loop(asyncio.get_running_loop())
    yield
    nostr_sdk.uniffi_set_event_loop(None)  # type: ignore[arg-type]


@pytest.mark.usefixtures("uniffi_loop")
async def test_rust_nostr_client_sync_against_our_relay(
    start_relay: Callable[..., Awaitable[Relay]],
    connect: Callable[..., Awaitable[Any]],
    tmp_path: Path,
) -> None:
    relay = await start_relay(rate_limits={"events_per_second": 0})
    keys = nostr_sdk.Keys.generate()
    relay_only = rust_notes(keys, 120, 0)
    common = rust_notes(keys, 200, 120)
    local_only = rust_notes(keys, 45, 320)
    client = await connect(relay.url)
    await client.publish_many([as_ours(e) for e in relay_only + common])

    database = await nostr_sdk.NostrLmdb.open(str(tmp_path / "lmdb"))
    for event in common + local_only:
        await database.save_event(event)
    rust = nostr_sdk.ClientBuilder().database(database).build()
    await rust.add_relay(nostr_sdk.RelayUrl.parse(relay.url))
    await rust.connect(WAIT)
    try:
        options = nostr_sdk.SyncOptions().direction(nostr_sdk.SyncDirection.BOTH)
        wanted = nostr_sdk.Filter().author(keys.public_key()).kind(nostr_sdk.Kind(1))
        output = await asyncio.wait_for(rust.sync(wanted, opts=options), 30)
    finally:
        await rust.shutdown()
    assert not output.failed, output.failed
    report = output.report
    assert {i.to_hex() for i in report.local} == ids(local_only)
    assert {i.to_hex() for i in report.remote} == ids(relay_only)
    assert {i.to_hex() for i in report.sent} == ids(local_only)
    assert {i.to_hex() for i in report.received} == ids(relay_only)
    stored = await client.req("all", {"authors": [keys.public_key().to_hex()], "limit": 1000})
    assert {e["id"] for e in stored} == ids(relay_only + common + local_only)
    assert await database.count(nostr_sdk.Filter()) == len(relay_only + common + local_only)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def rust_relay() -> AsyncIterator[str]:
    """rust-nostr's LocalRelay on loopback (in memory), without its rate limits."""
    local = (
        nostr_sdk.LocalRelayBuilder()
        .addr("127.0.0.1")
        .port(free_port())
        .rate_limit(nostr_sdk.RateLimit(max_reqs=1000, notes_per_minute=1_000_000))
        .build()
    )
    await local.run()
    yield str(await local.url())
    local.shutdown()


@pytest.mark.parametrize("limit", [60_000, MIN_FRAME_SIZE_LIMIT])
@pytest.mark.parametrize("size", [0, 30, 1500])
async def test_our_initiator_against_rust_nostrs_relay(
    rust_relay: str,
    connect: Callable[..., Awaitable[Any]],
    keys: Any,
    note: Callable[..., Event],
    limit: int,
    size: int,
) -> None:
    base = int(time.time()) - 5000
    events = [note(keys.alice, f"n{i}", at=base + i % 41) for i in range(size + 80)]
    relay_only, common, ours_only = events[:50], events[50 : 50 + size], events[50 + size :]
    client = await connect(rust_relay, greeting=False)
    await client.publish_many(relay_only + common)
    items = [(e.created_at, bytes.fromhex(e.id)) for e in common + ours_only]
    have, need = await client.neg_sync("sync", {"kinds": [1]}, items, limit)
    assert have == {e.id for e in ours_only}
    assert need == {e.id for e in relay_only}
