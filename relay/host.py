"""What a connection needs of the relay that accepted it, as a narrow Protocol.

:class:`~shieldmutual.relay.server.Relay` satisfies it; connection.py, backfill.py and
negentropy.py know only this, so none of them imports server.py, not even for types,
and a test could serve a connection from something smaller than a whole relay.
"""

from __future__ import annotations

from typing import Any, Protocol

from shieldmutual.relay.backfill import Gate
from shieldmutual.relay.ingest import Ingest
from shieldmutual.relay.outgoing import Budget, Outgoing
from shieldmutual.relay.policy import FilterReject
from shieldmutual.relay.store.base import EventStore
from shieldmutual.relay.subscriptions import Index
from shieldmutual.relay.trim import Trimmer


class Host(Budget, Protocol):
    """The relay as one of its connections uses it."""

    @property
    def store(self) -> EventStore: ...

    @property
    def index(self) -> Index: ...

    @property
    def ingest(self) -> Ingest: ...

    @property
    def backfills(self) -> Gate:
        """Who back-fills now (:class:`~shieldmutual.relay.backfill.Gate`)."""

    @property
    def trimmer(self) -> Trimmer: ...

    @property
    def filter_rules(self) -> list[FilterReject]:
        """REQ/COUNT/NEG-OPEN refusals (:func:`~shieldmutual.relay.policy.check_filters`)."""

    @property
    def addresses(self) -> frozenset[tuple[str, int | None]]:
        """The names a NIP-42 AUTH event may give this relay."""

    @property
    def stopping(self) -> bool: ...

    @property
    def connections(self) -> set[Outgoing[Any]]: ...
