"""Who reads next: a store's read connections handed out fairly between clients.

Both stores' reader pools (:mod:`.sqlite_readers`, :mod:`.postgres_readers`) schedule
with this, because one client sending expensive queries within its rate limit must not
slow down anyone else (issue 10 #6):

* an *owner* (the client a statement runs for) holds at most one connection at a time,
  so however many queries one client sends it occupies one connection and the others
  stay free for everyone else;
* owners waiting for one are served round-robin, one statement each, so a client with a
  hundred queued queries waits its turn like a client with one;
* a waiter that is cancelled leaves the line (its statement never runs).
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from shieldmutual.shared.errors import StoreError

T = TypeVar("T")


class FairScheduler(Generic[T]):
    """``items`` (connections) handed out one per owner, round-robin among waiters."""

    def __init__(self, items: list[T]) -> None:
        self._free = list(items)
        self._holding: set[object] = set()
        # Insertion order is the round-robin order: an owner served goes to the back.
        # Lists, not deques: an owner rarely queues more than a few statements, and when
        # ten thousand clients REQ at once each waiting owner's deque (~600 bytes) would
        # be most of what its query holds while it waits.
        self._waiting: dict[object, list[asyncio.Future[T]]] = {}
        self._closed = False

    @property
    def idle(self) -> int:
        """Items free right now."""
        return len(self._free)

    @property
    def queued(self) -> int:
        """Requests waiting for an item."""
        return sum(len(queue) for queue in self._waiting.values())

    def ready(self, owner: object) -> bool:
        """Whether :meth:`acquire` would hand ``owner`` an item at once: one is free and
        the owner holds none and waits for none (nobody's turn is taken)."""
        return (
            bool(self._free)
            and not self._closed
            and owner not in self._holding
            and owner not in self._waiting
        )

    async def acquire(self, owner: object) -> T:
        """An item for ``owner`` once its turn comes; give it back with :meth:`release`."""
        if self._closed:
            raise StoreError("the store is not open")
        if self.ready(owner):
            self._holding.add(owner)
            return self._free.pop()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(owner, []).append(future)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(owner, future.result())  # handed over as we were cancelled
            else:
                self._forget(owner, future)
            raise

    def _forget(self, owner: object, future: asyncio.Future[T]) -> None:
        queue = self._waiting.get(owner)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[owner]

    def release(self, owner: object, item: T) -> None:
        self._holding.discard(owner)
        self._free.append(item)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand free items to the first waiting owners that hold none."""
        while self._free:
            owner = next((o for o in self._waiting if o not in self._holding), None)
            if owner is None:
                return
            queue = self._waiting.pop(owner)
            future = queue.pop(0)
            if queue:
                self._waiting[owner] = queue  # back of the line
            if future.done():  # its task was cancelled and has not run its cleanup yet
                continue
            self._holding.add(owner)
            future.set_result(self._free.pop())

    def close(self) -> None:
        """Fail every waiting request and every later one."""
        self._closed = True
        for queue in self._waiting.values():
            for future in queue:
                if not future.done():
                    future.set_exception(StoreError("the store is not open"))
        self._waiting.clear()
