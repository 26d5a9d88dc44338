"""NIP-11 over real HTTP (issue 17): what `mas relays check` and the page lookup fetch.

Finding: strfry answers HTTP/1.1 keep-alive with a ``Content-Length`` and keeps the
connection open; the hand-written HTTP/1.0 client read until EOF and reported "no NIP-11
document within 5s". The server below answers the way strfry does (the document only for
an exact ``Accept: application/nostr+json``), and can misbehave as a test says.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from shieldmutual.client.errors import RelayError
from shieldmutual.client.relayinfo import MAX_REDIRECTS, fetch_info
from tests.certs import self_signed

DOCUMENT = {"name": "strfry default", "software": "git+https://github.com/hoytech/strfry.git"}


class KeepAliveServer:
    """HTTP/1.1 on 127.0.0.1 that never closes a connection first.

    ``redirect``: answer every request 302 to itself. ``endless``: send a chunked body
    that never ends. What it saw: ``requests`` (each request's header lines, lower-cased
    names)."""

    def __init__(self, *, redirect: bool = False, endless: bool = False) -> None:
        self.redirect = redirect
        self.endless = endless
        self.requests: list[dict[str, str]] = []
        self._writers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)  # a kept-alive connection stays open until the test ends
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                pairs = (line.partition(":") for line in head.split("\r\n")[1:])
                fields = {k.strip().lower(): v.strip() for k, _, v in pairs if k}
                self.requests.append(fields)
                if self.redirect:
                    writer.write(
                        b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"
                    )
                elif self.endless:
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    chunk = b"x" * 65536
                    while True:
                        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        await writer.drain()
                else:
                    exact = fields.get("accept") == "application/nostr+json"
                    body = orjson.dumps(DOCUMENT) if exact else b"<html>landing page</html>"
                    kind = "application/json" if exact else "text/html"
                    writer.write(
                        f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nConnection: keep-alive\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
                await writer.drain()

    @contextlib.asynccontextmanager
    async def serving(self, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"{'wss' if tls else 'ws'}://localhost:{port}"
        finally:
            server.close()
            for writer in self._writers:
                writer.close()


async def test_a_keep_alive_answer_with_content_length_is_read_at_once() -> None:
    server = KeepAliveServer()
    async with server.serving() as url:
        start = time.monotonic()
        assert await fetch_info(url, timeout=5) == DOCUMENT
        assert time.monotonic() - start < 2
    (request,) = server.requests
    assert request["accept"] == "application/nostr+json"
    assert "user-agent" not in request  # nothing that names the client software


async def test_redirects_are_followed_only_a_few_times() -> None:
    server = KeepAliveServer(redirect=True)
    async with server.serving() as url:
        with pytest.raises(RelayError, match="redirect"):
            await fetch_info(url, timeout=5)
    assert len(server.requests) == MAX_REDIRECTS + 1


async def test_an_endless_document_is_cut_off_past_the_size_limit() -> None:
    server = KeepAliveServer(endless=True)
    async with server.serving() as url:
        with pytest.raises(RelayError, match="too large"):
            await fetch_info(url, timeout=5)


def _server_context(tmp_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed(tmp_path))
    return context


async def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    server = KeepAliveServer()
    async with server.serving(tls=_server_context(tmp_path)) as url:
        with pytest.raises(RelayError, match="certificate"):
            await fetch_info(url, timeout=5)
    assert server.requests == []  # nothing was asked of a relay we could not verify


async def test_every_relay_asked_at_once_is_verified(tmp_path: Path) -> None:
    """The TLS context is built once per process and shared by every fetch (issue 15: one
    per relay cost `mas request new` ~20-30 ms of CPU per relay); shared, it still refuses
    each relay whose certificate it cannot verify, before asking anything."""
    servers = [KeepAliveServer() for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        urls = [
            await stack.enter_async_context(s.serving(tls=_server_context(tmp_path)))
            for s in servers
        ]
        for _ in range(2):
            results = await asyncio.gather(
                *(fetch_info(url, timeout=5) for url in urls), return_exceptions=True
            )
            assert all(isinstance(r, RelayError) and "certificate" in str(r) for r in results)
    assert all(server.requests == [] for server in servers)
