"""Give memory back to the operating system after a connection that held a lot leaves.

CPython frees a closed connection's frames and result pages to glibc's malloc, which
keeps the freed pages in its arenas (one per thread that allocated: the event loop, the
SQLite reader threads) instead of returning them. RSS then stays at the high-water mark
of the worst client ever seen, so a relay attacked once keeps that memory: measured,
``malloc_trim(0)`` gave back ~90 MiB after an attack that ``gc.collect()`` did not
touch. The trim runs on a worker thread (it walks every arena, a few milliseconds) and
at most once per ``interval``. Where the C library has no ``malloc_trim`` (musl,
macOS) this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import time
from collections.abc import Callable, Iterable
from typing import Any

# A connection that held at least this much at some point is worth a trim when it goes.
TRIM_AFTER = 1024 * 1024


def _malloc_trim() -> Callable[[], object] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class Trimmer:
    """Schedules ``malloc_trim(0)``: never two at once, at most one per ``interval``.

    A request while one runs, or within ``interval`` of the last, is not dropped: one
    more trim follows when allowed, so memory freed meanwhile is returned too.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.trims = 0  # how many ran (for tests and the curious)
        self._trim = _malloc_trim()
        self._last = float("-inf")
        self._running: asyncio.Future[object] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._again = False
        self._waiters: set[asyncio.Task[None]] = set()

    @property
    def available(self) -> bool:
        return self._trim is not None

    @property
    def scheduled(self) -> bool:
        """A trim is running or timed to run."""
        return self._running is not None or self._timer is not None

    def request_after(self, tasks: Iterable[asyncio.Task[Any]]) -> None:
        """Trim once ``tasks`` (a departed client's cancelled work) have let go."""
        waiting = [task for task in tasks if not task.done()]
        if not waiting:
            self.request()
            return

        async def later() -> None:
            await asyncio.wait(waiting)
            self.request()

        waiter = asyncio.get_running_loop().create_task(later())
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.discard)

    def request(self) -> None:
        if self._trim is None:
            return
        if self._running is not None:
            self._again = True
            return
        if self._timer is not None:
            return
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            self._timer = asyncio.get_running_loop().call_later(wait, self._start)
        else:
            self._start()

    def _start(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        trim = self._trim
        if trim is None:
            return
        self._running = asyncio.get_running_loop().run_in_executor(None, trim)
        self._running.add_done_callback(self._done)

    def _done(self, _: asyncio.Future[object]) -> None:
        self._running = None
        self.trims += 1
        if self._again:
            self._again = False
            self.request()
