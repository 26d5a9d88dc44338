"""The storage contract every backend honours; one conformance suite runs against each.

A store owns the rules that need atomicity: replaceable and addressable versions,
NIP-09 deletions and their tombstones. ``save`` returns only after the event is
durably committed, which is what lets the relay say ``OK true``.

Reads enforce who may see what *inside* the query: a gift wrap (kind 1059) exists for
a reader only when one of its ``p`` tags names a key in ``viewer``. Hidden wraps are
removed before any ``limit`` applies and before counting, so no result set, limit cut
or count reveals anything about them. Reads also take an ``owner`` (the client they
run for, as a fairness key: one client never holds more than one reader at a time)
and an optional ``cost`` callback told how long each statement ran, so the caller can
keep a per-client query-time budget. Cancelling the awaiting task drops a queued
statement and interrupts a running one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

Cost = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What the relay puts in its OK: ``accepted`` and a NIP-01 prefixed message."""

    accepted: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class CountResult:
    """A NIP-45 answer; ``approximate`` when the store stopped counting at its cap."""

    count: int
    approximate: bool = False


class EventStore(Protocol):
    async def open(self) -> None:
        """Create or migrate the schema and start the writer."""

    async def close(self) -> None:
        """Commit everything already acknowledged, then release the database."""

    async def save(self, event: Event, raw: bytes) -> SaveResult:
        """Store a verified event (``raw`` is its JSON) once committed, applying
        replaceable/addressable rules, NIP-09 deletions (kind 5) and tombstones.
        Ephemeral kinds are answered as stored at once and never written: this is the
        one place that skips them."""

    def save_many(
        self, items: Sequence[tuple[Event, bytes]]
    ) -> asyncio.Future[list[SaveResult | BaseException]]:
        """:meth:`save` for each of ``items``, as one future of their outcomes in order
        (an exception in place of an event that could not be written): a batch of
        EVENTs costs the relay's loop one future, not a task per event."""

    def query(
        self,
        filters: Sequence[Filter],
        now: int,
        *,
        viewer: frozenset[str] = frozenset(),
        owner: object = None,
        page_size: int = 256,
        cost: Cost | None = None,
    ) -> AsyncGenerator[list[bytes], None]:
        """Pages of raw JSON of stored events matching any filter: each filter's own
        ``limit``, the union without duplicates, newest first, ties by lowest id; events
        expired (NIP-40) at ``now`` and gift wraps not addressed to ``viewer`` are never
        returned. The next page is read only when the caller asks for it."""

    async def count(
        self,
        filters: Sequence[Filter],
        now: int,
        *,
        viewer: frozenset[str] = frozenset(),
        owner: object = None,
        cost: Cost | None = None,
    ) -> CountResult:
        """Size of the union ``query`` would return, each filter bounded by its own
        ``limit`` when it has one; past the store's cap, the cap and ``approximate``."""

    async def items(
        self,
        filters: Sequence[Filter],
        now: int,
        *,
        viewer: frozenset[str] = frozenset(),
        owner: object = None,
        cost: Cost | None = None,
        cap: int,
    ) -> list[tuple[int, bytes]]:
        """``(created_at, 32-byte id)`` of every event ``query`` could return for the
        filters (NIP-77 reconciles this set), ascending, without duplicates: same
        visibility (NIP-40, gift wraps only to ``viewer``), each filter bounded by its own
        ``limit`` only when it has one (never by the store's default page limits). More
        than ``cap`` events raise ``BlockedError("too many query results")``: the caller
        must narrow its filter rather than make the store hold an unbounded set."""

    async def delete_expired(self, now: int) -> int:
        """Remove events whose NIP-40 expiration has passed; returns how many."""
