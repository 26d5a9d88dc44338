"""The pure feed: tolerant reading of foreign listings, filters, one item per address."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shieldmutual.shared.aid.feed import (
    UNKNOWN_PLACE,
    Feed,
    FeedFilter,
    Via,
    read_listing,
)
from shieldmutual.shared.aid.request import AidRequest, Status, request_event_template
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import sign

NOW = 1_700_000_000


def test_foreign_listing_with_a_society_tag_is_completed(people: Any) -> None:
    tags = [["d", "bike"], ["title", "Bike for a night worker"], ["t", "mas-leeds-care"]]
    event = sign(people.bob, 30402, "Needs a bike to reach the depot.", tags, created_at=NOW)
    request = read_listing(event)
    assert request.title == "Bike for a night worker"
    assert request.summary == "Bike for a night worker"
    assert request.location == UNKNOWN_PLACE
    assert request.published_at == NOW and request.status is Status.OPEN
    assert request.societies == ("leeds-care",)
    assert request.story == "Needs a bike to reach the depot."
    event.verify()  # the original event is untouched


def test_ordinary_listing_without_society_tag_is_refused(people: Any) -> None:
    event = sign(people.bob, 30402, "A sofa.", [["d", "sofa"], ["title", "Sofa"]], created_at=NOW)
    with pytest.raises(AidError, match="mutualaid"):
        read_listing(event)
    precise = [["d", "x"], ["title", "X"], ["t", "mas-a"], ["g", "gcwcvxyz"]]
    with pytest.raises(AidError, match="too precise"):  # rules still hold for foreign ones
        read_listing(sign(people.bob, 30402, "x", precise, created_at=NOW))


def test_filter(request_obj: AidRequest) -> None:
    r = request_obj  # en, gcwcv, open
    assert FeedFilter().matches(r)
    assert FeedFilter(language="en", place="gcw", statuses=frozenset({Status.OPEN})).matches(r)
    assert not FeedFilter(language="fr").matches(r)
    assert not FeedFilter(place="u10").matches(r)
    assert FeedFilter(place="gcwcv").matches(replace(r, geohash="gcw"))  # wider area
    assert not FeedFilter(place="gcw").matches(replace(r, geohash=None))
    assert not FeedFilter(statuses=frozenset({Status.FUNDED})).matches(r)


def test_feed_keeps_latest_version_and_collects_syndications(people: Any, request_obj: Any) -> None:
    v1 = sign(people.alice, *request_event_template(request_obj), created_at=NOW)
    funded = replace(request_obj, status=Status.FUNDED)
    v2 = sign(people.alice, *request_event_template(funded), created_at=NOW + 10)
    feed = Feed()
    first = feed.offer(v1)
    assert first is not None and first.version == 1
    assert feed.offer(v1) is None  # the same event from another relay
    second = feed.offer(v2)
    assert second is not None and second.request.status is Status.FUNDED and second.version == 2
    assert feed.offer(v1, Via(people.carol.public_hex, ("north",), "a" * 64)) is not None
    item = feed.items[str(second.address)]
    assert item.event.id == v2.id  # an older copy arriving by repost never wins
    assert [v.into for v in item.via] == [("north",)]
    assert feed.offer(v1, Via(people.carol.public_hex, ("north",), "a" * 64)) is None
    assert [i.event.id for i in feed.visible()] == [v2.id]


def test_filter_hides_a_request_once_it_changes(people: Any, request_obj: Any) -> None:
    feed = Feed(FeedFilter(statuses=frozenset({Status.OPEN})))
    assert feed.offer(sign(people.alice, *request_event_template(request_obj), created_at=NOW))
    closed = replace(request_obj, status=Status.CLOSED)
    assert (
        feed.offer(sign(people.alice, *request_event_template(closed), created_at=NOW + 5)) is None
    )
    assert feed.visible() == []


def test_a_zero_price_means_no_amount_in_foreign_listings(people: Any) -> None:
    tags = [["d", "free"], ["title", "Free sofa"], ["price", "0", "GBP"], ["t", "mas-a"]]
    request = read_listing(sign(people.bob, 30402, "Free to a family.", tags, created_at=NOW))
    assert request.amount is None and request.currency is None


def test_a_flood_of_distinct_requests_keeps_the_feed_bounded(people: Any, request_obj: Any) -> None:
    """A hostile relay can send any number of valid requests tagged with a followed
    society: the feed remembers at most ``limit`` of them, the newest."""
    feed = Feed(limit=100)
    events = [
        sign(
            people.bob,
            *request_event_template(replace(request_obj, identifier=f"r{i}")),
            created_at=NOW + i,
        )
        for i in range(250)
    ]
    shown = [feed.offer(event) for event in events]
    assert all(item is not None for item in shown)  # each was new when it came
    assert len(feed.items) <= 100
    kept = {item.event.id for item in feed.items.values()}
    assert events[-1].id in kept and events[0].id not in kept
    assert min(item.event.created_at for item in feed.items.values()) > NOW + 100
