"""The society feed over the pool: followed tags in, de-duplicated requests out.

One subscription across every relay brings requests, the syndications that relay
requests into followed societies, and announcements. It names no followed tag: every
aid request (by kind), and every syndication and announcement (by the ``mutualaid``
marker they all carry), and the followed tags are matched here. A relay that logs each
REQ sees the same query from everybody, so it cannot rebuild anyone's follow list.
Syndications and announcements point at a request; a member who follows only
``mas-north`` still sees a request published in ``mas-leeds-care`` and relayed into
``mas-north``. The request is taken from the same uniform result whenever it is there
(every request is kept, followed or not, until one points at it); only one that is not
is fetched by address, and then for every pointer, followed or not (the stored ones
once the stored events are in), so that what is fetched depends on the relays' data
alone. ``authors`` holds the author of every request and offer the query brought, for
a profile lookup that names nobody in particular.
:class:`~shieldmutual.shared.aid.feed.Feed` does the pure part (latest version per
address, filters); this module only fetches::

    reader = FeedReader(pool, ["mas-north"], Feed(FeedFilter(language="en")), stream=True)
    async for item in reader.items():      # FeedItem, or pool.EOSE once
        ...
    reader.subscription.stats              # per-relay state, for error reporting

``stream=False`` ends after the stored events (and every resolution they started).

Relay hints inside other people's announcements and syndications are not dialled unless
``follow_hints``: whoever publishes one would learn the IP address of every follower.
The hints passed over are counted in ``skipped_hints`` so the command can say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shieldmutual.client.aid import RequestPointer, fetch_request
from shieldmutual.client.errors import NotFoundError, RelayError
from shieldmutual.client.pool import Marker, Pool
from shieldmutual.client.pool_subscription import Subscription
from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import MUTUAL_AID, Address
from shieldmutual.shared.aid.feed import MAX_ITEMS, Ages, Feed, FeedItem, Via
from shieldmutual.shared.aid.notes import Announcement, Syndication
from shieldmutual.shared.aid.parse import read_aid_event
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

# Requests fetched at once for announcements and syndications: a relay flooding pointers
# must not make us hold (and send) a query per pointer. Past this one is skipped; a later
# mention of the same request tries again.
MAX_RESOLVING = 16
MAX_AUTHORS = 10_000  # authors kept for the profile lookup (a flood of keys stays bounded)
QUEUE_SIZE = 1000  # events and fetched requests waiting for the reader
# Allocations between two young-generation collections while a feed reads. Reading allocates
# dozens of container objects per event and keeps up to MAX_ITEMS events alive; at
# CPython's default (700) the collector ran every few events and promoted events still in
# flight, so full passes over the kept events took 12-20% of the feed's time (issue 15).
YOUNG_GENERATION = 50_000


def follow_filters(since: int | None = None) -> list[Filter]:
    """The feed's REQ: the same for everybody, whatever they follow."""
    return [
        Filter(kinds=frozenset({kinds.CLASSIFIED}), since=since),
        Filter(
            kinds=frozenset({kinds.GENERIC_REPOST, kinds.TEXT_NOTE}),
            tags={"t": frozenset({MUTUAL_AID})},
            since=since,
        ),
    ]


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect the young generation every YOUNG_GENERATION allocations while reading, then
    restore the previous threshold (unless something else changed it meanwhile)."""
    before = gc.get_threshold()
    during = (max(before[0], YOUNG_GENERATION), *before[1:])
    gc.set_threshold(*during)
    try:
        yield
    finally:
        if gc.get_threshold() == during:
            gc.set_threshold(*before)


def followed(event: Event, tags: Collection[str]) -> bool:
    """Whether ``event`` carries one of the followed tags (case as NIP-12 hashtags). A plain
    loop: called for every request the feed reads, and 4x cheaper than ``any`` over
    ``values`` (issue 15)."""
    for tag in event.tags:  # noqa: SIM110 (a loop: see the docstring)
        if len(tag) > 1 and tag[0] == "t" and tag[1].lower() in tags:
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Found:
    """A request fetched by address for a pointer (not from the feed's own query)."""

    event: Event


# What the reader's queue carries: an event of the subscription, a fetched request, the
# stored events' end, or None at the subscription's end.
_Message = Event | _Found | Marker | None


class FeedReader:
    """Reads a feed from ``pool``; see the module docstring."""

    def __init__(
        self,
        pool: Pool,
        tags: Sequence[str],
        feed: Feed,
        *,
        stream: bool,
        since: int | None = None,
        eose_timeout: float | None = None,
        follow_hints: bool = False,
    ) -> None:
        self.pool = pool
        self.feed = feed
        self.tags = frozenset(tag.lower() for tag in tags)
        self.follow_hints = follow_hints
        self.skipped_hints: set[str] = set()
        self.subscription: Subscription = pool.subscribe(
            follow_filters(since), stream=stream, eose_timeout=eose_timeout
        )
        self.authors: dict[str, None] = {}  # every request's author, in arrival order
        self.on_author: Callable[[str], None] | None = None  # told of each new one
        # Bounded, so a relay flooding events waits on this reader instead of filling it.
        self._queue: asyncio.Queue[_Message] = asyncio.Queue(QUEUE_SIZE)
        self._pending: set[asyncio.Task[None]] = set()
        self._resolving: dict[str, None] = {}  # addresses fetched once already, oldest first
        self._waiters: set[asyncio.Task[None]] = set()
        self._known: dict[str, Event] = {}  # latest request per address, followed or not
        self._known_ages = Ages()  # trims _known as Feed trims its items (see _take_request)
        self._wanted: dict[str, Via | None] = {}  # addresses a followed pointer names
        self._deferred: dict[str, RequestPointer] = {}  # pointers met before the stored EOSE
        self._stored_done = False

    @property
    def known(self) -> Mapping[str, Event]:
        """The latest request per address, followed or not (as bounded as the feed)."""
        return self._known

    @property
    def resolving(self) -> int:
        """Requests being fetched by address right now (at most MAX_RESOLVING)."""
        return len(self._pending)

    @property
    def backlog(self) -> int:
        """Events and fetched requests waiting for the reader."""
        return self._queue.qsize()

    async def items(self) -> AsyncIterator[FeedItem | Marker]:
        """New or changed items as they arrive; :data:`EOSE` once, after the stored ones."""
        with _fewer_collections():
            async for item in self._read():
                yield item

    async def _read(self) -> AsyncIterator[FeedItem | Marker]:
        async with self.subscription as sub:
            pump = asyncio.get_running_loop().create_task(self._pump(sub))
            try:
                while True:
                    message = await self._queue.get()
                    item: FeedItem | Marker | None
                    if isinstance(message, Event):
                        item = self.take(message)
                    elif isinstance(message, _Found):
                        item = self._take_request(message.event)
                    else:  # the stored events' end, or the subscription's
                        if not self._stored_done:
                            self._stored_done = True
                            self._resolve_deferred()
                        if self._pending:  # first let the resolutions finish
                            self._requeue_after_pending(message)
                            continue
                        if message is None:
                            return
                        item = message
                    if item is not None:
                        yield item
            finally:
                tasks = [pump, *self._pending, *self._waiters]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _pump(self, sub: Subscription) -> None:
        async for item in sub.items():
            await self._queue.put(item)
        await self._queue.put(None)

    def _requeue_after_pending(self, message: Marker | None) -> None:
        waiting = set(self._pending)

        async def later() -> None:
            await asyncio.wait(waiting)
            await self._queue.put(message)

        task = asyncio.get_running_loop().create_task(later())
        self._waiters.add(task)
        task.add_done_callback(self._waiters.discard)

    def take(self, event: Event) -> FeedItem | None:
        """A stored or live event from the subscription (verified, matching its filters):
        the item to show, if anything changed."""
        if event.kind == kinds.CLASSIFIED:
            return self._take_request(event)  # other apps' listings are read leniently
        # An ordinary note or repost that merely carries a mas- hashtag reads as None.
        item = read_aid_event(event)
        if isinstance(item, Syndication):
            return self._take_repost(event, item)
        if isinstance(item, Announcement):
            wanted = followed(event, self.tags)
            hints = self._hints(item.relays) if wanted else ()
            return self._point(RequestPointer(item.request, hints), None, wanted)
        return None

    def _take_request(self, event: Event) -> FeedItem | None:
        """A request or offer, from the query or fetched: kept whether followed or not,
        shown when followed or a followed pointer names it."""
        key = str(Address.of(event))
        known = self._known.get(key)
        if known is None or (event.created_at, event.id) > (known.created_at, known.id):
            self._known[key] = event
            # As bounded as the feed it fills, and trimmed the same way (by created_at), so
            # both keep the same newest requests: one set of events in memory. (Dropping
            # the first arrived, relays sending newest first, kept the oldest here and the
            # newest there: twice the events, issue 15.)
            self._known_ages[key] = event.created_at
            self._known_ages.trim(self._known, MAX_ITEMS)
        if event.pubkey not in self.authors and len(self.authors) < MAX_AUTHORS:
            self.authors[event.pubkey] = None
            if self.on_author is not None:
                self.on_author(event.pubkey)
        if followed(event, self.tags):
            return self.feed.offer(event, address=key)
        if key in self._wanted:
            return self.feed.offer(event, self._wanted[key], address=key)
        return None

    def _take_repost(self, event: Event, syndication: Syndication) -> FeedItem | None:
        """A syndication: the embedded copy, and the latest version where it is known."""
        ref = syndication.request
        if not followed(event, self.tags):
            return self._point(RequestPointer(ref.address), None, False)
        pointer = RequestPointer(ref.address, self._hints((ref.relay,) if ref.relay else ()))
        via = Via(event.pubkey, syndication.targets, event.id)
        try:
            embedded = syndication.embedded_event()
        except AidError:
            return None  # a repost whose copy does not check out shows nothing
        item = self.feed.offer(embedded, via) if embedded is not None else None
        # The shared copy may be an old version (open, since funded): the latest too.
        return self._point(pointer, via, True) or item

    def _point(self, pointer: RequestPointer, via: Via | None, wanted: bool) -> FeedItem | None:
        """A pointer at a request: shown from what the query brought when it is there,
        else fetched by address from the pool's relays, whether it is followed or not (see
        the module doc); only a followed pointer's relay hints may be added to them."""
        key = pointer.coordinate
        if wanted:
            self._wanted[key] = via
            if len(self._wanted) > MAX_ITEMS:
                for old in list(itertools.islice(self._wanted, MAX_ITEMS // 10)):
                    del self._wanted[old]
        known = self._known.get(key)
        if known is not None:
            return self.feed.offer(known, via, address=key) if wanted else None
        if self._stored_done:
            self._spawn(key, self._resolve_pointer(pointer))
        elif key in self._deferred:
            if wanted:
                self._deferred[key] = pointer  # a followed one's relay hints win
        elif len(self._deferred) < MAX_ITEMS:
            self._deferred[key] = pointer
        return None

    def _resolve_deferred(self) -> None:
        """Once the stored events are in: fetch the pointed-at requests still unknown."""
        deferred, self._deferred = self._deferred, {}
        for key, pointer in deferred.items():
            if key not in self._known:
                self._spawn(key, self._resolve_pointer(pointer))

    def _hints(self, relays: Sequence[str]) -> tuple[str, ...]:
        """A stranger's relay hints, only when the user agreed to dial them."""
        if self.follow_hints:
            return tuple(relays)
        self.skipped_hints.update(url for url in relays if url not in self.pool.relays)
        return ()

    def _spawn(self, key: str, coro: Any) -> None:
        if key in self._resolving or len(self._pending) >= MAX_RESOLVING:
            coro.close()
            return
        self._resolving[key] = None
        if len(self._resolving) > MAX_ITEMS:  # as bounded as the feed it fills
            for old in list(itertools.islice(self._resolving, MAX_ITEMS // 10)):
                del self._resolving[old]
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _resolve_pointer(self, pointer: RequestPointer) -> None:
        try:
            found = await fetch_request(self.pool, pointer)
        except (NotFoundError, AidError, RelayError):
            return
        await self._queue.put(_Found(found.event))
