"""Differential test: each store (SQLite, PostgreSQL) answers every random REQ exactly
like a dumb reference.

The reference is the pure matcher (:meth:`Filter.matches`) over the corpus after the
replaceable rules, without the gift wraps the reader may not see, sorted newest first
(ties by lowest id), cut to each filter's limit, unioned and sorted again; COUNT is
the size of that union with each filter cut to its limit or to the cap. Corpora are
small on purpose so that timestamps tie, tags collide and limits bite; low
``default_limit``/``max_limit``/``max_count`` make the caps bite too, and random page
sizes make the keyset pagination cut through ties and through every filter's limit.
Gift wraps are addressed to keys that the random viewers hold or not (issue 10 #4).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from shieldmutual.relay.store.base import CountResult, EventStore
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.kinds import GIFT_WRAP, is_addressable, is_replaceable

SEEDS = range(5)
EVENTS = 400
REQS = 250
NOW = 1_000_050
DEFAULT_LIMIT, MAX_LIMIT, MAX_COUNT = 25, 60, 40
KEYS = [SecretKey(bytes([i + 1]) * 32) for i in range(3)]
AUTHORS = [k.public_hex for k in KEYS]
# Recipients of gift wraps: the authors, and a key no viewer ever holds.
RECIPIENTS = [*AUTHORS, SecretKey(bytes([9]) * 32).public_hex]
KINDS = [1, 1, 1, 7, 0, 3, 10002, 30402, 30023, GIFT_WRAP, GIFT_WRAP]
LETTERS = {"t": ["a", "b", "c", "d"], "d": ["", "x", "y"], "z": ["1", "2"]}
WORDS = ["rent", "Bail", "food", "LEGAL", "café", "help", "now"]


def random_event(rng: random.Random, index: int, earlier: list[Event]) -> Event:
    kind = rng.choice(KINDS)
    tags = [["t", v] for v in rng.sample(LETTERS["t"], rng.randrange(3))]
    if kind == GIFT_WRAP:  # usually one recipient; two test "any p tag" exactly
        tags += [["p", p] for p in rng.sample(RECIPIENTS, rng.choice([1, 1, 1, 2]))]
    if is_addressable(kind) and rng.random() < 0.8:
        tags.append(["d", rng.choice(LETTERS["d"])])
    if rng.random() < 0.2:
        tags.append(["z", rng.choice(LETTERS["z"])])
    if earlier and rng.random() < 0.3:
        tags.append(["e", rng.choice(earlier).id])
    if rng.random() < 0.2:
        tags.append(["title", " ".join(rng.sample(WORDS, 2))])
    if rng.random() < 0.1:
        tags.append(["expiration", str(NOW + rng.randrange(-3, 4))])
    words = " ".join(rng.choices(WORDS, k=rng.randrange(4)))
    content = f"{words} #{index}"
    created_at = 1_000_000 + rng.randrange(40)  # few distinct times: many ties
    return sign(rng.choice(KEYS), kind, content, tags, created_at=created_at)


def corpus(rng: random.Random) -> list[Event]:
    events: list[Event] = []
    for index in range(EVENTS):
        events.append(random_event(rng, index, events))
    return events


def order(event: Event) -> tuple[int, str]:
    return -event.created_at, event.id


def reference_store(events: list[Event]) -> list[Event]:
    """What should survive: for each replaceable address only its winning version."""
    kept: dict[object, Event] = {}
    for event in events:
        if is_addressable(event.kind):
            key: object = (event.pubkey, event.kind, event.d_tag)
        elif is_replaceable(event.kind):
            key = (event.pubkey, event.kind)
        else:
            key = event.id
        if key not in kept or order(event) < order(kept[key]):
            kept[key] = event
    return sorted(kept.values(), key=order)


def expired(event: Event, now: int) -> bool:
    value = event.first_tag("expiration")
    return value is not None and value.isdigit() and int(value) <= now


def reference_limit(f: Filter) -> int:
    if f.limit is not None:
        return min(f.limit, MAX_LIMIT)
    if f.ids is not None:
        return min(len(f.ids), MAX_LIMIT)
    return DEFAULT_LIMIT


def visible(event: Event, viewer: frozenset[str]) -> bool:
    return event.kind != GIFT_WRAP or bool(viewer & set(event.tag_values("p")))


def reference_union(
    stored: list[Event], filters: list[Filter], now: int, viewer: frozenset[str], limit: Any
) -> list[Event]:
    live = [e for e in stored if not expired(e, now) and visible(e, viewer)]
    union: dict[str, Event] = {}
    for f in filters:
        if f.is_empty_result():
            continue
        for event in [e for e in live if f.matches(e)][: limit(f)]:
            union[event.id] = event
    return sorted(union.values(), key=order)


def reference_query(
    stored: list[Event], filters: list[Filter], now: int, viewer: frozenset[str]
) -> list[str]:
    return [e.id for e in reference_union(stored, filters, now, viewer, reference_limit)]


def reference_count(
    stored: list[Event], filters: list[Filter], now: int, viewer: frozenset[str]
) -> CountResult:
    """Each filter within its own limit (MAX_COUNT + 1 at most), then capped."""

    def cap(f: Filter) -> int:
        return min(f.limit, MAX_COUNT + 1) if f.limit is not None else MAX_COUNT + 1

    total = len(reference_union(stored, filters, now, viewer, cap))
    return CountResult(MAX_COUNT, True) if total > MAX_COUNT else CountResult(total)


def random_filter(rng: random.Random, events: list[Event]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if rng.random() < 0.15:
        data["ids"] = [e.id for e in rng.sample(events, rng.randrange(6))]
        if rng.random() < 0.3:
            data["ids"].append(f"{rng.getrandbits(256):064x}")
    if rng.random() < 0.4:
        data["authors"] = rng.sample(AUTHORS, rng.randrange(3))
    if rng.random() < 0.5:
        data["kinds"] = sorted(set(rng.sample(KINDS, rng.randrange(1, 4))))
    for letter, values in LETTERS.items():
        if rng.random() < 0.25:
            data["#" + letter] = rng.sample(values, rng.randrange(1, len(values) + 1))
    if rng.random() < 0.1:
        data["#e"] = [e.id for e in rng.sample(events, 3)]
    if rng.random() < 0.15:
        data["#p"] = rng.sample(RECIPIENTS, rng.randrange(1, 3))
    if rng.random() < 0.3:
        data["since"] = 1_000_000 + rng.randrange(45)
    if rng.random() < 0.3:
        data["until"] = 1_000_000 + rng.randrange(45)
    if rng.random() < 0.6:
        data["limit"] = rng.choice([0, 1, 2, 5, 10, 30, 100])
    if rng.random() < 0.15:
        words = rng.sample(WORDS, rng.randrange(1, 3))
        data["search"] = " ".join(w.swapcase() if rng.random() < 0.3 else w for w in words)
        if rng.random() < 0.3:
            data["search"] += " lang:en"
    if rng.random() < 0.05:
        data["ids"] = []
    return data


async def check_seed(seed: int, make_store: Callable[..., EventStore]) -> None:
    rng = random.Random(seed)
    events = corpus(rng)
    stored = reference_store(events)
    arrivals = events[:]
    rng.shuffle(arrivals)
    store = make_store(default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT, max_count=MAX_COUNT)
    async with store:
        await asyncio.gather(*(store.save(e, e.to_json()) for e in arrivals))
        for _ in range(REQS):
            datas = [random_filter(rng, events) for _ in range(rng.choice([1, 1, 2, 3]))]
            filters = [Filter.from_dict(d) for d in datas]
            now = rng.choice([NOW - 10, NOW, NOW + 10])
            viewer = frozenset(rng.sample(AUTHORS, rng.choice([0, 0, 1, 2])))
            size = rng.choice([1, 2, 7, 256])
            where = f"seed {seed}: {datas} now={now} viewer={len(viewer)} page={size}"
            pages = [p async for p in store.query(filters, now, viewer=viewer, page_size=size)]
            assert all(0 < len(page) <= size for page in pages), where
            got = [orjson.loads(raw)["id"] for page in pages for raw in page]
            assert got == reference_query(stored, filters, now, viewer), where
            counted = await store.count(filters, now, viewer=viewer)
            assert counted == reference_count(stored, filters, now, viewer), where


@pytest.mark.parametrize("seed", SEEDS)
async def test_store_agrees_with_the_reference(
    seed: int, make_store: Callable[..., EventStore]
) -> None:
    await check_seed(seed, make_store)
