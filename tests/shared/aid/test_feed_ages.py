"""The feed's trim (issue 15): the oldest are found from a side index of ``created_at``
instead of a sort through every kept event; which items the feed keeps must not change."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from shieldmutual.shared.aid.feed import Feed, FeedFilter
from shieldmutual.shared.aid.request import AidRequest, Status, request_event_template
from shieldmutual.shared.event import Event, sign

NOW = 1_700_000_000


def version(people: Any, request: AidRequest, name: str, age: int, status: Status) -> Event:
    """A version of the request ``name``, published ``age`` seconds before NOW."""
    changed = replace(request, identifier=name, status=status, language="en")
    return sign(people.bob, *request_event_template(changed), created_at=NOW - age)


class Model:
    """The feed's rules written plainly: latest version per address (lowest id on a tie),
    and past ``limit`` the oldest tenth dropped, ties in insertion order (a stable sort)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.latest: dict[str, Event] = {}

    def offer(self, key: str, event: Event) -> None:
        current = self.latest.get(key)
        if current is not None and (event.created_at, current.id) <= (
            current.created_at,
            event.id,
        ):
            return
        self.latest[key] = event
        if len(self.latest) > self.limit:
            by_age = sorted(self.latest, key=lambda k: self.latest[k].created_at)
            for old in by_age[: len(self.latest) - self.limit + self.limit // 10]:
                del self.latest[old]


def test_the_trim_keeps_what_a_stable_sort_of_the_items_kept(
    people: Any, request_obj: AidRequest
) -> None:
    """Many ties in ``created_at``, newer and older versions of kept and of dropped
    addresses, in a random order: after every offer the feed holds the model's items, in
    the model's order."""
    rng = random.Random(15)
    events = [
        version(people, request_obj, f"r{rng.randrange(90)}", rng.randrange(25), status)
        for status in (Status.OPEN, Status.FUNDED)
        for _ in range(200)
    ]
    rng.shuffle(events)
    feed = Feed(limit=40)
    model = Model(40)
    for event in events:
        feed.offer(event)
        model.offer(f"30402:{event.pubkey}:{event.tags[0][1]}", event)
        assert [(k, i.event.id) for k, i in feed.items.items()] == [
            (k, e.id) for k, e in model.latest.items()
        ]


def test_items_given_at_construction_are_trimmed_by_age_too(
    people: Any, request_obj: AidRequest
) -> None:
    events = [version(people, request_obj, f"r{i}", age=i, status=Status.OPEN) for i in range(12)]
    seeded = Feed(limit=10)
    for event in events[:10]:
        seeded.offer(event)
    feed = Feed(items=dict(seeded.items), limit=10)
    feed.offer(events[10])  # 11 > 10: the two oldest go, the newcomer r10 and r9
    assert [i.event.id for i in feed.items.values()] == [e.id for e in events[:9]]


def test_hidden_old_requests_flooding_in_leave_no_keys_behind(
    people: Any, request_obj: AidRequest
) -> None:
    """Requests the filter hides, newest first (as relays answer): one trimmed on arrival
    used to stay in ``hidden`` for good, a key a flood could grow without end."""
    feed = Feed(FeedFilter(language="fr"), limit=10)
    for i in range(60):
        assert feed.offer(version(people, request_obj, f"r{i}", age=i, status=Status.OPEN)) is None
    assert len(feed.items) <= 10
    assert feed.hidden == set(feed.items)
