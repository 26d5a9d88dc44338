"""Stored reads of a connection: REQ back-fill (a subscription's stored results, EOSE,
then the hand-off to live) and COUNT.

A subscription is indexed for live events *before* its stored results are read, so
nothing committed in between is missed; the live events that match meanwhile wait in
``Subscription.pending`` (charged to the connection's memory budget) and go out right
after EOSE, minus the ones the stored results already held.

Stored results are read one page at a time, at most one page per connection (the
connection's ``reading`` lock), and the next page only once the send queue has drained
below a quarter of the budget, so a large REQ is paced by its reader. The store is
given the reader's keys (:mod:`~shieldmutual.relay.access`), so no page holds a wrap
addressed to somebody else, and COUNT is one store call whose answer is what that reader
could be served. Each statement's seconds are charged to the connection's query-time
bucket (``[rate_limits] query_seconds_*``).

Back-fills start through the relay's :class:`Gate`: at most :data:`BACKFILLING`
connections back-fill at once, the others' REQs wait as a list entry each (no task, no
query state) and connections are admitted in the order they asked. Ten thousand REQs
arriving together otherwise each built a task, coroutines, a store query and its futures
before the first was answered, and the allocator kept that peak (issue 15: ~10 KB per
idle subscribed connection).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence, Set
from functools import partial
from typing import Any, Protocol

import orjson
from websockets.exceptions import ConnectionClosed

from shieldmutual.relay.limits import TimeBucket
from shieldmutual.relay.store.base import EventStore
from shieldmutual.relay.subscriptions import Subscription
from shieldmutual.shared.errors import ShieldError
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.messages import closed_frame, count_frame, eose_frame
from shieldmutual.shared.nip01prefix import error

# Connections back-filling at once (issue 15): enough to keep the store's readers busy,
# few enough that their query state is a rounding error beside ten thousand connections.
BACKFILLING = 64
# What the relay holds per stored event id remembered while a REQ sends its stored
# results (to drop live events it already sent): bytes object, set slot, hash.
ID_BYTES = 120
ID_PREFIX = b'{"id":"'  # how Event.to_json, and so every row our store wrote, begins


class Reader(Protocol):
    """The side of a connection a back-fill uses."""

    max_held: int
    page_size: int

    @property
    def authed(self) -> Set[str]: ...

    @property
    def out_bytes(self) -> int: ...

    @property
    def reading(self) -> asyncio.Lock:
        """One page of stored results in flight per connection."""

    @property
    def query_time(self) -> TimeBucket: ...

    @property
    def store(self) -> EventStore: ...

    def send(self, frame: bytes) -> None: ...

    def send_events(self, prefix: bytes, raws: Sequence[bytes], start: int) -> int:
        """Frames ``prefix + raw + b"]"`` from ``raws[start]`` on; how many went (>= 1)."""

    def hold(self, size: int) -> None: ...

    def release(self, size: int) -> None: ...

    async def wait_drained(self) -> None:
        """Until the send queue drained; raises ConnectionClosed when it closed."""

    def failed(self, what: str, exc: Exception) -> None:
        """Log a failed read, rate-limited."""

    def end(self, sub: Subscription, message: str) -> None:
        """Close a subscription from the relay's side with CLOSED ``message``."""

    def spawn(self, coro: Coroutine[Any, Any, None], *, read: bool) -> asyncio.Task[None]:
        """Run ``coro`` as the connection's work (``read``: cancelled when it leaves)."""


class Gate:
    """Who back-fills now: at most ``limit`` connections at once, relay-wide.

    A connection is admitted with every REQ it has waiting and keeps its place until its
    last back-fill ends, so one client's many REQs take one place, not many (issue 10:
    nobody is starved by another's REQs), and its back-fills interleave one page at a
    time as before (``Reader.reading``). Admission is first come, first served.

    A connection that has to wait for its client to read (its send queue over the pace)
    steps out and gives its place to the next: a slow reader never holds one of the
    relay's places, and what it keeps meanwhile is bounded by its own subscription limit
    and memory budget. Until its back-fills end, its new REQs start at once beside them.
    """

    __slots__ = ("_alive", "_inside", "_limit", "_waiting", "peak")

    def __init__(self, limit: int = BACKFILLING) -> None:
        self._limit = limit
        self.peak = 0  # the most connections admitted at once (for tests and benches)
        self._alive: dict[Reader, int] = {}  # back-fills started and not ended, per connection
        self._inside: set[Reader] = set()  # connections holding a place
        self._waiting: dict[Reader, list[Subscription]] = {}  # in order of asking

    @property
    def limit(self) -> int:
        """Connections back-filling at once at most."""
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        """A new limit, applied at once (a test closes the gate with 0 to hold REQs at it)."""
        self._limit = value
        self._admit_next()

    @property
    def admitted(self) -> int:
        """Connections holding a place right now."""
        return len(self._inside)

    @property
    def waiting(self) -> int:
        """REQs waiting for their connection to be admitted."""
        return sum(map(len, self._waiting.values()))

    def submit(self, conn: Reader, sub: Subscription) -> None:
        """Back-fill ``sub`` now if its connection is back-filling or a place is free,
        else once the connection's turn comes."""
        if conn in self._alive:
            self._start(conn, sub)
        elif self._waiting or len(self._inside) >= self._limit:
            self._waiting.setdefault(conn, []).append(sub)
        else:
            self._admit(conn, [sub])

    def forget(self, conn: Reader, sub: Subscription) -> None:
        """Drop ``sub`` if it is still waiting (CLOSE, replaced, the connection left)."""
        queue = self._waiting.get(conn)
        if queue is not None and sub in queue:
            queue.remove(sub)
            if not queue:
                del self._waiting[conn]

    def step_out(self, conn: Reader) -> None:
        """``conn`` waits for its client: its place goes to the next connection."""
        if conn in self._inside:
            self._inside.discard(conn)
            self._admit_next()

    def _admit(self, conn: Reader, subs: list[Subscription]) -> None:
        self._inside.add(conn)
        self.peak = max(self.peak, len(self._inside))
        for sub in subs:
            self._start(conn, sub)

    def _admit_next(self) -> None:
        while self._waiting and len(self._inside) < self._limit:
            conn = next(iter(self._waiting))
            self._admit(conn, self._waiting.pop(conn))

    def _start(self, conn: Reader, sub: Subscription) -> None:
        self._alive[conn] = self._alive.get(conn, 0) + 1
        task = conn.spawn(backfill(conn, sub, self), read=True)
        sub.task = task
        # A callback, not the coroutine's `finally`: a task cancelled before its first
        # step never runs its coroutine.
        task.add_done_callback(partial(self._ended, conn))

    def _ended(self, conn: Reader, _task: asyncio.Task[None]) -> None:
        left = self._alive.pop(conn) - 1
        if left:
            self._alive[conn] = left
            return
        if conn in self._inside:
            self._inside.discard(conn)
            self._admit_next()


def stored_id(raw: bytes) -> bytes:
    """The id of a stored event's JSON; ours always begins ``{"id":"<64 hex>"``, anything
    else is parsed (and raises when it is not JSON)."""
    if raw.startswith(ID_PREFIX):
        return raw[7:71]
    return str(orjson.loads(raw)["id"]).encode()


async def backfill(conn: Reader, sub: Subscription, gate: Gate) -> None:
    """Stored results, EOSE, then the live events held meanwhile. Any failure ends the
    subscription with CLOSED: never silence, never a slot held for nothing."""
    sent: set[bytes] = set()  # ids sent, to drop live events the results held
    try:
        await _send_stored(conn, sub, sent, gate)
    except ConnectionClosed:
        return
    except Exception as exc:
        conn.failed("query", exc)
        conn.end(sub, failure(exc, error("the query failed")))
        return
    finally:
        conn.release(len(sent) * ID_BYTES)
    conn.send(eose_frame(sub.sub_id))
    for event_id, frame in take_pending(conn, sub):
        if event_id.encode() not in sent:
            conn.send(frame)
    sub.task = None  # done: kept, the task would stay with the subscription (~1 KB)


async def _drained(conn: Reader, gate: Gate) -> None:
    gate.step_out(conn)  # never wait for a client while holding one of the relay's places
    await conn.wait_drained()


async def _send_stored(conn: Reader, sub: Subscription, sent: set[bytes], gate: Gate) -> None:
    pace = conn.max_held // 4
    pages = conn.store.query(
        sub.filters,
        int(time.time()),
        viewer=frozenset(conn.authed),
        owner=conn,
        page_size=conn.page_size,
        cost=conn.query_time.charge,
    )
    try:
        while True:
            async with conn.reading:
                if conn.out_bytes > pace:
                    await _drained(conn, gate)
                page = await anext(pages, None)
                if page is None:
                    return
                # While a page is sent its rows are counted twice (here and queued):
                # at most one page over.
                held = sum(map(len, page))
                conn.hold(held)
                try:
                    for raw in page:
                        if not raw.startswith(ID_PREFIX):
                            stored_id(raw)  # parsed before it is framed: corrupt rows raise
                    done = 0
                    while done < len(page):
                        if conn.out_bytes > pace:
                            await _drained(conn, gate)
                        done += conn.send_events(sub.prefix, page, done)
                finally:
                    conn.release(held)
                if sub.pending:
                    # Live events arrived meanwhile: remember which ids the results
                    # held, so none is sent twice. (An event committed just before this
                    # page was read but delivered live only after it ended would be.)
                    known = len(sent)
                    sent.update(map(stored_id, page))
                    conn.hold((len(sent) - known) * ID_BYTES)
    finally:
        await pages.aclose()


def take_pending(conn: Reader, sub: Subscription) -> list[tuple[str, bytes]]:
    """End the subscription's holding back of live events: what it held, released
    from the memory budget."""
    pending, sub.pending = sub.pending, None
    conn.release(sub.pending_bytes)
    sub.pending_bytes = 0
    return pending or []


async def count(conn: Reader, sub_id: str, filters: Sequence[Filter]) -> None:
    """COUNT: one store call, answered with COUNT or, when it fails, CLOSED."""
    try:
        result = await conn.store.count(
            filters,
            int(time.time()),
            viewer=frozenset(conn.authed),
            owner=conn,
            cost=conn.query_time.charge,
        )
    except Exception as exc:
        conn.failed("count", exc)
        conn.send(closed_frame(sub_id, failure(exc, error("the count failed"))))
        return
    conn.send(count_frame(sub_id, result.count, result.approximate))


def failure(exc: Exception, fallback: str) -> str:
    """The CLOSED/OK message for a failure: the error's own when it is one of ours."""
    return exc.wire() if isinstance(exc, ShieldError) else fallback
