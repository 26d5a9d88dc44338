"""NIP-77 against nostr-tools (npm, pinned in tests/interop/js/package.json).

* nostr-tools' ``NegentropySync`` against our relay: it initiates over a websocket, the
  relay answers (relay/negentropy.py).
* nostr-tools' ``Negentropy`` as the initiator against ``shared/negentropy.py`` as the
  responder, message by message over stdin/stdout, with its default frame size limit
  and the smallest one the protocol allows.
* The other way round, ours initiating: nostr-tools' class is written for clients and
  never answers an IdList range with its own ids (it skips it, as an initiator does),
  so it is a full responder only where its side of a differing range is small enough
  to be sent as an IdList. The test uses exactly that shape; rust-nostr's relay is the
  full responder for our initiator (test_nip77_rust_nostr.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shieldmutual.relay.server import Relay
from shieldmutual.shared.event import Event
from shieldmutual.shared.negentropy import MIN_FRAME_SIZE_LIMIT, Negentropy, Storage

Item = tuple[int, bytes]


def random_items(count: int, rng: random.Random, spread: int = 200) -> list[Item]:
    """Few distinct timestamps, so bounds need id prefixes too."""
    return [(1_700_000_000 + rng.randrange(spread), rng.randbytes(32)) for _ in range(count)]


def hexes(items: list[Item]) -> set[str]:
    return {id_.hex() for _, id_ in items}


async def test_negentropy_sync_of_nostr_tools_against_our_relay(
    start_relay: Callable[..., Awaitable[Relay]],
    connect: Callable[..., Awaitable[Any]],
    keys: Any,
    note: Callable[..., Event],
    nostr_tools: Any,
) -> None:
    relay = await start_relay(rate_limits={"events_per_second": 0})
    base = int(time.time()) - 5000
    events = [note(keys.alice, f"n{i}", at=base + i % 97) for i in range(400)]
    relay_only, common = events[:60], events[60:]
    client_only = random_items(45, random.Random(1))
    client = await connect(relay.url)
    await client.publish_many(relay_only + common)
    items = [(e.created_at, bytes.fromhex(e.id)) for e in common] + client_only

    node = nostr_tools(["relay", relay.url, '{"kinds": [1]}'], items)
    result = await node.answer()
    assert result["error"] is None
    assert set(result["have"]) == hexes(client_only)
    assert set(result["need"]) == {e.id for e in relay_only}


@pytest.mark.parametrize("limit", ["default", str(MIN_FRAME_SIZE_LIMIT)])
@pytest.mark.parametrize("size", [0, 20, 3000])
async def test_nostr_tools_initiates_and_our_module_responds(
    nostr_tools: Any, limit: str, size: int
) -> None:
    rng = random.Random(size)
    common = random_items(size, rng)
    theirs_only = random_items(size // 10 + 3, rng)
    ours_only = random_items(size // 7 + 2, rng)
    node = nostr_tools(["initiator", limit], common + theirs_only)
    ours = Negentropy(Storage(common + ours_only), 0 if limit == "default" else int(limit))
    have: set[str] = set()
    need: set[str] = set()
    message = await node.answer()
    rounds = 0
    while message is not None:
        node.send(ours.reconcile(bytes.fromhex(message)).hex())
        answer = await node.answer()
        have.update(answer["have"])
        need.update(answer["need"])
        message = answer["next"]
        rounds += 1
    assert have == hexes(theirs_only)
    assert need == hexes(ours_only)
    assert rounds >= 1


@pytest.mark.parametrize("limit", [0, MIN_FRAME_SIZE_LIMIT])
async def test_our_initiator_reads_nostr_tools_replies(nostr_tools: Any, limit: int) -> None:
    """We hold 600 items in 16 fingerprinted ranges; nostr-tools holds a few of them and
    a few of its own, so every range it finds different it answers with its ids."""
    rng = random.Random(limit)
    ours = random_items(600, rng)
    shared = rng.sample(ours, 10)
    theirs_only = random_items(5, rng)
    node = nostr_tools(["responder", "default"], shared + theirs_only)
    initiator = Negentropy(Storage(ours), limit)
    message: bytes | None = initiator.initiate()
    have: set[str] = set()
    need: set[str] = set()
    while message is not None:
        node.send(message.hex())
        step = initiator.reconcile_initiator(bytes.fromhex(await node.answer()))
        have.update(i.hex() for i in step.have)
        need.update(i.hex() for i in step.need)
        message = step.next
    assert need == hexes(theirs_only)
    assert have == hexes(ours) - hexes(shared)


async def test_identical_sets_end_in_one_round_both_ways(nostr_tools: Any) -> None:
    items = random_items(2000, random.Random(7), spread=5)
    node = nostr_tools(["responder", "default"], items)
    initiator = Negentropy(Storage(items))
    node.send(initiator.initiate().hex())
    assert initiator.reconcile_initiator(bytes.fromhex(await node.answer())).next is None

    other = nostr_tools(["initiator", "default"], items)
    reply = Negentropy(Storage(items)).reconcile(bytes.fromhex(await other.answer()))
    other.send(reply.hex())
    assert await other.answer() == {"next": None, "have": [], "need": []}
