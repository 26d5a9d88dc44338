"""The storage contract every backend honours; one conformance suite runs against each.

A store owns the rules that need atomicity: replaceable and addressable versions,
NIP-09 deletions and their tombstones. ``save`` returns only after the event is
durably committed, which is what lets the relay say ``OK true``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What the relay puts in its OK: ``accepted`` and a NIP-01 prefixed message."""

    accepted: bool
    message: str = ""


class EventStore(Protocol):
    async def open(self) -> None:
        """Create or migrate the schema and start the writer."""

    async def close(self) -> None:
        """Commit everything already acknowledged, then release the database."""

    async def save(self, event: Event, raw: bytes) -> SaveResult:
        """Store a verified event (``raw`` is its JSON) once committed, applying
        replaceable/addressable rules, NIP-09 deletions (kind 5) and tombstones."""

    async def query(self, filters: Sequence[Filter], now: int) -> list[bytes]:
        """Raw JSON of stored events matching any filter: each filter's own ``limit``,
        the union without duplicates, newest first, ties by lowest id; events expired
        (NIP-40) at ``now`` are never returned."""

    async def count(self, filters: Sequence[Filter], now: int) -> int:
        """Size of the union ``query`` would return without limits (NIP-45)."""

    async def delete_expired(self, now: int) -> int:
        """Remove events whose NIP-40 expiration has passed; returns how many."""
