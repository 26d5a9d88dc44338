"""Relay health: the NIP-11 information document, connect time and a Nostr round trip.

NIP-11 is fetched with httpx (HTTP/1.1 keep-alive and chunked bodies as relays really
answer: strfry keeps the connection open after a ``Content-Length`` body, so reading to
EOF never ends), with TLS verified, a few redirects at most, the body read as a stream
and dropped past ``MAX_DOCUMENT``, and no User-Agent header. The round trip is a REQ for
an event id that cannot exist, timed until its EOSE. With ``proxy`` (``--proxy``) both
go through it: httpx's SOCKS5 always sends the host name to the proxy (socks5h, even for
a ``socks5://`` proxy), so the relay's name is resolved there, never here; loopback and
the environment's proxy settings are treated as the websockets are (client/pool_connect.py).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool_connect import describe, open_websocket
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.messages import (
    ClientClose,
    ClientReq,
    RelayClosed,
    RelayEose,
    parse_relay_message,
)
from shieldmutual.shared.relayurl import is_local_host

if TYPE_CHECKING:
    import ssl

MAX_DOCUMENT = 256 * 1024
MAX_REDIRECTS = 3  # a relay behind a front page may redirect once or twice; not a loop


def info_url(relay: str) -> str:
    """``ws://h/p`` -> ``http://h/p``, ``wss://`` -> ``https://``."""
    scheme, rest = relay.split("://", 1)
    return ("https" if scheme == "wss" else "http") + "://" + rest


async def fetch_info(relay: str, timeout: float = 5.0, proxy: str | None = None) -> dict[str, Any]:
    """The relay's NIP-11 document; :class:`RelayError` when it cannot be had."""
    import httpx  # the HTTP stack, only for the commands that fetch a document

    try:
        return await asyncio.wait_for(_fetch_info(relay, timeout, proxy), timeout)
    except (TimeoutError, httpx.TimeoutException):
        raise RelayError(f"{relay}: no NIP-11 document within {timeout:g}s") from None
    except httpx.TooManyRedirects:
        raise RelayError(f"{relay}: NIP-11: more than {MAX_REDIRECTS} redirects") from None
    except (httpx.HTTPError, OSError, ValueError) as exc:
        raise RelayError(f"{relay}: NIP-11: {_describe(exc, timeout, proxy)}") from None


def _describe(exc: BaseException, timeout: float, proxy: str | None) -> str:
    """The failure in the words a websocket's would be (pool_connect.describe), from the
    socket or TLS error httpx wraps."""
    found: BaseException = exc
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError | ValueError):
            found = cause
            if not isinstance(cause, OSError) or cause.errno is not None:
                break  # anyio's "All connection attempts failed" hides the errno below
        cause = cause.__cause__ or cause.__context__
    return describe(found, timeout, proxy)


@functools.cache
def _tls(trust_env: bool) -> ssl.SSLContext:
    """The verifying TLS context httpx would build, made once per process: httpx builds
    one per client, loading the whole CA bundle each time (~20-30 ms of CPU), and a
    command asks every relay at once (`mas request new` to 10 relays spent ~0.2 s on it)."""
    import httpx

    return httpx.create_ssl_context(trust_env=trust_env)


async def _fetch_info(relay: str, timeout: float, proxy: str | None) -> dict[str, Any]:
    import httpx

    host = urlsplit(relay).hostname or ""
    # Loopback never goes through the environment's proxy; with --proxy, only it.
    trust_env = proxy is None and not is_local_host(host)
    async with httpx.AsyncClient(
        proxy=proxy,
        verify=_tls(trust_env),
        trust_env=trust_env,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    ) as client:
        del client.headers["User-Agent"]
        # strfry serves the document only for exactly this Accept.
        headers = {"Accept": "application/nostr+json"}
        async with client.stream("GET", info_url(relay), headers=headers) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT:
                    raise ValueError("document is too large")
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


async def check_relays(
    relays: Sequence[str], timeout: float = 5.0, proxy: str | None = None
) -> list[RelayCheck]:
    """Every relay checked at once (:func:`check_relay`), in the order given."""
    return list(await asyncio.gather(*(check_relay(r, timeout, proxy) for r in relays)))
