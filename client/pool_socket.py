"""One relay's websocket, kept open while something needs it.

A supervisor task owns the socket: it connects (through client/pool_connect.py, so a
proxy carries it), tells its owner (client/pool_relay.py, the Nostr side) that a socket
opened so the active REQs go out again, reads, and on a drop reconnects with the relay's
:class:`~shieldmutual.client.pool_connect.Backoff` while anything still needs it. Frames
are handed to the owner as bytes; this module knows nothing of Nostr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from shieldmutual.client.pool_connect import Backoff, describe, open_websocket
from shieldmutual.client.pool_ok import RelayDown
from shieldmutual.client.pool_options import PoolOptions
from shieldmutual.client.pool_protocols import SocketOwner

log = logging.getLogger("shieldmutual.client.pool")

TOO_BIG = 1009  # the close code websockets sends when a frame exceeds max_size


class _Attempt(asyncio.Event):
    """Set when a connection attempt ends (either way), or after its timeout."""

    timed_out = False

    def time_out(self) -> None:
        if not self.is_set():
            self.timed_out = True
            self.set()


class RelaySocket:
    """See the module docstring. ``ws`` is the open socket, or None between sessions."""

    def __init__(self, url: str, options: PoolOptions, owner: SocketOwner) -> None:
        self.url = url
        self.options = options
        self.owner = owner
        self.ws: ClientConnection | None = None
        self.last_error: str | None = None
        self.last_alive = 0.0  # wall-clock time of the last frame received
        self.backoff = Backoff(options.backoff_base, options.backoff_max)
        self._warned_oversize = False
        self._supervisor: asyncio.Task[None] | None = None
        self._attempt: _Attempt | None = None
        self._wake = asyncio.Event()
        self._waiters = 0
        self._closed = False

    def wake(self) -> None:
        """Something needs the relay: start the supervisor, or cut its backoff short."""
        if self._closed:
            return
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"relay {self.url}"
            )
        self._wake.set()

    def _wanted(self) -> bool:
        return not self._closed and (self._waiters > 0 or self.owner.wanted())

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
                    self.owner.unreachable(self.last_error or "unreachable")
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

    def _hold(self, reason: str) -> None:
        """The relay sent a frame over our limit: hold it off and say so once."""
        delay = self.backoff.hold(reason)
        self.last_error = reason
        if not self._warned_oversize:
            self._warned_oversize = True
            log.warning("%s %s; retrying in %.0fs at the earliest", self.url, reason, delay)
        self.owner.unreachable(reason)

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
        return ws

    async def _serve(self, ws: ClientConnection) -> str | None:
        """Read until the connection ends; the reason when the relay broke our size limit.

        A subscription whose reader has fallen ``queue_limit`` events behind pauses the
        reading (and so, through TCP, the relay) until the reader catches up.
        """
        # Publish the socket and let the owner snapshot what to re-send in one synchronous
        # step: whatever is attached after that sends its own REQ.
        self.ws = ws
        self._finish_attempt()
        too_big = None
        try:
            await self.owner.opened(ws)
            while True:
                # Bytes, undecoded: orjson reads UTF-8 (and rejects it when invalid) faster
                # than websockets can decode it to a str that orjson would encode again.
                raw = await ws.recv(decode=False)
                self.last_alive = time.time()
                try:
                    behind = self.owner.received(raw)
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
            self.ws = None
            log.info("%s: disconnected", self.url)
            self.owner.lost(self.last_alive)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        return too_big

    async def connected(self, stale: ClientConnection | None = None) -> ClientConnection:
        """The open socket, connecting now if needed; :class:`RelayDown` after one failed
        attempt. ``stale`` is a socket the caller saw fail: wait for a new one instead."""
        if self._closed:
            raise RelayDown("pool is closed")
        if self.ws is not None and self.ws is not stale:
            return self.ws
        if self.backoff.held is not None:
            self.wake()
            raise RelayDown(self.backoff.held)
        attempt = self._attempt
        if attempt is None or attempt.is_set():
            # One event and one timer per connection attempt, however many publishes wait.
            attempt = self._attempt = _Attempt()
            asyncio.get_running_loop().call_later(
                self.options.connect_timeout + 1, attempt.time_out
            )
            self.wake()
        self._waiters += 1
        try:
            await attempt.wait()
        finally:
            self._waiters -= 1
        if attempt.timed_out:
            timeout = self.options.connect_timeout
            raise RelayDown(f"no connection within {timeout:g}s", timed_out=True)
        if self.ws is None or self.ws is stale:
            message = self.last_error or "unreachable"
            raise RelayDown(message, timed_out=message.startswith("no connection within"))
        return self.ws

    async def close(self) -> None:
        """Stop reconnecting and close the socket."""
        self._closed = True
        self._wake.set()
        supervisor = self._supervisor
        if supervisor is not None and not supervisor.done():
            supervisor.cancel()
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        if supervisor is not None:
            with contextlib.suppress(BaseException):
                await supervisor
        self._finish_attempt()
