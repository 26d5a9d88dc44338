"""Many relays at once: publish to all, subscribe across all, survive relays coming and going.

The public API (everything else is internal)::

    async with Pool(["ws://a", "ws://b"], options=PoolOptions(ok_timeout=5)) as pool:
        report = await pool.publish(event)             # PublishReport, one result per relay
        report.acks, report.ok(min_acks=2)
        for r in report.results: r.relay, r.status, r.message, r.elapsed

        async with pool.subscribe([{"kinds": [1]}], stream=True) as sub:
            async for event in sub:                     # verified, de-duplicated Events
                ...
            # or: async for item in sub.items(): item is an Event or the EOSE marker
            sub.eose                        # asyncio.Event: overall end of stored events
            sub.stats["ws://a"].status      # per-relay eose / timeout / unreachable ...

        events = await pool.fetch([{"authors": [pk]}])  # stored events until overall EOSE

Design:

* One :class:`RelayConnection` per URL, shared by every publish and subscription of the
  pool. A supervisor task owns the socket: it connects, re-sends every active REQ, reads,
  and on a drop reconnects with exponential backoff (full jitter) while anything still
  needs the relay. An idle connection that drops is not re-opened until it is needed.
* Every wait has a timeout (connect, OK, EOSE); relays are handled concurrently, so a slow
  or dead relay costs its own timeout and never blocks the others.
* A subscription verifies every event (id and signature) and checks it matches one of its
  filters before it counts as seen; only then is its id added to the de-duplication set,
  so a relay that forges an id cannot suppress the genuine event from another relay.
* Resume: after a relay answered EOSE, a reconnect sends the filters again with
  ``since = last activity - resume_slack`` and without ``limit``; anything re-sent is
  dropped by the de-duplication set. Before EOSE, the original filters are sent again.
* Privacy: subscription ids are random per relay (relays cannot correlate one query
  across relays), and no User-Agent header is sent.
* NIP-42: with ``auth=SecretKey`` the pool answers AUTH challenges, and retries once a
  publish or REQ the relay refused with ``auth-required:``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from shieldmutual.client.config import normalize_relays
from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool_connect import Backoff, describe, open_websocket
from shieldmutual.shared import event as event_mod
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.messages import (
    ClientAuth,
    ClientClose,
    ClientEvent,
    ClientReq,
    ParseError,
    RelayAuth,
    RelayClosed,
    RelayEose,
    RelayEvent,
    RelayNotice,
    RelayOk,
    parse_relay_message,
)

log = logging.getLogger("shieldmutual.client.pool")

AUTH_KIND = 22242
TOO_BIG = 1009  # the close code websockets sends when a frame exceeds max_size
TRANSIENT_CLOSED = frozenset({"error", "rate-limited"})


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Timeouts in seconds. ``resume_slack`` covers clock skew and silent connection death.

    ``eose_grace``: once a relay has sent EOSE, the others get at most
    ``max(eose_grace, 2 x the slowest EOSE so far)`` more before the subscription's EOSE,
    so one silent relay never stalls a command. ``queue_limit``: events a subscription
    holds for a slow reader before the relay's socket stops being read (backpressure, so
    a flood costs bounded memory). ``proxy``: ``socks5h://HOST:PORT`` carries every
    connection (see pool_connect).
    """

    connect_timeout: float = 5.0
    ok_timeout: float = 10.0
    eose_timeout: float = 10.0
    eose_grace: float = 1.0
    backoff_base: float = 0.25
    backoff_max: float = 30.0
    resume_slack: int = 60
    rate_limit_wait: float = 30.0  # keep retrying a "rate-limited:" publish this long
    seen_limit: int = 100_000  # event ids a subscription remembers for de-duplication
    queue_limit: int = 1000
    ping_interval: float | None = 20.0
    max_message_size: int = 4 * 2**20
    proxy: str | None = None


# ---- publishing ------------------------------------------------------------------


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What one relay said about one event. ``elapsed`` is seconds from send to answer."""

    relay: str
    event_id: str
    status: Status
    message: str = ""
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """The relay holds the event: accepted now, or already had it."""
        return self.status in (Status.ACCEPTED, Status.DUPLICATE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "relay": self.relay,
            "status": str(self.status),
            "ok": self.ok,
            "message": self.message,
            "ms": round(self.elapsed * 1000, 1),
        }


@dataclass(frozen=True, slots=True)
class PublishReport:
    event: Event
    results: tuple[PublishResult, ...]

    @property
    def acks(self) -> int:
        """Relays that hold the event (accepted or duplicate)."""
        return sum(r.ok for r in self.results)

    def ok(self, min_acks: int = 1) -> bool:
        return self.acks >= min_acks


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


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EOSE = _Marker("EOSE")  # yielded once by Subscription.items() at the overall EOSE
_END = _Marker("END")


def _as_filter(value: Filter | Mapping[str, Any]) -> Filter:
    return value if isinstance(value, Filter) else Filter.from_dict(dict(value))


class _Attempt(asyncio.Event):
    """Set when a connection attempt ends (either way), or after its timeout."""

    timed_out = False

    def time_out(self) -> None:
        if not self.is_set():
            self.timed_out = True
            self.set()


class _RelayDown(Exception):
    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class RelayConnection:
    """One relay's socket, shared by the pool's publishes and subscriptions."""

    def __init__(self, url: str, options: PoolOptions, auth: SecretKey | None = None) -> None:
        self.url = url
        self.options = options
        self.auth_key = auth
        self.last_error: str | None = None
        self.connects = 0
        self.last_alive = 0.0  # wall-clock time of the last frame received
        self.backoff = Backoff(options.backoff_base, options.backoff_max)
        self._warned_oversize = False
        self._ws: ClientConnection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._attempt: _Attempt | None = None
        self._wake = asyncio.Event()
        self._pending_ok: dict[str, list[asyncio.Future[RelayOk]]] = {}
        self._subs: dict[str, Subscription] = {}
        self._waiters = 0
        self._closed = False
        self._challenge: str | None = None
        self._authed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ok_deadlines: collections.deque[tuple[float, asyncio.Future[RelayOk]]] = (
            collections.deque()
        )
        self._sweeper: asyncio.Task[None] | None = None

    # -- state --

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _ensure_supervisor(self) -> None:
        if self._closed:
            return
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"relay {self.url}"
            )
        self._wake.set()

    def _wanted(self) -> bool:
        return not self._closed and (bool(self._subs) or self._waiters > 0)

    # -- the supervisor --

    async def _supervise(self) -> None:
        backoff = self.backoff
        try:
            while not self._closed:
                await self._wait_turn()
                self._wake.clear()
                backoff.release()
                ws = await self._connect_once()
                if ws is None:
                    backoff.failed()
                    self._unreachable(self.last_error or "unreachable")
                else:
                    opened = time.monotonic()
                    too_big = await self._serve(ws)
                    if too_big is None:
                        backoff.ended(time.monotonic() - opened)
                    else:
                        self._hold(too_big)
                if not self._wanted():
                    return
        finally:
            if self._supervisor is asyncio.current_task():
                self._supervisor = None
            self._finish_attempt()

    async def _wait_turn(self) -> None:
        """Wait out the backoff; a publish that needs the relay cuts it short, unless the
        relay is held for breaking our limits."""
        delay = self.backoff.retry_in()
        if delay <= 0:
            return
        if self.backoff.held is not None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def _unreachable(self, message: str) -> None:
        for sub in list(self._subs.values()):
            sub._on_unreachable(self.url, message)

    def _hold(self, reason: str) -> None:
        """The relay sent a frame over our limit: hold it off and say so once."""
        delay = self.backoff.hold(reason)
        self.last_error = reason
        if not self._warned_oversize:
            self._warned_oversize = True
            log.warning("%s %s; retrying in %.0fs at the earliest", self.url, reason, delay)
        self._unreachable(reason)

    def _finish_attempt(self) -> None:
        if self._attempt is not None:
            self._attempt.set()
        self._attempt = None

    async def _connect_once(self) -> ClientConnection | None:
        timeout = self.options.connect_timeout
        try:
            ws = await asyncio.wait_for(
                open_websocket(
                    self.url,
                    proxy=self.options.proxy,
                    max_size=self.options.max_message_size,
                    ping_interval=self.options.ping_interval,
                ),
                timeout,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = describe(exc, timeout, self.options.proxy)
            log.info("%s: %s", self.url, self.last_error)
            self._finish_attempt()
            return None
        self.last_error = None
        self.connects += 1
        self.last_alive = time.time()
        self._authed.clear()
        self._challenge = None
        return ws

    async def _serve(self, ws: ClientConnection) -> str | None:
        """Read until the connection ends; the reason when the relay broke our size limit.

        A subscription whose reader has fallen ``queue_limit`` events behind pauses the
        reading (and so, through TCP, the relay) until the reader catches up.
        """
        # Publish the socket and snapshot the subscriptions in one synchronous step: a
        # subscription attached after this point sends its own REQ (see attach()).
        self._ws = ws
        resend = list(self._subs.items())
        self._finish_attempt()
        too_big = None
        try:
            for sub_id, sub in resend:
                if self._subs.get(sub_id) is sub:
                    await self._send_req(ws, sub_id, sub)
            async for raw in ws:
                self.last_alive = time.time()
                try:
                    behind = self._dispatch(raw)
                except Exception:  # a bug in a consumer must not take the socket down
                    log.exception("%s: error handling a message", self.url)
                    continue
                if behind is not None:
                    await behind.caught_up()
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == TOO_BIG:
                limit = self.options.max_message_size
                too_big = f"sent a frame over our {limit / 2**20:g} MiB limit"
            self.last_error = f"connection lost ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        except OSError as exc:
            self.last_error = f"connection lost ({exc})"
        finally:
            self._ws = None
            log.info("%s: disconnected", self.url)
            for futures in self._pending_ok.values():
                for fut in futures:
                    if not fut.done():
                        fut.set_exception(_RelayDown("connection lost before OK"))
            self._pending_ok.clear()
            for sub in list(self._subs.values()):
                sub._on_disconnect(self.url, self.last_alive)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        return too_big

    # -- incoming --

    def _dispatch(self, raw: str | bytes) -> Subscription | None:
        """Hand one message to whoever waits for it; the subscription to wait for when an
        event left its reader too far behind."""
        try:
            msg = parse_relay_message(raw)
        except ParseError as exc:
            sub = self._subs.get(exc.subscription_id or "")
            if sub is not None:
                sub._on_invalid(self.url)
            else:
                log.info("%s: unreadable message: %s", self.url, exc)
            return None
        if isinstance(msg, RelayEvent):
            sub = self._subs.get(msg.subscription_id)
            if sub is not None and sub._on_event(self.url, msg.event):
                return sub
        elif isinstance(msg, RelayOk):
            for fut in self._pending_ok.pop(msg.event_id, ()):
                if not fut.done():
                    fut.set_result(msg)
        elif isinstance(msg, RelayEose):
            sub = self._subs.get(msg.subscription_id)
            if sub is not None:
                sub._on_eose(self.url)
        elif isinstance(msg, RelayClosed):
            sub = self._subs.get(msg.subscription_id)
            if sub is None:
                return None
            if msg.message.startswith("auth-required:") and self.auth_key is not None:
                self._spawn(self._retry_req_after_auth(msg.subscription_id, sub, msg.message))
            else:
                self._closed_by_relay(msg.subscription_id, sub, msg.message)
        elif isinstance(msg, RelayNotice):
            log.info("%s: NOTICE %s", self.url, msg.message)
        elif isinstance(msg, RelayAuth):
            self._challenge = msg.challenge
            if self.auth_key is not None:
                self._spawn(self._authenticate(msg.challenge))
        return None

    # -- NIP-42 --

    async def _authenticate(self, challenge: str) -> None:
        assert self.auth_key is not None
        auth = event_mod.sign(
            self.auth_key, AUTH_KIND, "", [["relay", self.url], ["challenge", challenge]]
        )
        try:
            ok = await self._send_and_wait_ok(auth.id, ClientAuth(auth).encode())
        except (_RelayDown, TimeoutError) as exc:
            log.info("%s: AUTH failed: %s", self.url, exc)
            return
        if ok.accepted:
            self._authed.set()
        else:
            log.info("%s: AUTH refused: %s", self.url, ok.message)

    async def _wait_authed(self) -> bool:
        try:
            await asyncio.wait_for(self._authed.wait(), self.options.ok_timeout)
        except TimeoutError:
            return False
        return True

    async def _retry_req_after_auth(self, sub_id: str, sub: Subscription, message: str) -> None:
        ws = self._ws
        if ws is not None and await self._wait_authed() and self._subs.get(sub_id) is sub:
            await self._send_req(ws, sub_id, sub)
        elif self._subs.get(sub_id) is sub:
            self._closed_by_relay(sub_id, sub, message)

    def _closed_by_relay(self, sub_id: str, sub: Subscription, message: str) -> None:
        """CLOSED: a refusal (auth-required, restricted, blocked, invalid...) is final for
        this relay; a transient one (``error:``, ``rate-limited:``) is tried again on the
        next reconnect, as a relay that is shutting down may send it."""
        if message.partition(":")[0] not in TRANSIENT_CLOSED:
            del self._subs[sub_id]
        sub._on_closed(self.url, message)

    # -- outgoing --

    async def ensure_connected(self, stale: ClientConnection | None = None) -> ClientConnection:
        """The open socket, connecting now if needed; raises after one failed attempt.

        ``stale`` is a socket the caller saw fail: wait for a new one rather than reuse it.
        """
        if self._closed:
            raise _RelayDown("pool is closed")
        if self._ws is not None and self._ws is not stale:
            return self._ws
        if self.backoff.held is not None:
            self._ensure_supervisor()
            raise _RelayDown(self.backoff.held)
        attempt = self._attempt
        if attempt is None or attempt.is_set():
            # One event and one timer per connection attempt, however many publishes wait.
            attempt = self._attempt = _Attempt()
            asyncio.get_running_loop().call_later(
                self.options.connect_timeout + 1, attempt.time_out
            )
            self._ensure_supervisor()
        self._waiters += 1
        try:
            await attempt.wait()
        finally:
            self._waiters -= 1
        if attempt.timed_out:
            timeout = self.options.connect_timeout
            raise _RelayDown(f"no connection within {timeout:g}s", timed_out=True)
        if self._ws is None or self._ws is stale:
            message = self.last_error or "unreachable"
            raise _RelayDown(message, timed_out=message.startswith("no connection within"))
        return self._ws

    async def _send_and_wait_ok(self, event_id: str, frame: str) -> RelayOk:
        """Send ``frame`` and wait for the OK for ``event_id``.

        A socket that turns out to be dead (the relay restarted since it was opened) is
        replaced once and the frame sent again; a relay answers a repeat with duplicate.
        """
        ws = await self.ensure_connected()
        try:
            return await self._send_once(ws, event_id, frame)
        except _RelayDown:
            ws = await self.ensure_connected(stale=ws)
            return await self._send_once(ws, event_id, frame)

    async def _send_once(self, ws: ClientConnection, event_id: str, frame: str) -> RelayOk:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[RelayOk] = loop.create_future()
        self._pending_ok.setdefault(event_id, []).append(fut)
        # One sweeper per connection enforces the OK timeout: every wait has the same
        # length, so deadlines are queued in order and no timer is armed per event.
        self._ok_deadlines.append((loop.time() + self.options.ok_timeout, fut))
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = loop.create_task(self._sweep_ok_deadlines())
        self._waiters += 1
        try:
            await ws.send(frame)
            return await fut
        except ConnectionClosed:
            raise _RelayDown("connection lost before OK") from None
        finally:
            self._waiters -= 1
            futures = self._pending_ok.get(event_id)
            if futures and fut in futures:
                futures.remove(fut)
                if not futures:
                    del self._pending_ok[event_id]

    async def _sweep_ok_deadlines(self) -> None:
        loop = asyncio.get_running_loop()
        deadlines = self._ok_deadlines
        while deadlines:
            when, fut = deadlines[0]
            if fut.done():
                deadlines.popleft()
            elif (delay := when - loop.time()) > 0:
                await asyncio.sleep(delay)
            else:
                deadlines.popleft()
                fut.set_exception(TimeoutError())

    async def publish(self, event: Event) -> PublishResult:
        """Send one event and wait for its OK; never raises for network trouble."""
        start = time.monotonic()

        def result(status: Status, message: str = "") -> PublishResult:
            return PublishResult(self.url, event.id, status, message, time.monotonic() - start)

        frame = ClientEvent(event).encode()
        delay = self.options.backoff_base
        try:
            ok = await self._send_and_wait_ok(event.id, frame)
            needs_auth = not ok.accepted and ok.prefix == "auth-required"
            if needs_auth and self.auth_key is not None and await self._wait_authed():
                ok = await self._send_and_wait_ok(event.id, frame)
            # rate-limited: slow down and try again, within the rate_limit_wait budget.
            while not ok.accepted and ok.prefix == "rate-limited":
                pause = delay * random.uniform(0.5, 1.0)
                if time.monotonic() - start + pause > self.options.rate_limit_wait:
                    break
                await asyncio.sleep(pause)
                delay = min(delay * 2, 5.0)
                ok = await self._send_and_wait_ok(event.id, frame)
        except _RelayDown as exc:
            return result(Status.TIMEOUT if exc.timed_out else Status.UNREACHABLE, str(exc))
        except TimeoutError:
            return result(Status.TIMEOUT, f"no OK within {self.options.ok_timeout:g}s")
        if ok.prefix == "duplicate":
            return result(Status.DUPLICATE, ok.message)
        if ok.accepted:
            return result(Status.ACCEPTED, ok.message)
        return result(Status.REJECTED, ok.message or "rejected without a reason")

    async def _send_req(self, ws: ClientConnection, sub_id: str, sub: Subscription) -> None:
        frame = ClientReq(sub_id, sub._filters_for(self.url)).encode()
        sub._on_req_sent(self.url)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame)

    async def attach(self, sub_id: str, sub: Subscription) -> None:
        self._subs[sub_id] = sub
        if self._ws is not None:
            await self._send_req(self._ws, sub_id, sub)
            return
        if self.backoff.held is not None:
            sub._on_unreachable(self.url, self.backoff.held)
        self._ensure_supervisor()

    async def detach(self, sub_id: str) -> None:
        if self._subs.pop(sub_id, None) is not None and self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(ClientClose(sub_id).encode())

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        for task in [self._supervisor, self._sweeper, *self._tasks]:
            if task is not None and not task.done():
                task.cancel()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        for task in [self._supervisor, self._sweeper, *self._tasks]:
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        self._finish_attempt()


# ---- subscriptions ---------------------------------------------------------------------


class Subscription:
    """A merged subscription over several relays. Use as ``async with`` and ``async for``."""

    def __init__(
        self,
        pool: Pool,
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
        self._queue: asyncio.Queue[Event | _Marker] = asyncio.Queue()
        self._backlog = 0  # events in the queue
        self._room = asyncio.Event()
        self._room.set()
        self._grace: asyncio.TimerHandle | None = None
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

    # -- lifecycle --

    async def start(self) -> Subscription:
        self._pool._subscriptions.add(self)
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
        self._pool._subscriptions.discard(self)
        if self._deadline is not None and self._deadline is not asyncio.current_task():
            self._deadline.cancel()
        self._cancel_grace()
        self._room.set()  # nobody reads any more: no relay may wait for that
        self._queue.put_nowait(_END)
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

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def _grace_over(self, grace: float) -> None:
        self._grace = None
        for stats in self.stats.values():
            if not stats.answered:
                stats.answered = True
                stats.status = RelayState.TIMEOUT
                stats.message = f"no EOSE {grace:.1f}s after the other relays answered"
        self._check_eose()

    def _check_eose(self) -> None:
        if self.eose.is_set() or not all(s.answered for s in self.stats.values()):
            return
        self.eose.set()
        self._cancel_grace()
        if self._deadline is not None and self._deadline is not asyncio.current_task():
            self._deadline.cancel()
        self._queue.put_nowait(EOSE)
        if not self.stream and self._stop():
            # Stop taking events now; CLOSE goes out to the relays in the background.
            self._closing = asyncio.get_running_loop().create_task(self._detach_all())

    # -- consuming --

    async def items(self) -> AsyncIterator[Event | _Marker]:
        """Events, plus the :data:`EOSE` marker once, at the overall end of stored events."""
        limit = self._pool.options.queue_limit
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, Event):
                self._backlog -= 1
                if self._backlog <= limit // 2:
                    self._room.set()
            yield item

    async def __aiter__(self) -> AsyncIterator[Event]:
        async for item in self.items():
            if isinstance(item, Event):
                yield item

    # -- called by RelayConnection --

    def _filters_for(self, url: str) -> tuple[Filter, ...]:
        since = self.stats[url].resume_since
        if since is None:
            return self.filters
        return tuple(
            dataclasses.replace(f, since=max(f.since or 0, since), limit=None) for f in self.filters
        )

    def _on_req_sent(self, url: str) -> None:
        stats = self.stats[url]
        stats.req_eosed = False
        if stats.status in (RelayState.CONNECTING, RelayState.UNREACHABLE, RelayState.CLOSED):
            stats.status = RelayState.WAITING
            stats.message = ""

    def _on_event(self, url: str, event: Event) -> bool:
        """Take one event; True when the reader is now ``queue_limit`` events behind."""
        stats = self.stats[url]
        if event.id in self._seen:
            stats.duplicates += 1
            return False
        if not event.is_valid() or not any(f.matches(event) for f in self._match):
            stats.invalid += 1
            return False
        self._seen.add(event.id)
        self._seen_order.append(event.id)
        if len(self._seen_order) > self._pool.options.seen_limit:
            self._seen.discard(self._seen_order.popleft())
        stats.events += 1
        self.received += 1
        if self._closed:
            return False
        self._queue.put_nowait(event)
        self._backlog += 1
        if self._backlog < self._pool.options.queue_limit:
            return False
        self._room.clear()
        return True

    async def caught_up(self) -> None:
        """Until the reader has taken half of its backlog (or the subscription ended)."""
        await self._room.wait()

    def _on_invalid(self, url: str) -> None:
        self.stats[url].invalid += 1

    def _on_eose(self, url: str) -> None:
        stats = self.stats[url]
        stats.req_eosed = True
        stats.status = RelayState.EOSE
        stats.message = ""
        if stats.eose_after is None:
            stats.eose_after = time.monotonic() - self._started
        self._answered(stats)
        self._arm_grace()

    def _on_closed(self, url: str, message: str) -> None:
        self._end(url, RelayState.CLOSED, message)

    def _on_unreachable(self, url: str, message: str) -> None:
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

    def _on_disconnect(self, url: str, last_alive: float) -> None:
        stats = self.stats[url]
        if stats.req_eosed:
            stats.resume_since = max(0, int(last_alive) - self._pool.options.resume_slack)
        stats.req_eosed = False
        stats.reconnects += 1
        stats.status = RelayState.CONNECTING


# ---- the pool --------------------------------------------------------------------------


class Pool:
    """Connections to many relays. ``relays`` is the default set for every call."""

    def __init__(
        self,
        relays: Iterable[str] = (),
        *,
        options: PoolOptions | None = None,
        auth: SecretKey | None = None,
    ) -> None:
        self.relays = normalize_relays(relays)
        self.options = options or PoolOptions()
        self.auth = auth
        self._connections: dict[str, RelayConnection] = {}
        self._subscriptions: set[Subscription] = set()

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _targets(self, relays: Iterable[str] | None) -> list[str]:
        targets = normalize_relays(relays) if relays is not None else list(self.relays)
        if not targets:
            raise RelayError("no relays: add one with `mas relays add URL` or pass -r URL")
        return targets

    def connection(self, url: str) -> RelayConnection:
        conn = self._connections.get(url)
        if conn is None:
            conn = self._connections[url] = RelayConnection(url, self.options, self.auth)
        return conn

    async def publish(self, event: Event, relays: Iterable[str] | None = None) -> PublishReport:
        """Send ``event`` to every relay concurrently; one :class:`PublishResult` each."""
        targets = self._targets(relays)
        if len(targets) == 1:
            return PublishReport(event, (await self.connection(targets[0]).publish(event),))
        results = await asyncio.gather(*(self.connection(u).publish(event) for u in targets))
        return PublishReport(event, tuple(results))

    def subscribe(
        self,
        filters: Iterable[Filter | Mapping[str, Any]],
        relays: Iterable[str] | None = None,
        *,
        stream: bool = False,
        eose_timeout: float | None = None,
    ) -> Subscription:
        """A merged subscription; start it with ``async with`` (or ``await sub.start()``).

        Without ``stream`` it ends at the overall EOSE: every relay answered EOSE, refused,
        was unreachable, or hit ``eose_timeout``. With ``stream`` it follows live events
        until closed, reconnecting dropped relays and resuming them with ``since``.
        """
        return Subscription(
            self,
            [_as_filter(f) for f in filters],
            self._targets(relays),
            stream=stream,
            eose_timeout=self.options.eose_timeout if eose_timeout is None else eose_timeout,
        )

    async def fetch(
        self,
        filters: Iterable[Filter | Mapping[str, Any]],
        relays: Iterable[str] | None = None,
        *,
        eose_timeout: float | None = None,
    ) -> list[Event]:
        """Stored events up to the overall EOSE, newest first."""
        async with self.subscribe(filters, relays, eose_timeout=eose_timeout) as sub:
            events = [event async for event in sub]
        return sorted(events, key=lambda e: (-e.created_at, e.id))

    async def close(self) -> None:
        """End every subscription and close every socket."""
        for sub in list(self._subscriptions):
            await sub.close()
        await asyncio.gather(*(c.close() for c in self._connections.values()))
        self._connections.clear()
