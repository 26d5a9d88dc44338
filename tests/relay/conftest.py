"""Fixtures for the relay's own tests (tests/conftest.py has the relay and clients)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from shieldmutual.relay.store.base import EventStore
from shieldmutual.relay.store.postgres import PostgresStore
from shieldmutual.relay.store.sqlite import SQLiteStore

Http = Callable[..., Awaitable[tuple[int, dict[str, str], bytes]]]


async def _http(
    url: str, path: str = "/", method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        answer = await client.request(method, f"http://{parts.netloc}{path}", headers=sent)
    return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.content


@pytest.fixture
def http() -> Http:
    """``await http(url, path="/", method="GET", **headers)``: one HTTP/1.1 exchange (httpx)
    with the relay's port (NIP-11, the web pages), as (status, lower-case headers, body);
    a header ``If_None_Match`` is sent as ``If-None-Match``."""
    return _http


MakeStore = Callable[..., EventStore]


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStore:
    """``make_store(name="relay", **options)``: a new, unopened store of the backend under
    test, so every store conformance test runs against SQLite (``<name>.db`` under
    ``tmp_path``) and PostgreSQL (a fresh schema per name on the session's throwaway
    cluster, see ``pg_url``). Calls with the same name reach the same data: a second
    store reopens the first one's."""
    if request.param == "sqlite":
        return lambda name="relay", **options: SQLiteStore(tmp_path / f"{name}.db", **options)
    urls = {"relay": request.getfixturevalue("pg_url")}
    cluster = request.getfixturevalue("pg_cluster")

    def postgres(name: str = "relay", **options: Any) -> EventStore:
        if name not in urls:
            urls[name] = cluster.new_schema()
        return PostgresStore(urls[name], **options)

    return postgres
