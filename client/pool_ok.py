"""The OKs one relay socket still owes us: a future per EVENT or AUTH sent, answered by
the relay's OK, failed when the socket drops, timed out by a single sweeper task.

Every wait has the same length (``ok_timeout``), so deadlines queue up in the order they
were set and one task that sleeps until the next deadline enforces them all: no timer per
event, however many a publish burst has in flight."""

from __future__ import annotations

import asyncio
import collections

from shieldmutual.client.errors import RelayError
from shieldmutual.shared.messages import RelayOk


class RelayDown(RelayError):
    """No usable socket to the relay; ``timed_out`` when it was a connect timeout. Never
    leaves the pool: a publish reports it as the relay's :class:`Status`."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class OkWaiters:
    """See the module docstring."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._futures: dict[str, list[asyncio.Future[RelayOk]]] = {}
        self._deadlines: collections.deque[tuple[float, asyncio.Future[RelayOk]]] = (
            collections.deque()
        )
        self._sweeper: asyncio.Task[None] | None = None

    def expect(self, event_id: str) -> asyncio.Future[RelayOk]:
        """A future for the OK about ``event_id``; call :meth:`forget` when done with it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[RelayOk] = loop.create_future()
        self._futures.setdefault(event_id, []).append(fut)
        self._deadlines.append((loop.time() + self.timeout, fut))
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = loop.create_task(self._sweep())
        return fut

    def forget(self, event_id: str, fut: asyncio.Future[RelayOk]) -> None:
        futures = self._futures.get(event_id)
        if futures and fut in futures:
            futures.remove(fut)
            if not futures:
                del self._futures[event_id]

    def answer(self, ok: RelayOk) -> None:
        """The relay's OK: every wait for that event id ends."""
        for fut in self._futures.pop(ok.event_id, ()):
            if not fut.done():
                fut.set_result(ok)

    def fail_all(self, why: str) -> None:
        """The socket is gone: no OK will come on it."""
        for futures in self._futures.values():
            for fut in futures:
                if not fut.done():
                    fut.set_exception(RelayDown(why))
        self._futures.clear()

    async def close(self) -> None:
        if self._sweeper is not None and not self._sweeper.done():
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        deadlines = self._deadlines
        while deadlines:
            when, fut = deadlines[0]
            if fut.done():
                deadlines.popleft()
            elif (delay := when - loop.time()) > 0:
                await asyncio.sleep(delay)
            else:
                deadlines.popleft()
                fut.set_exception(TimeoutError())
