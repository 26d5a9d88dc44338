"""What relays said about a publish: one :class:`PublishResult` per relay, and the
:class:`PublishReport` commands read acks from.

Kept apart from client/pool_relay.py (the socket, and websockets with it) so that commands
and modules that only name these types load no network code: `mas` imports per command,
and a local command must not pay for websockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shieldmutual.shared.event import Event


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What one relay said about one event. ``elapsed`` is seconds from send to answer."""

    relay: str
    event_id: str
    status: Status
    message: str = ""
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """The relay holds the event: accepted now, or already had it."""
        return self.status in (Status.ACCEPTED, Status.DUPLICATE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "relay": self.relay,
            "status": str(self.status),
            "ok": self.ok,
            "message": self.message,
            "ms": round(self.elapsed * 1000, 1),
        }


@dataclass(frozen=True, slots=True)
class PublishReport:
    event: Event
    results: tuple[PublishResult, ...]

    @property
    def acks(self) -> int:
        """Relays that hold the event (accepted or duplicate)."""
        return sum(r.ok for r in self.results)

    def ok(self, min_acks: int = 1) -> bool:
        return self.acks >= min_acks
