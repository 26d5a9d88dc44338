"""The relay benchmarks' data: N signed events from 200 authors over 50 topics, and M
REQs of four typical shapes, made once per run from a seed (untimed)."""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

from bench import _load
from shieldmutual.shared import event as nostr_event
from shieldmutual.shared import keys

WORDS = (
    "water",
    "food",
    "shelter",
    "ride",
    "medicine",
    "childcare",
    "repair",
    "tools",
    "loan",
    "rent",
    "heat",
    "meals",
    "pantry",
    "shift",
    "volunteer",
    "pickup",
    "dropoff",
    "tonight",
    "tomorrow",
    "urgent",
    "thanks",
    "offer",
    "need",
    "neighbour",
    "fridge",
    "garden",
    "bikes",
    "blankets",
    "diapers",
    "insulin",
    "clinic",
    "transport",
    "phone",
    "charger",
    "laundry",
    "tent",
    "coats",
    "boots",
    "library",
    "school",
    "bus",
    "walk",
    "check-in",
    "call",
    "text",
    ").split(",
)


class Dataset:
    """N signed events from 200 authors over 50 topics, and M REQs of four shapes."""

    N_AUTHORS = 200
    N_TOPICS = 50

    def __init__(self, n_events: int, n_reqs: int, seed: int) -> None:
        rng = random.Random(seed)
        self.authors = [
            keys.SecretKey(hashlib.sha256(b"shieldmutual-bench-author-%d" % i).digest())
            for i in range(self.N_AUTHORS)
        ]
        pubkeys = [a.public_hex for a in self.authors]
        now = int(time.time())
        t0 = time.perf_counter()
        events: list[nostr_event.Event] = []
        for i in range(n_events):
            author = rng.choice(self.authors)
            created = now - n_events + i
            if events and rng.random() < 0.15:
                target = rng.choice(events[-500:])
                kind, content = 7, "+"
                tags = [["e", target.id], ["p", target.pubkey]]
            else:
                kind = 1
                content = " ".join(rng.choices(WORDS, k=rng.randint(5, 30)))
                tags = [["t", f"topic{rng.randrange(self.N_TOPICS):02d}"]]
                if rng.random() < 0.3:
                    tags.append(["p", rng.choice(pubkeys)])
            events.append(nostr_event.sign(author, kind, content, tags, created))
        self.sign_seconds = time.perf_counter() - t0
        self.events = events
        self.frames = [_load.frame(b'["EVENT",' + e.to_json() + b"]") for e in events]
        ids = [e.id for e in events]
        self.reqs: list[tuple[int, dict[str, Any]]] = []
        for i in range(n_reqs):
            shape = i % 4
            if shape == 0:
                flt: dict[str, Any] = {"kinds": [1], "limit": 50}
            elif shape == 1:
                flt = {"authors": [rng.choice(pubkeys)], "limit": 20}
            elif shape == 2:
                flt = {"#t": [f"topic{rng.randrange(self.N_TOPICS):02d}"], "limit": 50}
            else:
                flt = {"ids": rng.sample(ids, min(5, len(ids)))}
            self.reqs.append((shape, flt))


SHAPES = ("kinds:[1] limit 50", "authors:[1] limit 20", "#t:[1] limit 50", "ids:[5]")
