"""One relay's connection, the Nostr side, shared by a pool's publishes and subscriptions.

client/pool_socket.py keeps the websocket open while something needs it; this module
speaks Nostr over it: REQs for the attached subscriptions (sent again on every new
socket), each frame handed to whoever waits for it, publishes waiting for their OK
(client/pool_ok.py) with a deadline, and NIP-42 (client/pool_auth.py). A refusal whose
prefix AUTH could lift (``auth-required``, or ``restricted`` before our AUTH was
accepted), however the relay wraps it (strfry: ``ERROR: auth-required: ...``), is tried
once more after AUTH. What a connection calls on its subscriptions is the ``Subscriber``
protocol (client/pool_protocols.py): no part of the pool reaches into another's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from shieldmutual.client.pool_auth import SocketAuth
from shieldmutual.client.pool_ok import OkWaiters, RelayDown
from shieldmutual.client.pool_options import PoolOptions
from shieldmutual.client.pool_protocols import Subscriber
from shieldmutual.client.pool_report import PublishResult, Status
from shieldmutual.client.pool_socket import RelaySocket
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

log = logging.getLogger("shieldmutual.client.pool")

TRANSIENT_CLOSED = frozenset({"error", "rate-limited"})
# How a relay's EVENT frame starts (ours, strfry's), and an event's id key.
_EVENT_HEAD = b'["EVENT","'
_ID_KEY = b'"id":"'


class RelayConnection:
    """One relay's connection, shared by the pool's publishes and subscriptions. It is the
    ``SocketOwner`` of its :class:`RelaySocket` and the ``RelayLink`` of its subscriptions."""

    def __init__(self, url: str, options: PoolOptions, auth: SecretKey | None = None) -> None:
        self.url = url
        self.options = options
        self.socket = RelaySocket(url, options, self)
        self.backoff = self.socket.backoff
        self._oks = OkWaiters(options.ok_timeout)
        self._auth = SocketAuth(auth, options.ok_timeout)
        self._subs: dict[str, Subscriber] = {}
        self._sending = 0  # publishes and AUTHs awaiting an OK
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        """A socket is open (the live feed shows each relay's state)."""
        return self.socket.ws is not None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the socket's owner --

    def wanted(self) -> bool:
        return bool(self._subs) or self._sending > 0

    async def opened(self, ws: ClientConnection) -> None:
        self._auth.reset()
        for sub_id, sub in list(self._subs.items()):
            if self._subs.get(sub_id) is sub:
                await self._send_req(ws, sub_id, sub)

    def lost(self, last_alive: float) -> None:
        self._oks.fail_all("connection lost before OK")
        for sub in list(self._subs.values()):
            sub.on_disconnect(self.url, last_alive)

    def unreachable(self, message: str) -> None:
        for sub in list(self._subs.values()):
            sub.on_unreachable(self.url, message)

    def received(self, raw: bytes) -> Subscriber | None:
        """Hand one message to whoever waits for it; the subscription to wait for when an
        event left its reader too far behind."""
        known = self._known_copy(raw)
        if known is not None:
            holder, pause = known
            return holder if pause else None
        try:
            msg = parse_relay_message(raw)
        except ParseError as exc:
            self._unreadable(exc)
            return None
        if isinstance(msg, RelayEvent):
            sub = self._subs.get(msg.subscription_id)
            if sub is not None and sub.on_event(self.url, msg.event):
                return sub
        elif isinstance(msg, RelayOk):
            self._oks.answer(msg)
        elif isinstance(msg, RelayEose):
            sub = self._subs.get(msg.subscription_id)
            if sub is not None:
                sub.on_eose(self.url)
        elif isinstance(msg, RelayClosed):
            self._on_closed(msg)
        elif isinstance(msg, RelayNotice):
            log.info("%s: NOTICE %s", self.url, msg.message)
        elif isinstance(msg, RelayAuth) and self._auth.key is not None:
            ws = self.socket.ws
            if ws is not None:
                self._auth.challenged()
                self._spawn(self._authenticate(ws, self._auth.key, msg.challenge))
        return None

    def _unreadable(self, exc: ParseError) -> None:
        sub = self._subs.get(exc.subscription_id or "")
        if sub is not None:
            sub.on_invalid(self.url)
        else:
            log.info("%s: unreadable message: %s", self.url, exc)

    def _on_closed(self, msg: RelayClosed) -> None:
        sub_id = msg.subscription_id
        sub = self._subs.get(sub_id)
        if sub is None:
            return
        if self._auth.may_help(msg.prefix) and self._auth.first_refusal(sub_id):
            self._spawn(self._retry_req_after_auth(sub_id, sub, msg.message))
        else:
            self._closed_by_relay(sub_id, sub, msg.message)

    def _known_copy(self, raw: bytes) -> tuple[Subscriber, bool] | None:
        """An EVENT frame of an id its subscription has already (delivered, or another
        relay's copy being checked), taken without parsing it: the other relays' copies
        cost two byte searches, not a JSON parse and an Event. Its subscription, and
        whether reading must pause; None when the frame must be parsed. The id is the
        first ``"id":"`` key (a JSON string cannot hold an unescaped quote), so a relay can
        only make us drop its own frame, never another relay's copy."""
        if not raw.startswith(_EVENT_HEAD):
            return None
        end = raw.find(b'"', len(_EVENT_HEAD))
        sub = self._subs.get(raw[len(_EVENT_HEAD) : end].decode("ascii", "replace"))
        at = raw.find(_ID_KEY, end)
        if sub is None or at < 0:
            return None
        start = at + len(_ID_KEY)
        pause = sub.on_frame(self.url, raw[start : start + 64].decode("ascii", "replace"), raw)
        return None if pause is None else (sub, pause)

    # -- NIP-42 --

    async def _authenticate(self, ws: ClientConnection, key: SecretKey, challenge: str) -> None:
        """Answer ``challenge`` on ``ws`` (the socket it came on, never a later one)."""
        auth = auth_event(key, self.url, challenge)
        try:
            ok = await self._send_once(ws, auth.id, ClientAuth(auth).encode())
        except (RelayDown, TimeoutError) as exc:
            log.info("%s: AUTH failed: %s", self.url, exc)
            ok = None
        if self.socket.ws is not ws:
            return
        if ok is not None and not ok.accepted:
            log.info("%s: AUTH refused: %s", self.url, ok.message)
        self._auth.settle(ok is not None and ok.accepted)

    async def _retry_req_after_auth(self, sub_id: str, sub: Subscriber, message: str) -> None:
        ws = self.socket.ws
        if ws is not None and await self._auth.authenticated() and self._subs.get(sub_id) is sub:
            await self._send_req(ws, sub_id, sub)
        elif self._subs.get(sub_id) is sub:
            self._closed_by_relay(sub_id, sub, message)

    def _closed_by_relay(self, sub_id: str, sub: Subscriber, message: str) -> None:
        """CLOSED: a refusal (auth-required, restricted, blocked, invalid...) is final for
        this relay; a transient one (``error:``, ``rate-limited:``) is tried again on the
        next reconnect, as a relay that is shutting down may send it."""
        if message_prefix(message) not in TRANSIENT_CLOSED:
            del self._subs[sub_id]
        sub.on_closed(self.url, message)

    # -- outgoing --

    async def _send_and_wait_ok(self, event_id: str, frame: str) -> RelayOk:
        """Send ``frame`` and wait for the OK for ``event_id``.

        A socket that turns out to be dead (the relay restarted since it was opened) is
        replaced once and the frame sent again; a relay answers a repeat with duplicate.
        """
        ws = await self.socket.connected()
        try:
            return await self._send_once(ws, event_id, frame)
        except RelayDown:
            ws = await self.socket.connected(stale=ws)
            return await self._send_once(ws, event_id, frame)

    async def _send_once(self, ws: ClientConnection, event_id: str, frame: str) -> RelayOk:
        fut = self._oks.expect(event_id)
        self._sending += 1
        try:
            await ws.send(frame)
            return await fut
        except ConnectionClosed:
            raise RelayDown("connection lost before OK") from None
        finally:
            self._sending -= 1
            self._oks.forget(event_id, fut)

    async def publish(self, event: Event, frame: str) -> PublishResult:
        """Send one event (``frame``: its EVENT message, encoded once for every relay) and
        wait for its OK; never raises for network trouble."""
        start = time.monotonic()

        def result(status: Status, message: str = "") -> PublishResult:
            return PublishResult(self.url, event.id, status, message, time.monotonic() - start)

        delay = self.options.backoff_base
        try:
            await self._auth.settled()
            ok = await self._send_and_wait_ok(event.id, frame)
            auth = self._auth
            if not ok.accepted and auth.may_help(ok.prefix) and await auth.authenticated():
                ok = await self._send_and_wait_ok(event.id, frame)
            # rate-limited: slow down and try again, within the rate_limit_wait budget.
            while not ok.accepted and ok.prefix == "rate-limited":
                pause = delay * random.uniform(0.5, 1.0)
                if time.monotonic() - start + pause > self.options.rate_limit_wait:
                    break
                await asyncio.sleep(pause)
                delay = min(delay * 2, 5.0)
                ok = await self._send_and_wait_ok(event.id, frame)
        except RelayDown as exc:
            return result(Status.TIMEOUT if exc.timed_out else Status.UNREACHABLE, str(exc))
        except TimeoutError:
            return result(Status.TIMEOUT, f"no OK within {self.options.ok_timeout:g}s")
        if ok.prefix == "duplicate":
            return result(Status.DUPLICATE, ok.message)
        if ok.accepted:
            return result(Status.ACCEPTED, ok.message)
        return result(Status.REJECTED, ok.message or "rejected without a reason")

    async def _send_req(self, ws: ClientConnection, sub_id: str, sub: Subscriber) -> None:
        frame = ClientReq(sub_id, tuple(sub.filters_for(self.url))).encode()
        sub.req_sent(self.url)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame)

    async def attach(self, sub_id: str, sub: Subscriber) -> None:
        self._subs[sub_id] = sub
        ws = self.socket.ws
        if ws is not None:
            await self._auth.settled()
            # A socket opened meanwhile has sent every attached REQ itself (see opened()).
            if self.socket.ws is ws and self._subs.get(sub_id) is sub:
                await self._send_req(ws, sub_id, sub)
            return
        if self.backoff.held is not None:
            sub.on_unreachable(self.url, self.backoff.held)
        self.socket.wake()

    async def detach(self, sub_id: str) -> None:
        ws = self.socket.ws
        if self._subs.pop(sub_id, None) is not None and ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(ClientClose(sub_id).encode())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.socket.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._oks.close()
