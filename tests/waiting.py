"""The one way a test waits for something: poll a condition against a deadline.

A fixed sleep is either too short on a loaded CI machine or wastes time everywhere else;
a condition polled every few milliseconds returns as soon as it holds and fails with what
was awaited. ``until`` is for async tests (the event loop keeps running the relay, pool or
server under test between checks); ``until_sync`` for sync tests waiting on another
process or thread. Test modules import them (``from tests.waiting import until``); ``until``
is also a fixture (tests/conftest.py) for the tests that take it as one.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

POLL = 0.01  # seconds between checks: short beside any timeout, cheap beside a test
TIMEOUT = 10.0  # default deadline: generous on 2 loaded cores, only ever spent on failure


def _describe(condition: Callable[[], object], what: str) -> str:
    """``what``, else the condition's source line (a lambda reads well in a failure)."""
    if what:
        return what
    try:
        return inspect.getsource(condition).strip()
    except (OSError, TypeError):
        return repr(condition)


class TimedOut(AssertionError):
    """The condition did not hold in time (an AssertionError, so pytest shows it as a
    failed check; its own class, so a caller can add what it knows to the message)."""


def _timed_out(condition: Callable[[], object], timeout: float, what: str) -> TimedOut:
    awaited = _describe(condition, what)
    return TimedOut(f"timed out after {timeout:g} s waiting for: {awaited}")


async def until(
    condition: Callable[[], object | Awaitable[object]],
    timeout: float = TIMEOUT,
    what: str = "",
    every: float = POLL,
) -> None:
    """Return once ``condition()`` is true (awaited first when it is a coroutine, e.g. a
    COUNT to a relay); :class:`TimedOut` naming ``what`` (or the condition's source) after
    ``timeout`` seconds. ``every``: seconds between checks, longer for costly ones."""
    deadline = time.monotonic() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            raise _timed_out(condition, timeout, what)
        await asyncio.sleep(every)


def until_sync(condition: Callable[[], object], timeout: float = TIMEOUT, what: str = "") -> None:
    """:func:`until` for sync tests: blocks this thread between checks."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise _timed_out(condition, timeout, what)
        time.sleep(POLL)
