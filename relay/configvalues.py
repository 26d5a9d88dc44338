"""How one value of the relay's TOML file becomes a setting, and the checks on values.

Split from :mod:`~shieldmutual.relay.config` (which holds the tables): each setting's
type is its default's type, so a typo'd or mistyped value is an error naming the
table and key, never a silent fallback.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from shieldmutual.shared.errors import ConfigError, FilterError
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.hexid import is_hex64


def coerce(section: str, key: str, value: Any, default: Any) -> Any:
    where = f"[{section}] {key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if isinstance(default, int):
        if type(value) is not int:
            raise ConfigError(f"{where} must be an integer")
        if value < 0:
            raise ConfigError(f"{where} must not be negative")
        return value
    if isinstance(default, float):
        if type(value) not in (int, float) or value < 0:
            raise ConfigError(f"{where} must be a non-negative number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string")
        return value
    if isinstance(default, frozenset):
        if not isinstance(value, list | tuple | set | frozenset):
            raise ConfigError(f"{where} must be a list")
        try:
            return frozenset(value)
        except TypeError:
            raise ConfigError(f"{where} must be a list of plain values") from None
    if isinstance(default, tuple):  # filters: a list of tables
        return filters(where, value)
    raise ConfigError(f"{where}: unsupported setting")  # pragma: no cover


def filters(where: str, value: Any) -> tuple[Filter, ...]:
    if isinstance(value, tuple) and all(isinstance(f, Filter) for f in value):
        return value  # already built (Config.replace)
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of filters")
    try:
        return tuple(Filter.from_dict(item) for item in value)
    except FilterError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def require_hex64(values: frozenset[str], where: str) -> None:
    for value in values:
        if not isinstance(value, str) or not is_hex64(value):
            raise ConfigError(f"{where} must list 64-character lowercase hex public keys")


def check_ws_url(url: object) -> None:
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        ok = parts is not None and parts.scheme in ("ws", "wss") and bool(parts.hostname)
        ok = ok and parts is not None and parts.port != 0
    except ValueError:  # a port that is not a number
        ok = False
    if not ok:
        raise ConfigError(f"[server] url and urls must be ws:// or wss:// URLs, not {url!r}")


def check_base_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        ok = False
    ok = ok and not (parts.query or parts.fragment or parts.username or parts.password)
    if url and not (ok and url.isprintable() and " " not in url):
        raise ConfigError(f"[web] base_url must be an http:// or https:// URL, not {url!r}")
