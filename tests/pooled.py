"""A relay set up and read through the client pool from a sync test.

Tests that run the `mas` CLI in-process (typer's CliRunner) stay sync: the CLI starts its
own event loop with ``asyncio.run``, which cannot run inside a test's loop. These helpers
are their one bridge to the pool: each call is one short loop of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shieldmutual.client.pool import Pool
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

T = TypeVar("T")


def with_pool(url: str, work: Callable[[Pool], Awaitable[T]], auth: SecretKey | None = None) -> T:
    """``work(pool)`` on a pool of the one relay ``url`` (authenticating as ``auth``)."""

    async def run() -> T:
        async with Pool([url], auth=auth) as pool:
            return await work(pool)

    return asyncio.run(run())


def push(url: str, *events: Event) -> None:
    """Store signed events on the relay (a test's setup); each must be accepted."""

    async def publish(pool: Pool) -> None:
        for event in events:
            report = await pool.publish(event)
            assert report.ok(), report.results

    with_pool(url, publish)


def pull(url: str, *filters: dict[str, Any], auth: SecretKey | None = None) -> list[Event]:
    """What the relay holds for ``filters`` (one REQ), read as ``auth`` if given."""
    typed = [Filter.from_dict(f) for f in filters]
    return with_pool(url, lambda pool: pool.fetch(typed), auth)
