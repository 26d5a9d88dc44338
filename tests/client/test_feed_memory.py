"""The feed reader's memory (issue 15): the requests it keeps to resolve pointers are the
same newest ones the feed keeps, so a long back-fill holds one capped set of events."""

from __future__ import annotations

from shieldmutual.client.feed import FeedReader
from shieldmutual.client.pool import Pool
from shieldmutual.shared import kinds
from shieldmutual.shared.aid.feed import MAX_ITEMS, Feed, FeedFilter
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

KEY = SecretKey(bytes.fromhex("44" * 32))
NOW = 1_700_000_000


def request(i: int) -> Event:
    """A minimal readable request of mas-north, ``i`` seconds old."""
    tags = [["d", f"r{i}"], ["title", f"Request {i}"], ["t", "mas-north"], ["t", "mutualaid"]]
    return sign(KEY, kinds.CLASSIFIED, "Help with the rent.", tags, NOW - i)


async def test_a_long_backfill_keeps_one_set_of_the_newest_requests() -> None:
    reader = FeedReader(Pool(["ws://127.0.0.1:9"]), ["mas-north"], Feed(FeedFilter()), stream=False)
    total = MAX_ITEMS + MAX_ITEMS // 2
    for i in range(total):  # newest first, as relays answer a REQ
        reader.take(request(i))
    kept = {e.id for e in reader.known.values()}
    shown = {item.event.id for item in reader.feed.items.values()}
    assert len(shown) > MAX_ITEMS // 2  # the requests were read and kept
    assert kept <= shown  # nothing held only for pointers: one set of events
    assert min(e.created_at for e in reader.known.values()) > NOW - total
