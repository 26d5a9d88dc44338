"""Relay URLs: the one rule for every place one enters (config, -r, society definitions,
champion packages, naddr/nevent hints, 10050 lists).

A relay URL is shown on screens and used to connect, so it must be exactly what it looks
like: ``ws://`` or ``wss://``, a host, no user name or password, and no whitespace,
control, bidi or other invisible character anywhere (one would repaint the screen, or
make ``wss://evil.example`` read as another host). It is refused, never cleaned up: a
cleaned-up URL would be a different relay than the one its author named.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.untrusted import is_hidden

MAX_URL = 512
# The names a loopback listener is reached by (the relay accepts AUTH naming any of them).
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}

RelayAddress = tuple[str, int | None]
"""``(host, port)``: what two URLs of the same relay have in common."""


def is_local_host(host: str) -> bool:
    """``localhost`` or a loopback IP literal (127.0.0.0/8, ::1, bracketed or not).

    Such relays are dialled with ``ws://`` and never via a proxy, and a mail server so
    named may be spoken to without TLS. Only literals count: ``127.0.0.1.nip.io`` is a
    DNS name that may point anywhere, and dialling it outside the proxy would reveal
    the user's address to whoever owns it.
    """
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalize_relay_url(url: str) -> str:
    """``ws://`` or ``wss://`` URL, lowercase scheme and host, no bare trailing slash.

    A URL without a scheme gets ``wss://``, or ``ws://`` for a loopback host;
    spaces around it (a paste) are dropped. Raises :class:`InvalidError`.
    """
    text = url.strip(" ")
    if not text:
        raise InvalidError("relay URL is empty")
    if len(text) > MAX_URL:
        raise InvalidError(f"relay URL is longer than {MAX_URL} characters")
    if any(c.isspace() or is_hidden(c) for c in text):
        raise InvalidError(f"relay URL {url!r} contains spaces or control characters")
    if "://" not in text:
        host = text.split("/")[0].split(":")[0].lower()
        text = ("ws://" if is_local_host(host) else "wss://") + text
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidError(f"relay URL {url!r} is not valid: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise InvalidError(f"relay URL {url!r} must start with ws:// or wss://")
    if not parts.hostname:
        raise InvalidError(f"relay URL {url!r} has no host")
    if parts.username or parts.password:
        raise InvalidError(f"relay URL {url!r} must not contain a user name or password")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def relay_address(url: str) -> RelayAddress | None:
    """``(host, port)`` of a relay URL, lower-cased, port None when the scheme's default;
    None when it is not a URL with a host.

    Lenient on purpose (any scheme, no scheme, a path): the relay compares a NIP-42
    ``relay`` tag or a mirror's URL with its own addresses, and only host and port decide
    whether they name the same relay.
    """
    text = url.strip()
    try:
        parts = urlsplit(text if "://" in text else "ws://" + text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    if port is not None and port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    return host.lower(), port
