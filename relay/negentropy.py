"""NIP-77 on the relay: NEG-OPEN, NEG-MSG and NEG-CLOSE of one connection, as responder.

``["NEG-OPEN", sub, filter, hex]`` reads the set the filter selects through
:meth:`EventStore.items` (the same visibility as REQ: expired events and gift wraps not
addressed to the authenticated keys are not in it) after the same checks as REQ
(rate limits, query time, AUTH rules: policy's filter rules), and answers
``["NEG-MSG", sub, hex]``; each ``NEG-MSG`` gets the next reply. ``NEG-ERR`` ends a
session from the relay's side with a NIP-01 prefixed reason: ``blocked:`` for a set over
``[limits] max_sync_events`` (strfry's "too many query results") or too many sessions,
``closed:`` for an unknown or idle session, ``invalid:`` for a message that is not
negentropy. A second NEG-OPEN with the same id replaces the first; NEG-CLOSE drops it.

A session keeps its packed set (``Storage``, ~72 bytes an event) until it ends, charged
to the connection's memory budget like everything else held for it. A big set is
packed, and a big message answered, on a worker thread, so the loop never stalls on
one client's reconciliation; the time spent packing and answering is charged to the
connection's query-time bucket (``[rate_limits] query_seconds_*``) like its queries, and
once that is spent a NEG-MSG ends its session with ``rate-limited:``. The set is a
snapshot: events arriving during a session are found by the next one (or by a live
REQ), as with strfry.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson

from shieldmutual.relay.config import LimitsConfig
from shieldmutual.relay.host import Host
from shieldmutual.relay.limits import TimeBucket
from shieldmutual.relay.policy import query_time_used_up
from shieldmutual.shared.errors import BlockedError, ShieldError
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.messages import neg_err_frame, neg_msg_frame
from shieldmutual.shared.negentropy import (
    BYTES_PER_ITEM,
    MIN_FRAME_SIZE_LIMIT,
    Negentropy,
    NegentropyError,
    Storage,
)
from shieldmutual.shared.nip01prefix import blocked, error, invalid


class Peer(Protocol):
    """The side of a connection its NIP-77 sessions use."""

    held: int
    max_held: int

    @property
    def relay(self) -> Host: ...

    @property
    def limits(self) -> LimitsConfig: ...

    @property
    def authed(self) -> Set[str]: ...

    @property
    def query_time(self) -> TimeBucket: ...

    def ask(self, sub_id: str, filters: Sequence[Filter]) -> str | None:
        """The refusal of a NEG-OPEN (the same filter rules as REQ), or None."""

    def send(self, frame: bytes) -> None: ...

    def hold(self, size: int) -> None: ...

    def release(self, size: int) -> None: ...

    def invalid(self, message: str) -> None:
        """NOTICE a malformed message (rate-limited)."""

    def count_invalid(self) -> bool:
        """Take a token for a malformed message; False when the connection was closed."""

    def spawn(
        self, coro: Coroutine[Any, Any, None], *, read: bool = False
    ) -> asyncio.Task[None]: ...

    def failed(self, what: str, exc: Exception) -> None: ...


T = TypeVar("T")

# How a NEG-* message starts; the connection hands those here instead of to the NIP-01
# parser. (Clients send compact JSON; a verb spelled with escapes is "unknown" there.)
is_neg_message = re.compile(r'\s*\[\s*"NEG-').match
# Sets or messages bigger than this are handled on a worker thread.
OFF_LOOP_ITEMS = 20_000
OFF_LOOP_BYTES = 16_384
# Room in a websocket message for the JSON around a NEG-MSG's hex.
_ENVELOPE = 1024


@dataclass(eq=False)
class _Session:
    sub_id: str
    negentropy: Negentropy | None = None
    held: int = 0
    # One message at a time, in order: a NEG-MSG sent before the reply to NEG-OPEN waits.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    idle: asyncio.TimerHandle | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class NegSessions:
    """The NIP-77 sessions of one connection."""

    # One per connection, ten thousand idle ones included.
    __slots__ = (
        "_sessions",
        "conn",
        "frame_size_limit",
        "idle_timeout",
        "max_events",
        "max_sessions",
    )

    def __init__(self, conn: Peer) -> None:
        self.conn = conn
        limits = conn.limits
        self.max_sessions = limits.max_neg_sessions
        self.max_events = limits.max_sync_events
        self.idle_timeout = limits.neg_idle_timeout
        # Our replies, hex in JSON, must fit the message size we accept ourselves.
        room = (limits.max_message_length - _ENVELOPE) // 2
        self.frame_size_limit = max(MIN_FRAME_SIZE_LIMIT, room)
        self._sessions: dict[str, _Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    # ---- messages ----------------------------------------------------------------

    def handle(self, text: str) -> None:
        """One NEG-* message; never raises for anything the client sent."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            self.conn.invalid(invalid(f"message is not valid JSON: {exc}"))
            return
        verb = data[0] if isinstance(data, list) and data else None
        sub_id = data[1] if isinstance(data, list) and len(data) > 1 else None
        if not isinstance(sub_id, str) or not 1 <= len(sub_id) <= self.conn.limits.max_subid_length:
            self.conn.invalid(invalid(f"{str(verb)[:32]} needs a subscription id"))
            return
        if verb == "NEG-CLOSE":
            self.close(sub_id)
        elif verb == "NEG-OPEN":
            self._open(sub_id, data)
        elif verb == "NEG-MSG":
            self._message(sub_id, data)
        else:
            self._refuse(sub_id, invalid(f"unknown message type {str(verb)[:32]!r}"))

    def _open(self, sub_id: str, data: list[Any]) -> None:
        self.close(sub_id)  # a reused id replaces the old session
        if len(data) != 4 or not isinstance(data[2], dict):
            self._refuse(
                sub_id, invalid("NEG-OPEN takes a subscription id, a filter and a message")
            )
            return
        try:
            filters = (Filter.from_dict(data[2]),)
            message = _unhex(data[3])
        except ShieldError as exc:
            self._refuse(sub_id, exc.wire())
            return
        refusal = self.conn.ask(sub_id, filters)
        if refusal is None and len(self._sessions) >= self.max_sessions:
            refusal = blocked(f"at most {self.max_sessions} negentropy sessions; NEG-CLOSE one")
        if refusal is not None:
            self.conn.send(neg_err_frame(sub_id, refusal))
            return
        session = _Session(sub_id)
        self._sessions[sub_id] = session
        self._touch(session)
        self._spawn(session, lambda: self._start(session, filters, message))

    def _message(self, sub_id: str, data: list[Any]) -> None:
        session = self._sessions.get(sub_id)
        if session is None:
            self._refuse(sub_id, "closed: no open negentropy session with this id")
            return
        try:
            if len(data) != 3:
                raise NegentropyError("NEG-MSG takes a subscription id and a message")
            message = _unhex(data[2])
        except ShieldError as exc:
            self._end(session, exc.wire())
            return
        if not self.conn.query_time.open():
            self._end(session, query_time_used_up(self.conn.relay.config))
            return
        self._touch(session)
        self._spawn(session, lambda: self._answer(session, message))

    def close(self, sub_id: str) -> None:
        """NEG-CLOSE, a replaced id or the relay's own end: forget it, give its memory back."""
        session = self._sessions.pop(sub_id, None)
        if session is None:
            return
        if session.idle is not None:
            session.idle.cancel()
        current = asyncio.current_task()
        for task in session.tasks:
            if task is not current:
                task.cancel()  # the store drops or interrupts its statement
        self.conn.release(session.held)
        session.held = 0
        session.negentropy = None

    def close_all(self) -> None:
        for sub_id in list(self._sessions):
            self.close(sub_id)

    # ---- work --------------------------------------------------------------------

    def _spawn(self, session: _Session, work: Callable[[], Awaitable[bytes]]) -> None:
        task = self.conn.spawn(self._run(session, work), read=True)
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    async def _run(self, session: _Session, work: Callable[[], Awaitable[bytes]]) -> None:
        """Run one step of a session under its lock; a failure ends it with NEG-ERR."""
        async with session.lock:
            if self._sessions.get(session.sub_id) is not session:
                return  # closed or replaced while this waited
            try:
                reply = await work()
            except (NegentropyError, BlockedError) as exc:  # the client's doing: no log
                self._end(session, exc.wire())
                return
            except ShieldError as exc:
                self.conn.failed("negentropy", exc)
                self._end(session, exc.wire())
                return
            except Exception as exc:
                self.conn.failed("negentropy", exc)
                self._end(session, error("the reconciliation failed"))
                return
            if self._sessions.get(session.sub_id) is session:
                self.conn.send(neg_msg_frame(session.sub_id, reply))

    async def _start(self, session: _Session, filters: tuple[Filter, ...], message: bytes) -> bytes:
        conn = self.conn
        items = await conn.relay.store.items(
            filters,
            int(time.time()),
            viewer=frozenset(conn.authed),
            owner=conn,
            cost=conn.query_time.charge,
            cap=self.max_events,
        )
        size = len(items) * BYTES_PER_ITEM
        if conn.held + size > conn.max_held:
            # Refused rather than taken, which would close the whole connection.
            raise BlockedError(
                "too many query results for this connection's memory;"
                " close other sessions or narrow the filter"
            )
        session.held = size
        conn.hold(size)
        started = time.perf_counter()
        storage = await _maybe_off_loop(len(items) > OFF_LOOP_ITEMS, Storage, items)
        conn.query_time.charge(time.perf_counter() - started)
        del items
        session.negentropy = Negentropy(storage, self.frame_size_limit)
        return await self._answer(session, message)

    async def _answer(self, session: _Session, message: bytes) -> bytes:
        negentropy = session.negentropy
        if negentropy is None:
            raise NegentropyError("the session is not open")
        started = time.perf_counter()
        try:
            return await _maybe_off_loop(
                len(message) > OFF_LOOP_BYTES or session.held > OFF_LOOP_ITEMS * BYTES_PER_ITEM,
                negentropy.reconcile,
                message,
            )
        finally:
            # Reconciling is work done for this client like a query: the same budget.
            self.conn.query_time.charge(time.perf_counter() - started)

    # ---- endings -----------------------------------------------------------------

    def _touch(self, session: _Session) -> None:
        if session.idle is not None:
            session.idle.cancel()
        if self.idle_timeout > 0:
            session.idle = asyncio.get_running_loop().call_later(
                self.idle_timeout, self._expire, session
            )

    def _expire(self, session: _Session) -> None:
        if session.lock.locked():  # still working on the client's last message
            self._touch(session)
            return
        seconds = f"{self.idle_timeout:g}"
        self._end(session, f"closed: no message for {seconds} s; the session timed out")

    def _end(self, session: _Session, reason: str) -> None:
        if self._sessions.get(session.sub_id) is session:
            self.close(session.sub_id)
        self.conn.send(neg_err_frame(session.sub_id, reason))

    def _refuse(self, sub_id: str, reason: str) -> None:
        """A malformed NEG message with a readable id: NEG-ERR, counted as invalid."""
        if self.conn.count_invalid():
            self.conn.send(neg_err_frame(sub_id, reason))


def _unhex(value: object) -> bytes:
    if not isinstance(value, str):
        raise NegentropyError("a negentropy message must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise NegentropyError("a negentropy message must be hex") from None


async def _maybe_off_loop(off: bool, func: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(func, *args) if off else func(*args)
