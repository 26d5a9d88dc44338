"""Fixtures for the relay's own tests (tests/conftest.py has the relay and clients)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

Until = Callable[..., Awaitable[None]]


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
def until() -> Until:
    """``await until(lambda: condition, timeout=10)``: poll the relay's state until the
    condition holds, failing with TimeoutError after ``timeout`` seconds."""
    return _until
