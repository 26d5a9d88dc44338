"""Differential test: SQLiteStore answers every random REQ exactly like a dumb reference.

The reference is the pure matcher (:meth:`Filter.matches`) over the corpus after the
replaceable rules, sorted newest first (ties by lowest id), cut to each filter's limit,
unioned and sorted again. Corpora are small on purpose so that timestamps tie, tags
collide and limits bite; low ``default_limit``/``max_limit`` make the caps bite too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.kinds import is_addressable, is_replaceable

SEEDS = range(5)
EVENTS = 400
REQS = 250
NOW = 1_000_050
DEFAULT_LIMIT, MAX_LIMIT = 25, 60
KEYS = [SecretKey(bytes([i + 1]) * 32) for i in range(3)]
AUTHORS = [k.public_hex for k in KEYS]
KINDS = [1, 1, 1, 7, 0, 3, 10002, 30402, 30023]
LETTERS = {"t": ["a", "b", "c", "d"], "d": ["", "x", "y"], "z": ["1", "2"]}
WORDS = ["rent", "Bail", "food", "LEGAL", "café", "help", "now"]


def random_event(rng: random.Random, index: int, earlier: list[Event]) -> Event:
    kind = rng.choice(KINDS)
    tags = [["t", v] for v in rng.sample(LETTERS["t"], rng.randrange(3))]
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


def reference_query(stored: list[Event], filters: list[Filter], now: int) -> list[str]:
    live = [e for e in stored if not expired(e, now)]
    union: dict[str, Event] = {}
    for f in filters:
        if f.is_empty_result():
            continue
        for event in [e for e in live if f.matches(e)][: reference_limit(f)]:
            union[event.id] = event
    return [e.id for e in sorted(union.values(), key=order)]


def reference_count(stored: list[Event], filters: list[Filter], now: int) -> int:
    """COUNT ignores limits, even ``limit: 0``."""
    unlimited = [dataclasses.replace(f, limit=None) for f in filters]
    live = [f for f in unlimited if not f.is_empty_result()]
    return sum(1 for e in stored if not expired(e, now) and any(f.matches(e) for f in live))


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


async def check_seed(seed: int, path: Path) -> None:
    rng = random.Random(seed)
    events = corpus(rng)
    stored = reference_store(events)
    arrivals = events[:]
    rng.shuffle(arrivals)
    async with SQLiteStore(path, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT) as store:
        await asyncio.gather(*(store.save(e, e.to_json()) for e in arrivals))
        for _ in range(REQS):
            datas = [random_filter(rng, events) for _ in range(rng.choice([1, 1, 2, 3]))]
            filters = [Filter.from_dict(d) for d in datas]
            now = rng.choice([NOW - 10, NOW, NOW + 10])
            raws = await store.query(filters, now)
            got = [orjson.loads(raw)["id"] for raw in raws]
            assert got == reference_query(stored, filters, now), f"seed {seed}: {datas} now={now}"
            assert await store.count(filters, now) == reference_count(stored, filters, now), (
                f"seed {seed}: count {datas} now={now}"
            )


@pytest.mark.parametrize("seed", SEEDS)
def test_store_agrees_with_the_reference(seed: int, tmp_path: Path) -> None:
    asyncio.run(check_seed(seed, tmp_path / f"seed-{seed}.db"))
