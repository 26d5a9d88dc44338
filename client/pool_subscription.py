"""A merged subscription over several relays (see client/pool.py for the API).

Every event is verified (id and signature) and checked against the filters before its id
enters the de-duplication set, so a relay that forges an id cannot suppress the genuine
event from another relay. The per-relay state says who answered and how; the overall EOSE
comes when all did, or when the silent ones used up their grace (``eose_grace``).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Sequence, Set
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool_order import InOrder
from shieldmutual.client.pool_protocols import SubscriptionHost
from shieldmutual.client.verifier import Verifier
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

# ---- subscriptions: per-relay state --------------------------------------------------


class RelayState(StrEnum):
    CONNECTING = "connecting"
    WAITING = "waiting"  # REQ sent, stored events arriving
    EOSE = "eose"  # stored events done, live events follow
    TIMEOUT = "timeout"  # no EOSE before the deadline
    UNREACHABLE = "unreachable"  # could not connect (still retrying while subscribed)
    CLOSED = "closed"  # the relay refused or ended the subscription


@dataclass(slots=True)
class RelaySubStats:
    """One relay's part of a subscription."""

    relay: str
    status: RelayState = RelayState.CONNECTING
    message: str = ""
    events: int = 0  # new events first delivered by this relay
    duplicates: int = 0  # events this relay sent that were already seen
    invalid: int = 0  # bad id / signature / shape, or not matching the filters
    reconnects: int = 0
    eose_after: float | None = None  # seconds from start to this relay's first EOSE
    answered: bool = False  # counted towards the overall EOSE
    # resume bookkeeping
    req_eosed: bool = False  # the REQ currently on the wire got its EOSE
    resume_since: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "relay": self.relay,
            "status": str(self.status),
            "message": self.message,
            "events": self.events,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "reconnects": self.reconnects,
            "eose_ms": None if self.eose_after is None else round(self.eose_after * 1000, 1),
        }


class Marker(Enum):
    """What :meth:`Subscription.items` yields besides events."""

    EOSE = "eose"  # once, at the overall end of stored events


EOSE = Marker.EOSE


# ---- subscriptions ---------------------------------------------------------------------


class Subscription:
    """A merged subscription over several relays. Use as ``async with`` and ``async for``."""

    def __init__(
        self,
        pool: SubscriptionHost,
        filters: Sequence[Filter],
        relays: Sequence[str],
        *,
        stream: bool,
        eose_timeout: float,
    ) -> None:
        if not filters:
            raise RelayError("a subscription needs at least one filter")
        self.filters = tuple(filters)
        self.stream = stream
        self.eose_timeout = eose_timeout
        self.stats: dict[str, RelaySubStats] = {url: RelaySubStats(url) for url in relays}
        self.eose = asyncio.Event()
        self.received = 0  # distinct valid events delivered
        self._pool = pool
        # Matching ignores NIP-50 search: what "matches a search" is the relay's call.
        self._match = tuple(dataclasses.replace(f, search=None) for f in self.filters)
        # Ids delivered, newest last; bounded so a stream that runs for weeks stays small.
        self._seen: set[str] = set()
        self._seen_order: collections.deque[str] = collections.deque()
        # Unbounded only for markers: events beyond queue_limit pause the relays' reading.
        # None ends the iteration.
        self._queue: asyncio.Queue[Event | Marker | None] = asyncio.Queue()
        self._backlog = 0  # events in the queue
        self._room = asyncio.Event()
        self._room.set()
        self._grace: asyncio.TimerHandle | None = None
        # Signatures checked by the pool's worker process once this subscription has
        # delivered offload_after events; meanwhile events keep their order in _line.
        self._verifier: Verifier | None = None
        self._line = InOrder(
            self._take, self.duplicate, self._matches, self.on_invalid, pool.options.queue_limit
        )
        self._sub_ids: dict[str, str] = {url: secrets.token_hex(8) for url in relays}
        self._started = 0.0
        self._deadline: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def invalid(self) -> int:
        return sum(s.invalid for s in self.stats.values())

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.stats.values())

    @property
    def backlog(self) -> int:
        """Events delivered and not yet taken by the reader."""
        return self._backlog

    @property
    def remembered(self) -> Set[str]:
        """The ids remembered for de-duplication (at most ``seen_limit``, the newest)."""
        return self._seen

    # -- lifecycle --

    async def start(self) -> Subscription:
        self._pool.track(self)
        self._started = time.monotonic()
        self._deadline = asyncio.get_running_loop().create_task(self._eose_deadline())
        await asyncio.gather(
            *(self._pool.connection(url).attach(self._sub_ids[url], self) for url in self.stats)
        )
        return self

    def _stop(self) -> bool:
        """Stop taking events and end the iterators; False when already stopped."""
        if self._closed:
            return False
        self._closed = True
        self._pool.untrack(self)
        if self._deadline is not None and self._deadline is not asyncio.current_task():
            self._deadline.cancel()
        self._cancel_grace()
        self._line.clear()
        self._room.set()  # nobody reads any more: no relay may wait for that
        self._queue.put_nowait(None)
        return True

    async def _detach_all(self) -> None:
        await asyncio.gather(
            *(self._pool.connection(url).detach(self._sub_ids[url]) for url in self.stats),
            return_exceptions=True,
        )

    async def close(self) -> None:
        """Send CLOSE to every relay and end iteration (events already queued still come)."""
        if self._stop():
            await self._detach_all()
        elif self._closing is not None:
            await asyncio.gather(self._closing, return_exceptions=True)

    async def __aenter__(self) -> Subscription:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _eose_deadline(self) -> None:
        await asyncio.sleep(self.eose_timeout)
        for stats in self.stats.values():
            if not stats.answered:
                stats.answered = True
                if stats.status != RelayState.UNREACHABLE:
                    stats.status = RelayState.TIMEOUT
                    stats.message = f"no EOSE within {self.eose_timeout:g}s"
        self._check_eose()

    def _arm_grace(self) -> None:
        """A relay sent EOSE: the silent ones get a grace, not the whole eose_timeout."""
        if self.eose.is_set() or all(s.answered for s in self.stats.values()):
            return
        slowest = max(s.eose_after or 0.0 for s in self.stats.values())
        grace = max(self._pool.options.eose_grace, 2 * slowest)
        self._cancel_grace()
        self._grace = asyncio.get_running_loop().call_later(grace, self._grace_over, grace)
        self._pool.waiting([url for url, s in self.stats.items() if not s.answered])

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def _grace_over(self, grace: float) -> None:
        self._grace = None
        for url, stats in self.stats.items():
            if not stats.answered:
                stats.answered = True
                stats.status = RelayState.TIMEOUT
                stats.message = f"no EOSE {grace:.1f}s after the other relays answered"
                self._pool.lag(url, stats.message)
        self._check_eose()

    def _check_eose(self) -> None:
        """Overall EOSE once every relay answered, or every one still silent is lagging
        (it let an earlier grace of this pool run out) and some other relay answered."""
        if self.eose.is_set():
            return
        silent = [url for url, s in self.stats.items() if not s.answered]
        if len(silent) == len(self.stats):
            return
        if any(url not in self._pool.lagging for url in silent):
            return
        for url in silent:
            stats = self.stats[url]
            stats.answered = True
            stats.status = RelayState.TIMEOUT
            stats.message = "not answering (it let an earlier query's grace run out)"
        self.eose.set()
        self._cancel_grace()
        if self._deadline is not None and self._deadline is not asyncio.current_task():
            self._deadline.cancel()
        self._queue.put_nowait(EOSE)
        if not self.stream and self._stop():
            # Stop taking events now; CLOSE goes out to the relays in the background.
            self._closing = asyncio.get_running_loop().create_task(self._detach_all())

    # -- consuming --

    async def items(self) -> AsyncIterator[Event | Marker]:
        """Events, plus the :data:`EOSE` marker once, at the overall end of stored events."""
        limit = self._pool.options.queue_limit
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, Event):
                self._backlog -= 1
                if self._backlog + len(self._line) <= limit // 2:
                    self._room.set()
            yield item

    async def __aiter__(self) -> AsyncIterator[Event]:
        async for item in self.items():
            if isinstance(item, Event):
                yield item

    # -- the Subscriber protocol (client/pool_protocols.py): called by RelayConnection --

    def filters_for(self, url: str) -> tuple[Filter, ...]:
        since = self.stats[url].resume_since
        if since is None:
            return self.filters
        return tuple(
            dataclasses.replace(f, since=max(f.since or 0, since), limit=None) for f in self.filters
        )

    def req_sent(self, url: str) -> None:
        stats = self.stats[url]
        stats.req_eosed = False
        if stats.status in (RelayState.CONNECTING, RelayState.UNREACHABLE, RelayState.CLOSED):
            stats.status = RelayState.WAITING
            stats.message = ""

    def duplicate(self, url: str, event_id: str) -> bool:
        """Whether ``event_id`` was delivered already (then counted as ``url``'s copy)."""
        if event_id not in self._seen:
            return False
        self.stats[url].duplicates += 1
        return True

    def on_frame(self, url: str, event_id: str, frame: bytes) -> bool | None:
        """An EVENT frame read only as far as its id: None when the id is new (parse it
        and call :meth:`on_event`); else it was taken unread, a duplicate or a copy held
        behind the one being checked, and True means reading must pause."""
        if self.duplicate(url, event_id):
            return False
        if not self._line.checking(event_id):
            return None
        self._line.copy(url, event_id, frame)
        return self._full()

    def on_event(self, url: str, event: Event) -> bool:
        """Take one event; True when the events queued for the reader and those in line
        for their signature checks are now ``queue_limit`` in all."""
        if self.duplicate(url, event.id):
            return False
        verifier = self._checker()
        if verifier is None and not len(self._line):
            self._take(url, event, event.is_valid() and self._matches(event))
        else:
            self._line.event(url, event, verifier, self)
        return self._full()

    def _full(self) -> bool:
        """Whether the reader's queue and the line now hold ``queue_limit`` events."""
        limit = self._pool.options.queue_limit
        if self._backlog + len(self._line) < limit:
            return False
        self._room.clear()
        return True

    def _checker(self) -> Verifier | None:
        """The worker process, once it is up; asked for after ``offload_after`` events."""
        verifier = self._verifier
        if verifier is None:
            after = self._pool.options.offload_after
            if after is None or self.received < after or self._closed:
                return None
            verifier = self._verifier = self._pool.verifier()
        return verifier if verifier.ready and not self._closed else None

    def _matches(self, event: Event) -> bool:
        return any(f.matches(event) for f in self._match)

    def _take(self, url: str, event: Event, valid: bool) -> None:
        """Deliver a checked event (``valid``: id, signature and filters), or count it."""
        stats = self.stats[url]
        if not valid:
            stats.invalid += 1
            return
        self._seen.add(event.id)
        self._seen_order.append(event.id)
        if len(self._seen_order) > self._pool.options.seen_limit:
            self._seen.discard(self._seen_order.popleft())
        stats.events += 1
        self.received += 1
        if self._closed:
            return
        self._queue.put_nowait(event)
        self._backlog += 1

    def checked(self) -> None:
        """Verdicts came back from the worker: deliver what they release, in order."""
        if self._closed:
            return
        self._line.drain()
        limit = self._pool.options.queue_limit
        if self._backlog + len(self._line) <= limit // 2:
            self._room.set()

    async def caught_up(self) -> None:
        """Until the reader has taken half of its backlog (or the subscription ended)."""
        await self._room.wait()

    def on_invalid(self, url: str) -> None:
        self.stats[url].invalid += 1

    def on_eose(self, url: str) -> None:
        self._line.call(lambda: self._eose(url))

    def _eose(self, url: str) -> None:
        stats = self.stats[url]
        stats.req_eosed = True
        stats.status = RelayState.EOSE
        stats.message = ""
        if stats.eose_after is None:
            stats.eose_after = time.monotonic() - self._started
        self._pool.answered(url)
        self._answered(stats)
        self._arm_grace()

    def on_closed(self, url: str, message: str) -> None:
        self._line.call(lambda: self._end(url, RelayState.CLOSED, message))

    def on_unreachable(self, url: str, message: str) -> None:
        self._line.catch_up()
        self._end(url, RelayState.UNREACHABLE, message)

    def _end(self, url: str, status: RelayState, message: str) -> None:
        stats = self.stats[url]
        stats.status = status
        stats.message = message
        self._answered(stats)

    def _answered(self, stats: RelaySubStats) -> None:
        """The first answer from a relay (EOSE, CLOSED or unreachable) counts towards EOSE."""
        if not stats.answered:
            stats.answered = True
            self._check_eose()

    def on_disconnect(self, url: str, last_alive: float) -> None:
        self._line.catch_up()  # what the relay sent before counts before it reconnects
        stats = self.stats[url]
        if stats.req_eosed:
            stats.resume_since = max(0, int(last_alive) - self._pool.options.resume_slack)
        stats.req_eosed = False
        stats.reconnects += 1
        stats.status = RelayState.CONNECTING
