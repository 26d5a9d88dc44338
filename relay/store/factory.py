"""Which store a relay uses: ``[store] url`` names PostgreSQL, otherwise the SQLite file.

asyncpg is imported only when PostgreSQL is configured, so a SQLite relay never needs
it installed, and one configured without it says what to install.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

from shieldmutual.relay.config import Config
from shieldmutual.relay.store.base import EventStore
from shieldmutual.relay.store.sqlite import SQLiteStore
from shieldmutual.shared.errors import StoreError


class _Options(TypedDict):
    """The [server] settings both stores take, so each keyword keeps its own type."""

    batch_max: int
    readers: int
    default_limit: int
    max_limit: int
    max_count: int
    max_query_seconds: float


def store_for(config: Config, sqlite_path: Callable[[Config], Path]) -> EventStore:
    """The configured store, unopened; ``sqlite_path`` (which may create the file's
    folder) is called only when no PostgreSQL URL is configured."""
    server = config.server
    options: _Options = {
        "batch_max": server.store_batch_max,
        "readers": server.store_readers,
        "default_limit": config.limits.default_limit,
        "max_limit": config.limits.max_limit,
        "max_count": server.max_count,
        "max_query_seconds": server.max_query_seconds,
    }
    if config.store.url:
        try:
            from shieldmutual.relay.store.postgres import PostgresStore
        except ModuleNotFoundError as exc:
            if exc.name != "asyncpg":
                raise
            raise StoreError(
                "[store] url names PostgreSQL but its driver is not installed:"
                " pip install 'shieldmutual[postgres]'"
            ) from None
        return PostgresStore(config.store.url, **options)
    return SQLiteStore(sqlite_path(config), **options)


def describe(url: str) -> str:
    """A PostgreSQL URL fit for a log line or a ready message: scheme, user, host, port
    and database, never the password or the query (which may carry one too)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"
