"""The sending side of a connection, and the memory budget that bounds it.

Frames are framed as soon as they are ready and written to the socket once per loop
iteration, all of a connection's frames together (see :meth:`Outgoing.send`). Without
a negotiated extension (no permessage-deflate) a server frame is just a header and the
payload, so the header is built here and a live event's shared pieces are written with
no copy per subscriber until the one join per socket (:meth:`Outgoing.send_event`);
with compression websockets' sans-I/O protocol frames them. When the socket's write
buffer is full they wait instead in a queue drained by a writer task.

Every byte the relay holds for a connection is charged to one budget (``[server]
max_connection_memory``) through :meth:`Outgoing.hold`: frames queued or framed but not
yet written (here), live events held back until a subscription's EOSE
(:mod:`~shieldmutual.relay.subscriptions`) and the page of stored results in flight
(:mod:`~shieldmutual.relay.connection`). Over the budget the connection is closed (1008)
and all of it released at once. The relay keeps the sum against ``[server] max_memory``
(:meth:`Relay.reclaim <shieldmutual.relay.server.Relay.reclaim>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import struct
from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import Generic, Protocol, TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from shieldmutual.relay.config import Config
from shieldmutual.relay.logs import LogLimiter

# Bytes in a socket's write buffer below which frames skip the queue (websockets'
# write_limit, set in server.py, is the high-water mark the queued path waits on).
WRITE_BUFFER = 2**16
_HEAD16 = struct.Struct("!BBH")
_HEAD64 = struct.Struct("!BBQ")


@functools.lru_cache(maxsize=4096)  # per delivery; a live event's frames share their sizes
def text_header(size: int) -> bytes:
    """The header of one final, unmasked text frame (RFC 6455 5.2) of ``size`` bytes."""
    if size < 126:
        return bytes((0x81, size))
    if size < 65536:
        return _HEAD16.pack(0x81, 126, size)
    return _HEAD64.pack(0x81, 127, size)


class Budget(Protocol):
    """What the sending side needs of the relay: its config, logs and the memory sum."""

    @property
    def config(self) -> Config: ...

    @property
    def logs(self) -> LogLimiter: ...

    @property
    def max_memory(self) -> int: ...

    held: int  # bytes held for all connections

    def reclaim(self) -> None:
        """Over ``max_memory``: close the connection holding the most."""


B = TypeVar("B", bound=Budget)


class Outgoing(Generic[B]):
    """Frames to one client and the bytes held for it; :class:`Connection
    <shieldmutual.relay.connection.Connection>` adds everything else. ``relay`` is
    whatever relay-side object the subclass needs (a :class:`Budget` at least)."""

    # Slots: one of these per open connection, ten thousand idle ones included.
    __slots__ = (
        "_batch",
        "_closer",
        "_drained",
        "_flush_scheduled",
        "_space",
        "_unflushed",
        "_wakeup",
        "_writer",
        "closing",
        "held",
        "max_held",
        "number",
        "out",
        "out_bytes",
        "peak",
        "relay",
        "ws",
    )

    def __init__(self, relay: B, ws: ServerConnection, number: int) -> None:
        self.relay = relay
        self.ws = ws
        self.number = number
        self.held = 0
        self.peak = 0  # the most it ever held: worth a malloc trim when it leaves
        self.max_held = relay.config.server.max_connection_memory
        # Frames waiting for the writer task; created with it (most connections never queue).
        self.out: deque[bytes] | None = None
        self.out_bytes = 0
        # Frames (header and payload pieces) of the fast path when we frame them ourselves,
        # written at the iteration's end; None when websockets frames them (compression).
        self._batch: list[bytes] | None = None if ws.protocol.extensions else []
        self._unflushed = 0  # bytes framed on the fast path, written at the iteration's end
        self._space = 0  # of those, how many fit in the socket's buffer this iteration
        self._flush_scheduled = False
        self.closing = False
        self._closer: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._drained: list[asyncio.Future[None]] = []

    def hold(self, size: int) -> None:
        """Charge ``size`` bytes to this connection; over its budget it is closed."""
        held = self.held = self.held + size
        if held > self.peak:
            self.peak = held
        relay = self.relay
        relay.held += size
        if held > self.max_held or relay.held > relay.max_memory:
            self._over()

    def _over(self) -> None:
        if self.held > self.max_held:
            self.too_slow(f"over its memory budget of {self.max_held} bytes")
        else:
            self.relay.reclaim()

    def release(self, size: int) -> None:
        """Give back bytes charged with :meth:`hold` (sent, saved or dropped)."""
        self.held -= size
        self.relay.held -= size

    def too_slow(self, why: str) -> None:
        """The client does not read what it asked for: close it (1008) and let go of
        everything held for it, logged once per connection and rate-limited."""
        if self.closing:
            return
        self.relay.logs.log(
            logging.INFO, "too slow", "connection %d: closing it, %s", self.number, why
        )
        self.close(CloseCode.POLICY_VIOLATION, f"too slow: {why}")

    # ---- outgoing --------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Send or queue a frame; never waits. Going over the memory budget closes the
        connection.

        Fast path: with nothing queued and room in the socket's write buffer, the frame
        is framed right away and written to the socket at the end of this loop iteration
        together with every other frame framed for this connection meanwhile: one system
        call per connection per burst (after a batch commit, one per subscriber for the
        whole batch) and no task switch. The slow path queues the frame for the writer
        task, which honours flow control.
        """
        if self.closing:
            return
        size = len(frame)
        self.hold(size)
        if self.closing:  # that was over the budget, which let go of everything
            self.release(size)
            return
        if not self.out:
            ws = self.ws
            if not self._flush_scheduled:
                transport = ws.transport
                if ws.protocol.state is State.OPEN and not transport.is_closing():
                    self._space = WRITE_BUFFER - transport.get_write_buffer_size()
                    self._flush_scheduled = True
                    asyncio.get_running_loop().call_soon(self._flush)
                else:
                    self._space = 0
            if self._unflushed + size < self._space and ws.protocol.state is State.OPEN:
                if self._batch is None:
                    ws.protocol.send_text(frame)
                else:
                    self._batch += (text_header(size), frame)
                self._unflushed += size
                return
        out = self.out
        if out is None:
            out = self.out = deque()
        out.append(frame)
        self.out_bytes += size
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
        elif self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def send_event(self, prefix: bytes, tail: bytes) -> None:
        """:meth:`send` of ``prefix + tail``: a live event's frame, whose two pieces are
        shared by every subscription with that prefix and every subscriber of the event.

        The hot path of fan-out: once this iteration's flush is scheduled the frame is
        only charged and its pieces listed; the rest is :meth:`send`'s.
        """
        size = len(prefix) + len(tail)
        batch = self._batch
        if (
            self._flush_scheduled
            and batch is not None
            and self._unflushed + size < self._space
            and not self.out
            and not self.closing
        ):
            self.hold(size)
            if self.closing:
                self.release(size)
                return
            batch += (text_header(size), prefix, tail)
            self._unflushed += size
            return
        self.send(prefix + tail)

    def send_events(self, prefix: bytes, raws: Sequence[bytes], start: int = 0) -> int:
        """:meth:`send` of ``prefix + raw + b"]"`` for each of ``raws[start:]`` while they
        fit in this iteration's write: a page of stored events is charged once and
        listed as pieces, no frame copied until the one join per socket (issue 15).
        Returns how many were sent, at least one; the caller sends the rest once its
        pace allows."""
        self.send(prefix + raws[start] + b"]")
        batch = self._batch
        if batch is None or self.out or not self._flush_scheduled:
            return 1  # compression, or queued: one frame at a time, as send() does
        room = self._space - self._unflushed
        pieces: list[bytes] = []
        total = 0
        for raw in islice(raws, start + 1, None):
            size = len(prefix) + len(raw) + 1
            if total + size >= room:
                break
            pieces += (text_header(size), prefix, raw, b"]")
            total += size
        self.hold(total)
        if self.closing:  # over the budget, which let go of everything
            self.release(total)
            return len(raws) - start
        batch += pieces
        self._unflushed += total
        return 1 + len(pieces) // 4

    def _flush(self) -> None:
        """Write every frame framed for this socket in one call."""
        self._flush_scheduled = False
        self.release(self._unflushed)
        self._unflushed = 0
        batch = self._batch
        if batch:
            self._batch = []
        transport = self.ws.transport
        if transport.is_closing():
            return
        protocol = self.ws.protocol
        chunks = protocol.data_to_send()
        data = b"".join(chunks)
        # Ours go only while the connection is open: nothing may follow a close frame.
        if batch and protocol.state is State.OPEN:
            data += b"".join(batch)
        if data:
            transport.write(data)
        if b"" in chunks and transport.can_write_eof():  # end of stream after a close
            transport.write_eof()

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self._release_all()
        self._closer = asyncio.get_running_loop().create_task(self._close(code, reason))

    def _release_all(self) -> None:
        """Let go of everything held for the connection; it is going away."""
        if self.out:
            self.out.clear()
        self.release(self.out_bytes)
        self.out_bytes = 0

    async def _close(self, code: int, reason: str) -> None:
        # websockets' close() first drains the write buffer, which never happens when
        # the client stopped reading: give it close_timeout, then drop the TCP stream.
        if self._flush_scheduled:
            self._flush()  # what was sent before the close goes before the close frame
        try:
            async with asyncio.timeout(self.relay.config.server.close_timeout or None):
                await self.ws.close(code, reason)
        except TimeoutError:
            self.ws.transport.abort()

    async def shutdown(self, flush_timeout: float) -> None:
        """For the relay's stop: send what is queued (OKs of committed events), then
        close with 1001."""
        await self.flush(flush_timeout)
        if not self.closing:
            self.closing = True
            await self._close(CloseCode.GOING_AWAY, "relay shutting down")

    async def _write(self) -> None:
        ws = self.ws
        out = self.out
        assert out is not None, "the writer starts once a frame is queued"
        loop = asyncio.get_running_loop()
        low = self.max_held // 8
        stall = self.relay.config.server.stall_timeout or None
        try:
            while True:
                while out:
                    frame = out.popleft()
                    self.out_bytes -= len(frame)
                    self.release(len(frame))
                    if self._flush_scheduled:
                        self._flush()  # frames of the fast path are older than this one
                    try:
                        async with asyncio.timeout(stall):
                            await ws.send(frame, text=True)
                    except TimeoutError:
                        # Held to its budget a stalled client costs little, but it
                        # would keep its results and slot forever: time it out.
                        self.too_slow(f"nothing read for {stall:g} s")
                        self._wake_drained()  # its waiters see the connection closing
                        return
                    if self._drained and self.out_bytes <= low:
                        self._wake_drained()
                self._wake_drained()
                self._wakeup = loop.create_future()
                await self._wakeup
                self._wakeup = None
        except ConnectionClosed:
            self.closing = True
            self._wake_drained()

    def _wake_drained(self) -> None:
        waiters, self._drained = self._drained, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    async def wait_drained(self) -> None:
        if self.closing:
            raise ConnectionClosed(None, None)
        future = asyncio.get_running_loop().create_future()
        self._drained.append(future)
        await future
        if self.closing:
            raise ConnectionClosed(None, None)

    async def flush(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until every queued frame went to the socket."""
        if self.out and not self.closing:
            future = asyncio.get_running_loop().create_future()
            self._drained.append(future)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
