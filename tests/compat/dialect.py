"""A small relay that speaks strfry's dialect: a record of what strfry does, for tests.

Read from upstream strfry (hoytech/strfry f8a56a8, ``src/apps/relay/``) with the stock
``strfry.conf``: NIP-42 on, ``restrictedReadKinds = "4, 1059"``,
``restrictReadToInvolvedPubkey = true``. Each behaviour below names where strfry does it.

NIP-42 (RelayIngester.cpp ``ingesterProcessReq``, ``ingesterProcessAuth``)
  * No challenge on connect. The first REQ whose every filter names only restricted kinds
    (``ReadRestrictor::isFilterGroupFullyRestricted``) from a connection that has no
    session gets ``["AUTH", challenge]`` and then, in the same breath,
    ``["CLOSED", sub, "ERROR: auth-required: requested filter requires authentication"]``.
    A client must AUTH and send the REQ again: nothing is retried by the relay. (Issue 17
    speaks of a challenge on connect; strfry sends none, as test_dialect.py checks
    against the binary: the AUTH it saw arrives just before the CLOSED.)
  * A REQ that mixes restricted and other kinds, or names no kinds, is served, but events
    of restricted kinds are silently left out unless the reader is authenticated as their
    author or as a ``p`` of theirs (``shouldSendToSubscriber``), stored and live alike.
  * AUTH before any challenge: ``OK false "error: no auth status available for
    connection"``; the relay tag is compared by host and port only, lower-cased
    (``normalizeRelayUrl``); success is ``OK true "successfully authenticated"``.
  * An event with a NIP-70 ``-`` tag is refused ``auth-required: event marked as
    protected`` (a challenge first if there was none) unless the author is authenticated.

Messages (RelayServer.h ``sendNoticeError``, ``sendClosedError``; RelayWriter.cpp)
  * Every NOTICE and every CLOSED carries ``ERROR: `` before NIP-01's prefix:
    ``ERROR: bad msg: ...``, ``ERROR: bad req: ...``, ``ERROR: auth-required: ...``.
  * OK false uses NIP-01 prefixes (``invalid: bad signature``) plus two of its own:
    ``replaced: have newer event`` and ``deleted: user requested deletion``;
    a duplicate is ``OK true "duplicate: have this event"``; a stored event ``OK true ""``.
  * No NIP-50: a ``search`` field is ``bad req: unrecognised filter item: search``.
    ``limit`` is cut to 500 without a word; COUNT answers ``{"count": n}``.

NIP-11 (RelayWebsocket.cpp ``onHttpRequest``, ``preGenerateHttpResponse``)
  * HTTP/1.1 on the websocket port, ``Connection: keep-alive`` with ``Content-Length``:
    the connection stays open after the body, so a client reading to EOF waits forever.
  * The document only when ``Accept`` is exactly ``application/nostr+json``; any other
    request gets the HTML landing page.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from typing import Any

import orjson
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from shieldmutual.shared import kinds
from shieldmutual.shared.errors import ShieldError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

RESTRICTED_READ_KINDS = frozenset({4, 1059})
MAX_FILTER_LIMIT = 500
NIP11 = {
    "supported_nips": [1, 2, 4, 9, 11, 28, 40, 42, 45, 59, 70, 77],
    "software": "git+https://github.com/hoytech/strfry.git",
    "version": "dialect-of-f8a56a8",
    "negentropy": 1,
    "limitation": {"max_message_length": 131072, "max_subscriptions": 200, "max_limit": 500},
    "name": "strfry default",
    "description": "This is a strfry instance.",
}
LANDING = b"<!DOCTYPE html><html><body>strfry dialect relay</body></html>"


def _http(content_type: str, body: bytes) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\n"
        f"Content-Type: {content_type}\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "Connection: keep-alive\r\n"
        "Server: strfry\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _host(url: str) -> str:
    """strfry's ``normalizeRelayUrl``: scheme and path dropped, lower-cased."""
    rest = url.split("://", 1)[-1]
    for stop in "/?#":
        rest = rest.split(stop, 1)[0]
    return rest.lower()


def _address(event: Event) -> tuple[Any, ...] | None:
    if kinds.is_replaceable(event.kind):
        return (event.pubkey, event.kind)
    if kinds.is_addressable(event.kind):
        return (event.pubkey, event.kind, event.d_tag)
    return None


class _Conn:
    """One websocket client: its subscriptions and its NIP-42 session."""

    def __init__(self, protocol: ServerProtocol, writer: asyncio.StreamWriter) -> None:
        self.protocol = protocol
        self.writer = writer
        self.subs: dict[str, list[Filter]] = {}
        self.challenge: str | None = None
        self.authed: str | None = None

    def send(self, *message: Any) -> None:
        self.protocol.send_text(orjson.dumps(list(message)))
        self.flush()

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)
            elif self.writer.can_write_eof():
                self.writer.write_eof()

    def may_see(self, event: Event) -> bool:
        """strfry's ``shouldSendToSubscriber`` with ``restrictReadToInvolvedPubkey``."""
        if event.kind not in RESTRICTED_READ_KINDS:
            return True
        if self.authed is None:
            return False
        return self.authed == event.pubkey or self.authed in event.tag_values("p")


class DialectRelay:
    """``with DialectRelay() as relay:`` serves ``relay.url`` from a thread of its own."""

    def __init__(self) -> None:
        self.events: dict[str, Event] = {}
        self.conns: set[_Conn] = set()
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> DialectRelay:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the dialect relay did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # HTTP/1.1 keep-alive: one request after another until upgraded
                head = await reader.readuntil(b"\r\n\r\n")
                if b"upgrade: websocket" in head.lower():
                    await self._websocket(head, reader, writer)
                    return
                writer.write(self._http_answer(head))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _http_answer(self, head: bytes) -> bytes:
        lines = head.decode("latin-1").split("\r\n")[1:]
        fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        if fields.get("accept") == "application/nostr+json":  # exact, as strfry compares
            return _http("application/json", orjson.dumps(NIP11))
        return _http("text/html", LANDING)

    async def _websocket(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        protocol = ServerProtocol()
        protocol.receive_data(head)
        (request,) = protocol.events_received()
        assert isinstance(request, Request)
        protocol.send_response(protocol.accept(request))
        conn = _Conn(protocol, writer)
        conn.flush()
        self.conns.add(conn)
        try:
            while data := await reader.read(65536):
                protocol.receive_data(data)
                for frame in protocol.events_received():
                    if isinstance(frame, Frame) and frame.opcode is Opcode.TEXT:
                        self._message(conn, frame.data)
                conn.flush()
                await writer.drain()
        finally:
            self.conns.discard(conn)

    # ---- RelayIngester -------------------------------------------------------------

    def _message(self, conn: _Conn, payload: bytes) -> None:
        try:
            arr = orjson.loads(payload)
            if not isinstance(arr, list) or len(arr) < 2:
                raise ValueError("too few array elements")
            handlers = {"EVENT": self._event, "AUTH": self._auth, "CLOSE": self._close}
            handler = handlers.get(arr[0], self._req if arr[0] in ("REQ", "COUNT") else None)
            if handler is None:
                raise ValueError("unknown cmd")
            handler(conn, arr)
        except (ValueError, orjson.JSONDecodeError) as exc:
            conn.send("NOTICE", f"ERROR: bad msg: {exc}")

    def _verified(self, data: Any) -> Event:
        try:
            event = Event.from_dict(data)
        except ShieldError as exc:
            raise ValueError(str(exc)) from None
        if not event.id_matches():
            raise ValueError("bad event id")
        if not event.signature_valid():
            raise ValueError("bad signature")
        now = int(time.time())
        if event.created_at > now + 900:
            raise ValueError("created_at too late")
        if kinds.is_ephemeral(event.kind) and event.created_at < now - 60:
            raise ValueError("ephemeral event expired")
        return event

    def _event(self, conn: _Conn, arr: list[Any]) -> None:
        data = arr[1]
        event_id = data.get("id", "?") if isinstance(data, dict) else "?"
        try:
            event = self._verified(data)
        except ValueError as exc:
            conn.send("OK", event_id, False, f"invalid: {exc}")
            return
        if any(tag[0] == "-" for tag in event.tags) and conn.authed != event.pubkey:
            if conn.challenge is None:
                self._challenge(conn)
            conn.send("OK", event.id, False, "auth-required: event marked as protected")
            return
        accepted, message = self._store(event)
        conn.send("OK", event.id, accepted, message)
        if accepted and not message:
            self._broadcast(event)

    def _store(self, event: Event) -> tuple[bool, str]:
        """RelayWriter's outcomes: written, duplicate, replaced or deleted."""
        if event.id in self.events:
            return True, "duplicate: have this event"
        if self._deleted(event):
            return False, "deleted: user requested deletion"
        if kinds.is_ephemeral(event.kind):
            return True, ""
        address = _address(event)
        if address is not None:
            for old in [e for e in self.events.values() if _address(e) == address]:
                if (old.created_at, old.id) > (event.created_at, event.id):
                    return False, "replaced: have newer event"
                del self.events[old.id]
        if event.kind == kinds.DELETION:
            for old in [e for e in self.events.values() if self._deletes(event, e)]:
                del self.events[old.id]
        self.events[event.id] = event
        return True, ""

    @staticmethod
    def _deletes(deletion: Event, event: Event) -> bool:
        if deletion.pubkey != event.pubkey or event.kind == kinds.DELETION:
            return False
        if event.id in deletion.tag_values("e"):
            return True
        address = f"{event.kind}:{event.pubkey}:{event.d_tag}"
        named = kinds.is_addressable(event.kind) and address in deletion.tag_values("a")
        return named and event.created_at <= deletion.created_at

    def _deleted(self, event: Event) -> bool:
        return any(
            e.kind == kinds.DELETION and self._deletes(e, event) for e in self.events.values()
        )

    def _challenge(self, conn: _Conn) -> None:
        conn.challenge = secrets.token_hex(16)
        conn.send("AUTH", conn.challenge)

    def _auth(self, conn: _Conn, arr: list[Any]) -> None:
        data = arr[1]
        event_id = data.get("id", "?") if isinstance(data, dict) else "?"
        try:
            event = self._verified(data)
            if event.kind != kinds.CLIENT_AUTH:
                raise ValueError("wrong event kind, expected 22242")
            if conn.challenge is None:
                raise ValueError("no auth status available for connection")
            if conn.authed is not None:
                raise ValueError("already authenticated")
            if conn.challenge not in event.tag_values("challenge"):
                raise ValueError("challenge string mismatch")
            if _host(self.url) not in (_host(url) for url in event.tag_values("relay")):
                raise ValueError(f"incorrect or missing relay tag, expected: {self.url}")
        except ValueError as exc:
            conn.send("OK", event_id, False, f"error: {exc}")
            return
        conn.authed = event.pubkey
        conn.send("OK", event.id, True, "successfully authenticated")

    def _req(self, conn: _Conn, arr: list[Any]) -> None:
        sub = arr[1]
        if not isinstance(sub, str) or not 0 < len(sub) <= 64:
            conn.send("NOTICE", "ERROR: bad req: invalid subscription id length")
            return
        try:
            if len(arr) < 3:
                raise ValueError("arr too small")
            for raw in arr[2:]:
                if isinstance(raw, dict) and "search" in raw:
                    raise ValueError("unrecognised filter item: search")
            filters = [Filter.from_dict(raw) for raw in arr[2:]]
        except (ValueError, ShieldError) as exc:
            conn.send("CLOSED", sub, f"ERROR: bad req: {exc}")
            return
        restricted = all(f.kinds is not None and f.kinds <= RESTRICTED_READ_KINDS for f in filters)
        if restricted and conn.authed is None:
            if conn.challenge is None:
                self._challenge(conn)
            message = "auth-required: requested filter requires authentication"
            conn.send("CLOSED", sub, f"ERROR: {message}")
            return
        found: dict[str, Event] = {}
        for flt in filters:
            newest = sorted(self.events.values(), key=lambda e: (-e.created_at, e.id))
            matching = [e for e in newest if flt.matches(e) and conn.may_see(e)]
            limit = MAX_FILTER_LIMIT if flt.limit is None else min(flt.limit, MAX_FILTER_LIMIT)
            found.update((e.id, e) for e in matching[:limit])
        if arr[0] == "COUNT":
            conn.send("COUNT", sub, {"count": len(found)})
            return
        for event in sorted(found.values(), key=lambda e: (-e.created_at, e.id)):
            conn.send("EVENT", sub, event.to_dict())
        conn.send("EOSE", sub)
        conn.subs[sub] = filters

    def _close(self, conn: _Conn, arr: list[Any]) -> None:
        conn.subs.pop(arr[1], None)

    def _broadcast(self, event: Event) -> None:
        """RelayReqMonitor: live events to every matching subscription allowed to see them."""
        for conn in list(self.conns):
            if not conn.may_see(event):
                continue
            for sub, filters in conn.subs.items():
                if any(f.matches(event) for f in filters):
                    conn.send("EVENT", sub, event.to_dict())
