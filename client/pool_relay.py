"""One relay's socket, shared by a pool's publishes and subscriptions.

A supervisor task owns the socket: it connects (through client/pool_connect.py, so a
proxy carries it), re-sends every active REQ, reads, and on a drop reconnects with the
relay's :class:`~shieldmutual.client.pool_connect.Backoff` while anything still needs it.
Publishing waits for the relay's OK with a deadline.

NIP-42, as relays really behave: with an ``auth`` key the pool answers every challenge at
once, and a REQ or EVENT that comes while that AUTH awaits its OK waits for it a moment
(a relay that checks messages concurrently, as khatru does, would refuse it). A refusal whose
prefix is ``auth-required`` (or ``restricted`` before our AUTH was accepted), however the
relay wraps it (strfry: ``ERROR: auth-required: ...``), is tried once more after AUTH;
some relays (strfry) send their challenge only with that refusal. Without a key the pool
never authenticates: whom to authenticate as is the caller's choice (client/cli/common.py:
your key to read your inbox, a throwaway one per private send, none for public traffic).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from shieldmutual.client.pool_connect import Backoff, describe, open_websocket
from shieldmutual.client.pool_report import PublishResult, Status
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.messages import (
    ClientAuth,
    ClientClose,
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
from shieldmutual.shared.nip01prefix import message_prefix
from shieldmutual.shared.nip42 import auth_event

if TYPE_CHECKING:
    from shieldmutual.client.pool import PoolOptions
    from shieldmutual.client.pool_subscription import Subscription

log = logging.getLogger("shieldmutual.client.pool")

TOO_BIG = 1009  # the close code websockets sends when a frame exceeds max_size
TRANSIENT_CLOSED = frozenset({"error", "rate-limited"})
# Seconds a REQ or EVENT waits for an AUTH in flight. Short: a relay that never OKs an AUTH
# (PyPI nostr-relay) must not cost the whole OK timeout, and one that refuses meanwhile
# is answered by the retry after AUTH anyway.
AUTH_HOLD = 2.0
# How a relay's EVENT frame starts (ours, strfry's), and an event's id key.
_EVENT_HEAD = b'["EVENT","'
_ID_KEY = b'"id":"'


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
        # This socket's NIP-42 state: an AUTH in flight, its answer, and the subscriptions
        # already tried again after AUTH (once each per socket).
        self._auth_pending = False
        self._auth_answered = asyncio.Event()
        self._auth_ok = False
        self._auth_retried: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ok_deadlines: collections.deque[tuple[float, asyncio.Future[RelayOk]]] = (
            collections.deque()
        )
        self._sweeper: asyncio.Task[None] | None = None

    # -- state --

    @property
    def connected(self) -> bool:
        """A socket is open (the live feed shows each relay's state)."""
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
        self.last_alive = time.time()
        self._auth_pending = self._auth_ok = False
        self._auth_answered.clear()
        self._auth_retried.clear()
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
            while True:
                # Bytes, undecoded: orjson reads UTF-8 (and rejects it when invalid) faster
                # than websockets can decode it to a str that orjson would encode again.
                raw = await ws.recv(decode=False)
                self.last_alive = time.time()
                try:
                    behind = self._dispatch(raw)
                except Exception:  # a bug in a consumer must not take the socket down
                    log.exception("%s: error handling a message", self.url)
                    continue
                if behind is not None:
                    await behind.caught_up()
        except ConnectionClosedOK:
            pass  # the relay closed the session cleanly: reconnect without an error
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

    def _dispatch(self, raw: bytes) -> Subscription | None:
        """Hand one message to whoever waits for it; the subscription to wait for when an
        event left its reader too far behind."""
        if self._copy_seen(raw):
            return None
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
            sub_id = msg.subscription_id
            if self._auth_may_help(msg.prefix) and sub_id not in self._auth_retried:
                self._auth_retried.add(sub_id)
                self._spawn(self._retry_req_after_auth(sub_id, sub, msg.message))
            else:
                self._closed_by_relay(sub_id, sub, msg.message)
        elif isinstance(msg, RelayNotice):
            log.info("%s: NOTICE %s", self.url, msg.message)
        elif isinstance(msg, RelayAuth) and self.auth_key is not None and self._ws is not None:
            self._auth_pending = True
            self._auth_answered.clear()
            self._spawn(self._authenticate(self._ws, msg.challenge))
        return None

    def _copy_seen(self, raw: bytes) -> bool:
        """An EVENT frame of an id its subscription has delivered already, found without
        parsing it: the other relays' copies cost two byte searches, not a JSON parse and
        an Event. The id is the first ``"id":"`` key (a JSON string cannot hold an
        unescaped quote), so a relay can only make us drop its own frame, never another
        relay's copy."""
        if not raw.startswith(_EVENT_HEAD):
            return False
        end = raw.find(b'"', len(_EVENT_HEAD))
        sub = self._subs.get(raw[len(_EVENT_HEAD) : end].decode("ascii", "replace"))
        at = raw.find(_ID_KEY, end)
        if sub is None or at < 0:
            return False
        start = at + len(_ID_KEY)
        return sub.duplicate(self.url, raw[start : start + 64].decode("ascii", "replace"))

    # -- NIP-42 --

    async def _authenticate(self, ws: ClientConnection, challenge: str) -> None:
        """Answer ``challenge`` on ``ws`` (the socket it came on, never a later one)."""
        assert self.auth_key is not None
        auth = auth_event(self.auth_key, self.url, challenge)
        try:
            ok = await self._send_once(ws, auth.id, ClientAuth(auth).encode())
        except (_RelayDown, TimeoutError) as exc:
            log.info("%s: AUTH failed: %s", self.url, exc)
            ok = None
        if self._ws is not ws:
            return
        self._auth_ok = ok is not None and ok.accepted
        if ok is not None and not ok.accepted:
            log.info("%s: AUTH refused: %s", self.url, ok.message)
        self._auth_pending = False
        self._auth_answered.set()

    def _auth_may_help(self, prefix: str) -> bool:
        """A refusal AUTH could lift: ``auth-required``, or ``restricted`` while we are not
        authenticated (a relay that keeps some content to known members)."""
        if self.auth_key is None:
            return False
        return prefix == "auth-required" or (prefix == "restricted" and not self._auth_ok)

    async def _auth_settled(self) -> None:
        """Before a REQ or EVENT: let an AUTH in flight get its OK first (``AUTH_HOLD``)."""
        if self._auth_pending:
            hold = min(AUTH_HOLD, self.options.ok_timeout)
            try:
                await asyncio.wait_for(self._auth_answered.wait(), hold)
            except TimeoutError:
                self._auth_pending = False  # held once: later sends do not wait for it

    async def _wait_authed(self) -> bool:
        """After a refusal: whether this socket is authenticated, waiting (bounded) for a
        challenge the relay may send only now, and for the AUTH's answer."""
        if self._auth_pending or not self._auth_answered.is_set():
            try:
                await asyncio.wait_for(self._auth_answered.wait(), self.options.ok_timeout)
            except TimeoutError:
                return False
        return self._auth_ok

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
        if message_prefix(message) not in TRANSIENT_CLOSED:
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

    async def publish(self, event: Event, frame: str) -> PublishResult:
        """Send one event (``frame``: its EVENT message, encoded once for every relay) and
        wait for its OK; never raises for network trouble."""
        start = time.monotonic()

        def result(status: Status, message: str = "") -> PublishResult:
            return PublishResult(self.url, event.id, status, message, time.monotonic() - start)

        delay = self.options.backoff_base
        try:
            await self._auth_settled()
            ok = await self._send_and_wait_ok(event.id, frame)
            if not ok.accepted and self._auth_may_help(ok.prefix) and await self._wait_authed():
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
        ws = self._ws
        if ws is not None:
            await self._auth_settled()
            # A socket opened meanwhile has sent every attached REQ itself (see _serve).
            if self._ws is ws and self._subs.get(sub_id) is sub:
                await self._send_req(ws, sub_id, sub)
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
