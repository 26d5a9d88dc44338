"""How the client dials relays, and how long it waits before dialling one again.

Every websocket the client opens to a relay (the pool's and the round trip of `mas relays
check`) is opened here, and the NIP-11 fetch (client/relayinfo.py) follows the same rules
through httpx, so that with a proxy set nothing is ever dialled directly:
``socks5h://HOST:PORT`` (Tor) carries every connection and resolves the relays' names
itself, so not even a DNS query leaves this machine. A proxy that is down is an error
naming the proxy, never a reason to fall back to a direct connection.

:class:`Backoff` is one relay's reconnect schedule: exponential with jitter and a cap.
A connection that ends soon after it opened counts as a failure (a relay that accepts
and then drops us must not be re-dialled in a loop), and a relay that sends a frame over
our size limit is *held*: the same REQ would bring the same frame, so it is not dialled
again before the longest delay, and nothing that needs it cuts that wait short.
"""

from __future__ import annotations

import inspect
import os
import random
import time
from typing import Any
from urllib.parse import urlsplit

from python_socks import ProxyError as SocksError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, InvalidURI, ProxyError

from shieldmutual.client.errors import ConfigError
from shieldmutual.shared.relayurl import is_local_host

# socks5h: the proxy resolves names (recommended for Tor); socks5: names resolved here.
PROXY_SCHEMES = ("socks5h", "socks5")
# websockets >= 15 honours the system proxy settings; loopback must never go through one.
_HAS_PROXY_ARG = "proxy" in inspect.signature(connect).parameters


def check_proxy(url: str) -> str:
    """``url`` when it is a SOCKS5 proxy address we can use; :class:`ConfigError` if not."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname or port is None:
        raise ConfigError(f"proxy must look like socks5h://HOST:PORT, not {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"proxy must look like socks5h://HOST:PORT, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


async def open_websocket(
    url: str,
    *,
    proxy: str | None,
    max_size: int | None = 2**20,
    ping_interval: float | None = 20.0,
) -> ClientConnection:
    """A websocket to ``url``, through ``proxy`` when set. No User-Agent, no compression
    (compressed frames would let a relay inflate a small frame past ``max_size``)."""
    if proxy is not None:
        route: dict[str, Any] = {"proxy": proxy}
    elif _HAS_PROXY_ARG and is_local_host(urlsplit(url).hostname or ""):
        route = {"proxy": None}
    else:
        route = {}
    return await connect(
        url,
        open_timeout=None,
        compression=None,
        user_agent_header=None,
        max_size=max_size,
        ping_interval=ping_interval,
        ping_timeout=ping_interval,
        close_timeout=2,
        **route,
    )


def describe(exc: BaseException, timeout: float, proxy: str | None = None) -> str:
    """One line for a failed dial, naming the proxy when it is the proxy that failed."""
    if isinstance(exc, TimeoutError):
        return f"no connection within {timeout:g}s"
    if proxy is not None:
        # Host and port only: a user:password in the URL (Tor stream isolation) stays out.
        where = urlsplit(proxy).netloc.rsplit("@", 1)[-1]
        if isinstance(exc, ProxyError | SocksError):
            cause = exc.__cause__ or exc
            return f"proxy {where}: {str(cause).strip() or type(cause).__name__}"
        if isinstance(exc, OSError):
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            return f"proxy {where} unreachable: {reason}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code} instead of a websocket"
    if isinstance(exc, InvalidURI):
        return f"invalid URL: {exc}"
    text = str(exc).strip()
    return text or type(exc).__name__


class Backoff:
    """One relay's reconnect schedule; see the module docstring.

    ``base`` doubles per failure up to ``cap``; each wait is drawn from [d/2, d] so many
    clients that lost the same relay do not come back at the same instant. A session
    that lasted ``stable`` seconds or more resets the schedule.
    """

    def __init__(self, base: float, cap: float, stable: float = 10.0) -> None:
        self.base = base
        self.cap = cap
        self.stable = stable
        self.failures = 0
        self.held: str | None = None  # why the relay is held off, while it is
        self.retry_at = 0.0  # time.monotonic() of the next attempt

    def _schedule(self, delay: float) -> float:
        wait = delay * random.uniform(0.5, 1.0)
        self.retry_at = time.monotonic() + wait
        return wait

    def failed(self) -> float:
        """A connection attempt failed: the wait before the next one."""
        self.failures += 1
        return self._schedule(min(self.base * 2 ** (self.failures - 1), self.cap))

    def ended(self, lasted: float) -> float:
        """A session ended after ``lasted`` seconds: the wait before reconnecting."""
        if lasted >= self.stable:
            self.failures = 0
            return self._schedule(self.base)
        return self.failed()

    def hold(self, reason: str) -> float:
        """The relay broke our limits: wait the longest delay, whatever needs it."""
        self.failures += 1
        self.held = reason
        return self._schedule(self.cap)

    def release(self) -> None:
        self.held = None

    def retry_in(self) -> float:
        return max(0.0, self.retry_at - time.monotonic())
