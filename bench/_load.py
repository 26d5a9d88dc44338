"""Load-generator plumbing for bench.relay: a lean websocket client and worker processes.

The client is a bare :class:`asyncio.Protocol` rather than the ``websockets`` client: a
benchmark that receives tens of thousands of frames a second must not spend its CPU on a
coroutine, a future and a queue per message. Server frames are unmasked, so parsing them
is a few slices; client frames are masked with ``websockets``' C ``apply_mask``. No
extension is offered, so neither relay compresses. Every socket goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
import time
from array import array
from typing import Any

import orjson

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the C extension ships in the wheels

    def apply_mask(data: bytes, mask: bytes) -> bytes:
        n = len(data)
        key = int.from_bytes(mask * (n // 4 + 1), "little") & ((1 << (8 * n)) - 1)
        return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


HOST = "127.0.0.1"  # the only address this benchmark ever connects to
_FANOUT_MARK = b'"bench-fanout '


def loop_name(use_uvloop: bool) -> str:
    if use_uvloop:
        try:
            import uvloop

            return f"uvloop {uvloop.__version__}"
        except ImportError:
            pass
    return "asyncio (pip install uvloop for a lighter load generator)"


def run(coro: Any, use_uvloop: bool = True) -> Any:
    """``asyncio.run`` on uvloop when it is installed: a third of the per-read CPU cost."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)


_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_randbytes = random.Random().randbytes


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked client frame."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    mask = _randbytes(4)
    return head + mask + apply_mask(payload, mask)


class WsClient(asyncio.Protocol):
    """A websocket client connection; subclasses override :meth:`handle` per message."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[WsClient] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: Any = None
        self.port = 0
        self._buf = bytearray()
        self._open = False
        self._frag: list[bytes] | None = None
        self._key = base64.b64encode(os.urandom(16))

    # -- asyncio callbacks ---------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        port = transport.get_extra_info("peername")[1]
        transport.write(
            b"GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (HOST.encode(), port, self._key)
        )

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._open and not self._handshake():
            return
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            size, hdr = b1 & 0x7F, 2
            if size == 126:
                if n - pos < 4:
                    break
                size, hdr = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif size == 127:
                if n - pos < 10:
                    break
                size, hdr = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            mask = None
            if b1 & 0x80:  # servers must not mask, but read it anyway
                mask, hdr = bytes(buf[pos + hdr : pos + hdr + 4]), hdr + 4
            end = pos + hdr + size
            if end > n:
                break
            payload = bytes(buf[pos + hdr : end])
            if mask is not None:
                payload = apply_mask(payload, mask)
            pos = end
            if not self._frame(b0, payload):
                break
        if pos:
            del buf[:pos]
        self.after_data()

    def _frame(self, b0: int, payload: bytes) -> bool:
        """One received frame (first byte ``b0``); False once it closed the connection."""
        opcode = b0 & 0x0F
        if opcode in (0x1, 0x2):
            if b0 & 0x80:
                self.handle(payload)
            else:
                self._frag = [payload]
        elif opcode == 0x0 and self._frag is not None:
            self._frag.append(payload)
            if b0 & 0x80:
                self.handle(b"".join(self._frag))
                self._frag = None
        elif opcode == 0x9:  # ping: both servers close connections that never pong
            self.transport.write(frame(payload, 0xA))
        elif opcode == 0x8:
            self.transport.write(frame(payload[:2], 0x8))
            self.transport.close()
            return False
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)
        self.lost()

    # -- for subclasses ------------------------------------------------------------

    def handle(self, payload: bytes) -> None:
        """One complete text or binary message."""

    def after_data(self) -> None:
        """Called once per received chunk, after its messages were handled."""

    def lost(self) -> None:
        """The connection is gone."""

    # -- helpers -------------------------------------------------------------------

    def _handshake(self) -> bool:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(buf[:end]).decode("latin-1")
        del buf[: end + 4]
        lines = head.split("\r\n")
        accept = base64.b64encode(hashlib.sha1(self._key + _GUID).digest()).decode()
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
        if " 101 " not in lines[0] + " " or headers.get("sec-websocket-accept") != accept:
            self.opened.set_exception(ConnectionError(f"handshake refused: {lines[0]!r}"))
            self.transport.close()
            return False
        self._open = True
        self.opened.set_result(self)
        return True

    @property
    def is_open(self) -> bool:
        return self._open and not self.closed.done()

    def send(self, payload: bytes) -> None:
        self.transport.write(frame(payload))

    def send_frames(self, frames: list[bytes]) -> None:
        self.transport.write(b"".join(frames))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(b"\x03\xe8", 0x8))
            self.transport.close()


async def connect(port: int, factory: Any, timeout: float = 10.0) -> Any:
    """Open a websocket to 127.0.0.1:port with a protocol made by ``factory()``."""
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(loop.create_connection(factory, HOST, port), timeout)
    try:
        await asyncio.wait_for(asyncio.shield(proto.opened), timeout)
    except BaseException:
        proto.transport.close()
        raise
    return proto


async def connect_many(port: int, factories: list[Any], parallel: int = 64) -> list[Any]:
    """Connect every factory, ``parallel`` handshakes at a time; failures come back as errors."""
    gate = asyncio.Semaphore(parallel)

    async def one(factory: Any) -> Any:
        async with gate:
            try:
                return await connect(port, factory, timeout=30.0)
            except (OSError, TimeoutError, ConnectionError) as exc:
                return exc

    return await asyncio.gather(*(one(f) for f in factories))


# ---- fan-out subscriber worker (a separate process) --------------------------------


class Subscriber(WsClient):
    """Holds one live subscription and records delivery latency per event."""

    def __init__(self, sub_id: str, tag: str, lat: array, seqs: array, errors: list[str]) -> None:
        super().__init__()
        self.seqs = seqs
        self.sub_id = sub_id
        self.req = orjson.dumps(["REQ", sub_id, {"kinds": [1], "#t": [tag]}])
        self.eose: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lat = lat
        self.errors = errors
        self.received = 0
        self.now = 0.0

    def data_received(self, data: bytes) -> None:
        self.now = time.time()  # one clock read per chunk: the moment the bytes arrived
        super().data_received(data)

    def handle(self, payload: bytes) -> None:
        if payload.startswith(b'["EVENT"'):
            # content is "bench-fanout <seq> <unix time sent>"; no JSON parse needed
            seq_at = payload.index(_FANOUT_MARK) + len(_FANOUT_MARK)
            start = payload.index(b" ", seq_at) + 1
            sent = float(payload[start : payload.index(b'"', start)])
            self.lat.append(self.now - sent)
            self.seqs.append(int(payload[seq_at : start - 1]))
            self.received += 1
        elif payload.startswith(b'["EOSE"'):
            if not self.eose.done():
                self.eose.set_result(None)
        elif len(self.errors) < 20 and not payload.startswith(b'["AUTH"'):
            self.errors.append(payload[:200].decode("utf-8", "replace"))

    def lost(self) -> None:
        if not self.eose.done():
            self.eose.set_exception(ConnectionError("closed before EOSE"))


def fanout_worker(
    port: int, first: int, count: int, tag: str, conn: Any, use_uvloop: bool = True
) -> None:
    """Process entry point: ``count`` subscribers; talks to the parent over ``conn``."""
    try:
        run(_fanout(port, first, count, tag, conn), use_uvloop)
    except BaseException as exc:
        conn.send(("error", repr(exc)))
        raise


async def _fanout(port: int, first: int, count: int, tag: str, conn: Any) -> None:
    loop = asyncio.get_running_loop()
    lat: array = array("d")
    seqs: array = array("l")
    errors: list[str] = []
    factories = [
        (lambda i=i: Subscriber(f"fan{i}", tag, lat, seqs, errors))
        for i in range(first, first + count)
    ]
    subs = [s for s in await connect_many(port, factories) if isinstance(s, Subscriber)]
    failed = count - len(subs)
    for s in subs:
        s.send(s.req)
    await asyncio.wait([s.eose for s in subs], timeout=60)
    ready = [s for s in subs if s.eose.done() and s.eose.exception() is None]
    conn.send(("ready", len(ready), failed, list(errors)))
    await loop.run_in_executor(None, conn.recv)  # "go": the publisher starts now
    cpu0 = time.process_time()
    _, expect, drain = await loop.run_in_executor(None, conn.recv)
    want = expect * len(ready)
    last, last_change = -1, time.monotonic()
    while True:
        got = sum(s.received for s in ready)
        if got >= want or not any(s.is_open for s in ready):
            break
        if got != last:
            last, last_change = got, time.monotonic()
        elif time.monotonic() - last_change > drain:
            break
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu0
    per_sub = [s.received for s in ready]
    for s in subs:
        s.close()
    conn.send(("done", lat.tobytes(), seqs.tobytes(), per_sub, cpu, list(errors)))
