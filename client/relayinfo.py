"""Relay health: the NIP-11 information document, connect time and a Nostr round trip.

NIP-11 is fetched with a plain HTTP/1.0 GET over asyncio streams (no chunked bodies to
decode, no extra dependency, no User-Agent header), and the round trip is a REQ for an
event id that cannot exist, timed until its EOSE. Both dial through pool_connect, so a
``proxy`` (``--proxy``) carries them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from python_socks import ProxyError

from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool_connect import describe, open_stream, open_websocket
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.messages import (
    ClientClose,
    ClientReq,
    RelayClosed,
    RelayEose,
    parse_relay_message,
)

MAX_DOCUMENT = 256 * 1024


def info_url(relay: str) -> str:
    """``ws://h/p`` -> ``http://h/p``, ``wss://`` -> ``https://``."""
    scheme, rest = relay.split("://", 1)
    return ("https" if scheme == "wss" else "http") + "://" + rest


async def fetch_info(relay: str, timeout: float = 5.0, proxy: str | None = None) -> dict[str, Any]:
    """The relay's NIP-11 document; :class:`RelayError` when it cannot be had."""
    try:
        return await asyncio.wait_for(_fetch_info(relay, proxy), timeout)
    except TimeoutError:
        raise RelayError(f"{relay}: no NIP-11 document within {timeout:g}s") from None
    except (OSError, ValueError, ProxyError) as exc:  # ssl.SSLError is an OSError
        raise RelayError(f"{relay}: NIP-11: {describe(exc, timeout, proxy)}") from None


async def _fetch_info(relay: str, proxy: str | None) -> dict[str, Any]:
    parts = urlsplit(relay)
    secure = parts.scheme == "wss"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    reader, writer = await open_stream(host, port, proxy=proxy, tls=secure)
    try:
        host_header = parts.netloc.rsplit("@", 1)[-1]
        writer.write(
            f"GET {path} HTTP/1.0\r\nHost: {host_header}\r\n"
            "Accept: application/nostr+json\r\nConnection: close\r\n\r\n".encode("ascii")
        )
        await writer.drain()
        raw = b""
        while chunk := await reader.read(65536):
            raw += chunk
            if len(raw) > MAX_DOCUMENT + 16384:
                raise ValueError("document is too large")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[1].isdigit():
        raise ValueError("not an HTTP response")
    if fields[1] != "200":
        raise ValueError(f"HTTP {fields[1]}")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("the document is not JSON") from None
    if not isinstance(document, dict):
        raise ValueError("the document is not a JSON object")
    return document


@dataclass(slots=True)
class RelayCheck:
    relay: str
    ok: bool = False
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    info_error: str = ""
    connect_ms: float | None = None
    rtt_ms: float | None = None

    @property
    def nips(self) -> list[int]:
        nips = self.info.get("supported_nips")
        return [n for n in nips if isinstance(n, int)] if isinstance(nips, list) else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "relay": self.relay,
            "ok": self.ok,
            "error": self.error,
            "name": self.info.get("name"),
            "software": self.info.get("software"),
            "version": self.info.get("version"),
            "supported_nips": self.nips,
            "nip11_error": self.info_error,
            "connect_ms": self.connect_ms,
            "rtt_ms": self.rtt_ms,
        }


async def check_relay(relay: str, timeout: float = 5.0, proxy: str | None = None) -> RelayCheck:
    """NIP-11 and a REQ/EOSE round trip, concurrently; never raises for relay trouble."""
    check = RelayCheck(relay)

    async def info() -> None:
        try:
            check.info = await fetch_info(relay, timeout, proxy)
        except RelayError as exc:
            check.info_error = str(exc).removeprefix(f"{relay}: ")

    await asyncio.gather(info(), _round_trip(check, timeout, proxy))
    return check


async def _round_trip(check: RelayCheck, timeout: float, proxy: str | None) -> None:
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            async with await open_websocket(check.relay, proxy=proxy, ping_interval=None) as ws:
                check.connect_ms = round((time.monotonic() - start) * 1000, 1)
                sub_id = secrets.token_hex(8)
                probe = Filter(ids=frozenset({"0" * 64}), limit=1)
                sent = time.monotonic()
                await ws.send(ClientReq(sub_id, (probe,)).encode())
                async for raw in ws:
                    msg = parse_relay_message(raw)
                    if isinstance(msg, RelayEose | RelayClosed) and msg.subscription_id == sub_id:
                        check.rtt_ms = round((time.monotonic() - sent) * 1000, 1)
                        break
                if check.rtt_ms is None:
                    check.error = "the relay closed the connection before EOSE"
                    return
                await ws.send(ClientClose(sub_id).encode())
        check.ok = True
    except TimeoutError:
        check.error = f"no answer within {timeout:g}s"
    except Exception as exc:
        check.error = describe(exc, timeout, proxy)
