"""The relay process: the websockets server, plain HTTP on the same port, and shutdown.

:class:`Relay` ties the pieces together (store, ingest, live index, connections) and
owns their lifecycle::

    async with Relay(config) as relay:       # opens the store, starts listening
        print(relay.url)                     # ws://127.0.0.1:<bound port>
        await relay.serve_until(stop_event)  # then a graceful stop

Plain HTTP requests (no ``Upgrade: websocket``) are answered in ``process_request``:
``Accept: application/nostr+json`` gets the NIP-11 document with CORS headers, other GETs
the request and society pages and feeds of relay/web.py (or, with ``[web] enabled =
false``, a one-page explanation at ``/``), ``OPTIONS`` a CORS preflight answer.

Graceful stop (SIGTERM/SIGINT in :mod:`~shieldmutual.relay.main`): stop listening,
refuse new EVENT/REQ, wait for in-flight saves to commit and their OKs to reach the
clients, close every connection with 1001, then close the store (which commits
whatever is still queued and checkpoints the WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import html
import http
import logging
import time
from collections.abc import Awaitable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson
import platformdirs
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from shieldmutual.relay import nip11, policy
from shieldmutual.relay.backfill import Gate
from shieldmutual.relay.config import Config
from shieldmutual.relay.connection import Connection
from shieldmutual.relay.ingest import Ingest, Verifier
from shieldmutual.relay.logs import LogLimiter
from shieldmutual.relay.mirror import Mirror
from shieldmutual.relay.outgoing import WRITE_BUFFER, Outgoing
from shieldmutual.relay.store.base import EventStore
from shieldmutual.relay.store.factory import store_for
from shieldmutual.relay.subscriptions import Index
from shieldmutual.relay.trim import Trimmer
from shieldmutual.relay.web import Web, base_url
from shieldmutual.shared.relayurl import LOOPBACK_NAMES, relay_address

if TYPE_CHECKING:
    from shieldmutual.relay.fanout_pg import PgFanout

log = logging.getLogger("shieldmutual.relay")

NOSTR_JSON = "application/nostr+json"
CORS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Headers", "*"),
    ("Access-Control-Allow-Methods", "GET, OPTIONS"),
)
PING_TIMEOUT = 20.0
NO_HEADERS = Headers()  # an open connection's request headers: one shared, never written
_ANY = frozenset({"0.0.0.0", "::", ""})
_ANY_OR_LOOPBACK = LOOPBACK_NAMES | _ANY


def default_db_path() -> Path:
    """``relay.db`` in the platform's per-user data directory."""
    return Path(platformdirs.user_data_dir("shieldmutual")) / "relay.db"


def db_path(config: Config) -> Path:
    path = Path(config.server.db).expanduser() if config.server.db else default_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def http_response(status: int, body: bytes, content_type: str, *extra: tuple[str, str]) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            *extra,
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def _html_page(config: Config, nip11_doc: dict[str, object]) -> bytes:
    info = config.info
    nips = ", ".join(str(n) for n in nip11.SUPPORTED_NIPS)
    text = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(info.name)}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5">
<h1>{html.escape(info.name)}</h1>
<p>{html.escape(info.description)}</p>
<p>This is a <a href="https://github.com/nostr-protocol/nips">Nostr</a> relay. Add this
page's address (with <code>ws://</code> or <code>wss://</code> instead of
<code>http://</code> or <code>https://</code>) to a Nostr client, or use
<code>mas</code>, the Shield Mutual command line.</p>
<p>Supported NIPs: {nips}. Software: {html.escape(str(nip11_doc.get("software", "")))}
{html.escape(str(nip11_doc.get("version", "")))}.</p>
</body></html>
"""
    return text.encode("utf-8")


class Relay:
    """One relay: a store, the ingest pipeline, the live index and its connections."""

    def __init__(
        self, config: Config, store: EventStore | None = None, *, worker: int | None = None
    ) -> None:
        self.config = config
        # Which of `mas-relay --workers N` this is (None: the only process). Workers share
        # the port (SO_REUSEPORT) and say their number in the Server header, nothing else.
        self.worker = worker
        server = config.server
        self.store: EventStore = store or store_for(config, db_path)
        self.index = Index()
        self.backfills = Gate()  # REQs' stored results, a bounded number of clients at once
        # Processes sharing one PostgreSQL database hear each other's live events.
        self.fanout: PgFanout | None = None
        if config.store.url:
            from shieldmutual.relay.fanout_pg import PgFanout  # asyncpg only when configured

            self.fanout = PgFanout(config.store.url, self.index)
        self.verifier = Verifier(server.verify_threads)
        fanout = self.fanout or self.index
        self.ingest = Ingest(self.store, fanout, policy.build(config), self.verifier)
        self.filter_rules = policy.build_filter_rules(config)
        self.connections: set[Outgoing[Any]] = set()
        # Bytes held for all connections (each charges its own budget and this sum).
        self.held = 0
        self.max_memory = server.max_memory
        self.trimmer = Trimmer()
        self.logs = LogLimiter(log)
        # (host, port) pairs a NIP-42 AUTH event may name: set once listening.
        self.addresses: frozenset[tuple[str, int | None]] = frozenset()
        self.stopping = False
        self._server: Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.mirror: Mirror | None = None
        self._stopped: asyncio.Future[None] | None = None
        self.web = Web(config, self.store) if config.web.enabled else None
        doc = nip11.document(config)
        self._nip11 = orjson.dumps(doc)
        self._html = _html_page(config, doc)

    # ---- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, then start listening."""
        server = self.config.server
        await self.store.open()
        try:
            if self.fanout is not None:  # before listening, so every accepted event is heard
                await self.fanout.start()
            self._server = await self._serve()
        except BaseException:  # port taken, bad address...: leave nothing half-open
            if self.fanout is not None:
                await self.fanout.close()
            await self.store.close()
            self.verifier.close()
            raise
        self.addresses = self._auth_addresses()
        if self.web is not None:  # its links need the bound port when none is configured
            pages = base_url(self.config, f"http://{self.host}:{self.port}")
            self.web.start(pages, server.url or self.url)
            self._nip11 = orjson.dumps(nip11.document(self.config, pages))
        if server.expire_interval:
            self._sweeper = asyncio.create_task(self._sweep(server.expire_interval))
        # One mirror per set of workers: what worker 1 copies reaches the others live.
        if self.config.mirror.peers and self.worker in (None, 1):
            # After listening: it skips a peer URL naming us.
            self.mirror = Mirror(self)
            self.mirror.start()

    async def _serve(self) -> Server:
        server = self.config.server
        ping = server.ping_interval or None
        return await serve(
            self._handler,
            server.host,
            server.port,
            process_request=self._process_request,
            compression="deflate" if server.compression else None,
            # Messages up to twice the advertised limit get a NOTICE; larger ones
            # close the connection (1009) before they are even buffered.
            max_size=2 * self.config.limits.max_message_length,
            max_queue=16,
            write_limit=WRITE_BUFFER,
            ping_interval=ping,
            ping_timeout=PING_TIMEOUT if ping else None,
            close_timeout=server.close_timeout,
            server_header="mas-relay" + ("" if self.worker is None else f" (worker {self.worker})"),
            reuse_port=self.worker is not None,
            logger=logging.getLogger("websockets.server"),
        )

    @property
    def host(self) -> str:
        assert self._server is not None, "the relay is not started"
        host = self._server.sockets[0].getsockname()[0]
        return f"[{host}]" if ":" in host else host

    @property
    def port(self) -> int:
        assert self._server is not None, "the relay is not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``ws://HOST:PORT`` with the port actually bound (useful with port 0)."""
        return f"ws://{self.host}:{self.port}"

    def _auth_addresses(self) -> frozenset[tuple[str, int | None]]:
        """The relay's own names for AUTH: the configured public URLs, else where it
        listens. Never a client's Host header, or a relay at evil.example could pass our
        challenge to a victim and replay the AUTH (naming evil.example) here."""
        server = self.config.server
        configured = {server.url, *server.urls} - {""}
        if configured:
            return frozenset(a for url in configured if (a := relay_address(url)) is not None)
        hosts = {server.host.strip("[]").lower()}
        if hosts & _ANY_OR_LOOPBACK:
            hosts |= LOOPBACK_NAMES
        if hosts & _ANY:
            log.warning(
                "no [server] url set: AUTH accepts only ws://localhost:%d; set url to the"
                " address clients use",
                self.port,
            )
        names = (f"[{h}]" if ":" in h else h for h in hosts - _ANY)
        return frozenset(a for h in names if (a := relay_address(f"ws://{h}:{self.port}")))

    def reclaim(self) -> None:
        """Over ``[server] max_memory``: close the connection holding the most.

        Refusing new REQs instead would not bound what open subscriptions keep piling
        up (live events for slow readers); closing the biggest holder frees memory at
        once and lands on whoever takes the most, not on the many light clients.
        Connections already closing are letting go of theirs and do not count.
        """
        releasing = 0
        biggest: Outgoing[Any] | None = None
        for conn in self.connections:
            if conn.closing:
                releasing += conn.held
            elif biggest is None or conn.held > biggest.held:
                biggest = conn
        if biggest is not None and self.held - releasing > self.max_memory:
            biggest.too_slow(f"the relay is over its memory budget of {self.max_memory} bytes")

    async def stop(self) -> None:
        """Graceful stop; idempotent (later callers wait for the first)."""
        if self._stopped is not None:
            await asyncio.shield(self._stopped)
            return
        self._stopped = asyncio.get_running_loop().create_future()
        try:
            await self._stop()
        finally:
            self._stopped.set_result(None)

    async def _stop(self) -> None:
        self.stopping = True
        timeout = self.config.server.shutdown_timeout
        if self._server is not None:
            self._server.server.close()  # stop accepting; open connections stay
        if self.mirror is not None:
            await self.mirror.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.ingest.finish(timeout)  # the events being saved are answered
        if self.connections:
            flush = min(timeout, 2.0)
            await asyncio.gather(*(c.shutdown(flush) for c in list(self.connections)))
        if self._server is not None:
            self._server.close(code=CloseCode.GOING_AWAY, reason="relay shutting down")
            try:
                await asyncio.wait_for(self._server.wait_closed(), timeout)
            except TimeoutError:
                log.warning("connections still open after %gs; closing anyway", timeout)
        if self.fanout is not None:  # after the last save: its event is announced too
            await self.fanout.close()
        await self.store.close()
        self.verifier.close()
        if self.web is not None:
            self.web.close()

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def serve_until(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then stop gracefully."""
        await stop.wait()
        await self.stop()

    async def _sweep(self, interval: float) -> None:
        """NIP-40: expired events are never served (the store filters them out of every
        query); this only reclaims their space now and then."""
        while True:
            await asyncio.sleep(interval)
            try:
                removed = await self.store.delete_expired(int(time.time()))
            except Exception:
                log.exception("could not remove expired events")
            else:
                if removed:
                    log.info("removed %d expired events", removed)

    # ---- connections -----------------------------------------------------------

    async def _handler(self, ws: ServerConnection) -> None:
        # The handshake's response and request headers (~1.5 KB each, more from a browser)
        # are of no use once the connection is open, and idle connections are many; nor
        # is a proxy's X-Forwarded-For kept. (The request stays: websockets tells an open
        # connection by it.)
        ws.response = None
        if ws.request is not None:
            ws.request.headers = NO_HEADERS
        await Connection(self, ws).run()

    def _process_request(
        self, _ws: ServerConnection, request: Request
    ) -> Response | Awaitable[Response] | None:
        """Plain HTTP on the websocket port: NIP-11, a page for browsers, CORS."""
        headers = request.headers
        if headers.get("Upgrade", "").lower() == "websocket":
            if self.stopping:
                return http_response(503, b"shutting down\n", "text/plain; charset=utf-8")
            limit = self.config.server.max_connections
            if limit and len(self.connections) >= limit:
                return http_response(503, b"too many connections\n", "text/plain; charset=utf-8")
            return None  # carry on with the websocket handshake
        method = getattr(request, "method", "GET")
        if method == "OPTIONS":
            return http_response(204, b"", "text/plain; charset=utf-8", *CORS)
        if method != "GET":
            return http_response(405, b"method not allowed\n", "text/plain; charset=utf-8")
        if NOSTR_JSON in headers.get("Accept", ""):
            return http_response(200, self._nip11, NOSTR_JSON, *CORS)
        if self.web is not None:
            return self._page(request)
        if request.path.split("?", 1)[0] == "/":
            return http_response(200, self._html, "text/html; charset=utf-8")
        return http_response(404, b"not found\n", "text/plain; charset=utf-8")

    async def _page(self, request: Request) -> Response:
        """A request or society page or feed (relay/web.py), off the websocket path."""
        assert self.web is not None
        status, body, content_type, extra = await self.web.answer(request.path, request.headers)
        return http_response(status, body, content_type, *extra)
