"""The feed's reading, without a screen: stored requests, their threads and authors' names.

`mas feed`, `mas request list` and `mas offer list` all read the feed's query (the same
for everybody, client/feed.py) and sort out each row's thread from one query about every
request (client/aid.fetch_said). What each shows, and how, is the command's
(client/cli/feed.py and the render modules); what is asked, and when, is here, so it can
be tested against a relay without the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from shieldmutual.client.aid import RequestRecord, fetch_said, fetch_threads, split_threads
from shieldmutual.client.errors import ClientError, RelayError
from shieldmutual.client.feed import FeedReader
from shieldmutual.client.names import NO_NAMES, Names, lookup
from shieldmutual.client.pool import EOSE, Pool, Subscription
from shieldmutual.shared.aid.feed import REQUEST, Feed, FeedFilter, FeedItem
from shieldmutual.shared.aid.thread import Thread
from shieldmutual.shared.errors import ShieldError
from shieldmutual.shared.event import Event

SLACK = 60  # seconds a refresh looks back before the last one (clocks, slow relays)
MAX_SAID = 20_000  # events about requests a live feed keeps to sort threads out of


def item_record(item: FeedItem) -> RequestRecord:
    # The feed's events came through the pool, so they are verified Events.
    return RequestRecord(item.event, item.request)  # type: ignore[arg-type]


class ThreadBatches:
    """Threads and names for the rows a feed shows, from queries that name no row.

    What was said about every request (client/aid.fetch_said) is fetched once as the feed
    starts, windowed by the feed's own ``since``, and again since the last time on
    ``refresh`` (the live table: every ``every`` seconds, by the clock, not by which
    rows change); each row's thread is sorted out of those events here. Profiles are
    looked up for the author of every request the feed's uniform query brought (the
    reader's ``on_author``), never for the rows shown: the stored ones all at once when
    ``stored_done`` is called, then each new one as the stream brings it. So what a
    relay is asked depends on its data, never on follows, contacts or rows (PROTOCOL
    §16.9). Items wait until the stored events are in, then ``show`` gets each batch
    (items with their "new on this device" flag); an edit of a known request reuses its
    thread (the status comes from the new version). ``wanted`` (given the waiting items)
    says which items need a thread: the live table needs its shown rows only.
    """

    def __init__(
        self,
        pool: Pool,
        show: Callable[[list[tuple[FeedItem, bool]]], None],
        wanted: Callable[[list[FeedItem]], list[FeedItem]] = list,
        names: Names = NO_NAMES,
        *,
        since: int | None = None,
        every: float | None = None,
        held: bool = False,
    ) -> None:
        self.pool = pool
        self.show = show
        self.wanted = wanted
        self.threads: dict[str, Thread] = {}
        self.names = names  # petnames, plus every author's profile
        self.since = since
        self.every = every
        self._said: dict[str, Event] = {}  # what was said about any request, by event id
        self._asked_at: int | None = None  # when it was last fetched (None: not yet)
        self._refresh = False
        self._held = held  # until stored_done(): names of all stored authors at once
        self._authors: set[str] = set()  # waiting for their profiles
        self._waiting: list[tuple[FeedItem, bool]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, item: FeedItem, new: bool = False) -> None:
        self._waiting.append((item, new))
        self._idle.clear()
        self._wake.set()

    def add_author(self, pubkey: str) -> None:
        """An author the uniform query brought: looked up whether their rows show or not."""
        self._authors.add(pubkey)
        self._wake.set()

    def stored_done(self) -> None:
        self._held = False
        self._idle.clear()  # drain() waits for the names, even with no row to show
        self._wake.set()

    def refresh(self, items: Sequence[FeedItem]) -> None:
        """Fetch what was said since the last time, and sort these rows' threads again."""
        self._refresh = True
        for item in items:
            self.threads.pop(str(item.address), None)
            self.add(item)

    async def drain(self) -> None:
        """Until every item added so far has been shown."""
        await self._idle.wait()

    async def _fetch_said(self) -> None:
        # Progress is shown when it can be had: a failed query must never stop the feed,
        # nor leave drain() waiting for a batch that never ends.
        with contextlib.suppress(ShieldError, OSError):
            asked = int(time.time())
            last = self._asked_at
            since = self.since if last is None else last - SLACK
            events = await fetch_said(
                self.pool, since, labels_since=None if last is None else last - SLACK
            )
            self._asked_at = asked
            self._said.update((e.id, e) for e in events)
            if len(self._said) > MAX_SAID:  # oldest tenth out: a long-lived feed stays bounded
                ids = sorted(self._said, key=lambda i: self._said[i].created_at)
                for old in ids[: MAX_SAID // 10]:
                    del self._said[old]

    async def _wait(self) -> None:
        """Until something is added, or (the live table) it is time to refresh."""
        try:
            async with asyncio.timeout(self.every):
                await self._wake.wait()
        except TimeoutError:
            self.refresh(self.wanted([]))

    async def run(self) -> None:
        while True:
            await self._wait()
            self._wake.clear()
            # Asked once something came (the feed's own REQ went first), then by the clock.
            if self._refresh or self._asked_at is None:
                self._refresh = False
                await self._fetch_said()
            if self._held:
                continue
            batch, self._waiting = self._waiting, []
            # Offers have no progress to show: only requests' threads are sorted out.
            items = self.wanted([item for item, _ in batch])
            latest = {str(i.address): i for i in items if i.type == REQUEST}
            missing = [item_record(i) for k, i in latest.items() if k not in self.threads]
            if missing and self._asked_at is not None:
                self.threads.update(split_threads(missing, self._said.values()))
            authors, self._authors = self._authors, set()
            if authors:
                with contextlib.suppress(ClientError):
                    self.names = await lookup(self.pool, self.names, authors)
            self.show(batch)
            if not self._waiting:
                self._idle.set()


def answered(sub: Subscription) -> bool:
    return any(s.eose_after is not None for s in sub.stats.values())


async def read_stored(
    pool: Pool, tags: Sequence[str], flt: FeedFilter, timeout: float | None = None
) -> tuple[list[FeedItem], Subscription, list[str]]:
    """The stored requests of ``tags`` (for the lists), resolved and filtered, and the
    author of every request the uniform query brought (whose profiles to look up: not
    the rows', which would name the followed societies' people)."""
    reader = FeedReader(pool, tags, Feed(flt), stream=False, eose_timeout=timeout)
    async for _ in reader.items():
        pass
    return reader.feed.visible(), reader.subscription, list(reader.authors)


@dataclass(frozen=True)
class Listing:
    """What a list command shows: its rows, their threads (requests only) and names."""

    items: list[FeedItem]
    threads: dict[str, Thread]
    names: Names


async def list_stored(
    pool: Pool,
    tags: Sequence[str],
    flt: FeedFilter,
    names: Names = NO_NAMES,
    *,
    keep: Callable[[FeedItem], bool] = lambda _: True,
    limit: int | None = None,
) -> Listing:
    """The stored rows of ``tags`` that ``keep`` keeps (at most ``limit``), with the
    requests' threads and every author's name, out of queries that name no row (PROTOCOL
    §16.9). Raises RelayError when no relay answered."""
    items, sub, authors = await read_stored(pool, tags, flt)
    if not answered(sub):
        raise RelayError("no relay answered")
    items = [i for i in items if keep(i)][:limit]
    threads: dict[str, Thread] = {}
    if REQUEST in flt.types:  # offers have no thread to show
        requests = [item_record(i) for i in items if i.type == REQUEST]
        threads = await fetch_threads(pool, requests)
    return Listing(items, threads, await lookup(pool, names, authors))


async def follow(
    reader: FeedReader,
    batches: ThreadBatches,
    on_item: Callable[[FeedItem, bool], Awaitable[bool]],
    after_stored: Callable[[], Awaitable[None]],
) -> Subscription:
    """Read the feed to its end (``--once``) or forever: each item goes to ``on_item``
    (given whether the stored ones are all in; it says whether the item is new on this
    device) and then to ``batches``; ``after_stored`` runs once the stored rows are shown.
    """
    loop = asyncio.get_running_loop()
    fetcher = loop.create_task(batches.run())
    after: asyncio.Task[None] | None = None
    stored_done = False

    async def shown_then_after() -> None:
        await batches.drain()
        await after_stored()

    try:
        async for item in reader.items():
            if item is EOSE:
                batches.stored_done()
                stored_done = True
                # The stored rows are shown once their threads and names are in, while
                # the stream goes on being read: waiting here would stall the socket
                # those queries share with a busy stream.
                after = loop.create_task(shown_then_after())
                continue
            assert isinstance(item, FeedItem)
            batches.add(item, await on_item(item, stored_done))
        batches.stored_done()
        await (after or batches.drain())
    finally:
        for task in (fetcher, after):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return reader.subscription
