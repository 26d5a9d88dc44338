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
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence, Set
from typing import Protocol

import orjson
from websockets.exceptions import ConnectionClosed

from shieldmutual.relay.limits import TimeBucket
from shieldmutual.relay.store.base import EventStore
from shieldmutual.relay.subscriptions import Subscription
from shieldmutual.shared.errors import ShieldError
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.messages import closed_frame, count_frame, eose_frame
from shieldmutual.shared.nip01prefix import error

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

    def hold(self, size: int) -> None: ...

    def release(self, size: int) -> None: ...

    async def wait_drained(self) -> None:
        """Until the send queue drained; raises ConnectionClosed when it closed."""

    def failed(self, what: str, exc: Exception) -> None:
        """Log a failed read, rate-limited."""

    def end(self, sub: Subscription, message: str) -> None:
        """Close a subscription from the relay's side with CLOSED ``message``."""


def stored_id(raw: bytes) -> bytes:
    """The id of a stored event's JSON; ours always begins ``{"id":"<64 hex>"``, anything
    else is parsed (and raises when it is not JSON)."""
    if raw.startswith(ID_PREFIX):
        return raw[7:71]
    return str(orjson.loads(raw)["id"]).encode()


async def backfill(conn: Reader, sub: Subscription) -> None:
    """Stored results, EOSE, then the live events held meanwhile. Any failure ends the
    subscription with CLOSED: never silence, never a slot held for nothing."""
    sent: set[bytes] = set()  # ids sent, to drop live events the results held
    try:
        await _send_stored(conn, sub, sent)
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


async def _send_stored(conn: Reader, sub: Subscription, sent: set[bytes]) -> None:
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
                    await conn.wait_drained()
                page = await anext(pages, None)
                if page is None:
                    return
                # While a page is sent its rows are counted twice (here and queued):
                # at most one page over.
                held = sum(map(len, page))
                conn.hold(held)
                try:
                    for raw in page:
                        if conn.out_bytes > pace:
                            await conn.wait_drained()
                        if not raw.startswith(ID_PREFIX):
                            stored_id(raw)  # parsed before it is framed: corrupt rows raise
                        conn.send(sub.prefix + raw + b"]")
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
