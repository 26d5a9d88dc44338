"""Live fan-out: an inverted index of every open subscription's filters.

Each filter is filed under its single most selective key, in this order: one of its
``ids``, one of its ``authors``, one value of its smallest single-letter tag set, one
of its ``kinds``; a filter with none of those goes on a catch-all list. A new event
then looks up only the buckets it could belong to (its id, its author, its kind, each
of its single-letter tag values) plus the catch-all, and only those candidates run the
full :meth:`Filter.matches`. The event's JSON was encoded once by ingest; each
subscriber gets it framed with :func:`~shieldmutual.shared.messages.event_frame`.

While a subscription is still sending stored events its live events wait in
``pending`` and go out right after EOSE, minus any the stored results already held, so
nothing committed between the subscription's start and its EOSE is lost or doubled.
Their bytes are charged to the connection's memory budget, which closes a connection
that cannot keep up rather than hold events for it without bound.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Protocol

from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.messages import event_frame


class Subscriber(Protocol):
    """The side of a connection the index talks to."""

    def can_see(self, event: Event) -> bool:
        """False for events this connection may not receive (others' gift wraps)."""

    def send(self, frame: bytes) -> None:
        """Queue a frame without waiting."""

    def hold(self, size: int) -> None:
        """Charge ``size`` bytes held for it; over its budget the connection closes."""


class Subscription:
    __slots__ = ("conn", "entries", "filters", "pending", "pending_bytes", "sub_id", "task")

    def __init__(self, conn: Subscriber, sub_id: str, filters: Iterable[Filter]) -> None:
        self.conn = conn
        self.sub_id = sub_id
        self.filters = tuple(filters)
        self.entries: list[_Entry] = []
        # Live frames held back until EOSE: (event id, frame). None once live.
        self.pending: list[tuple[str, bytes]] | None = []
        self.pending_bytes = 0  # charged to the connection until EOSE or drop
        self.task: object | None = None  # the connection's back-fill task

    def deliver(self, event: Event, raw: bytes) -> None:
        frame = event_frame(self.sub_id, raw)
        if self.pending is not None:
            self.pending.append((event.id, frame))
            self.pending_bytes += len(frame)
            self.conn.hold(len(frame))
        else:
            self.conn.send(frame)


class _Entry:
    """One filter of one subscription, filed in exactly one bucket."""

    __slots__ = ("bucket", "filter", "keys", "sub")

    def __init__(self, sub: Subscription, flt: Filter) -> None:
        self.sub = sub
        self.filter = flt
        self.bucket: dict[Hashable, set[_Entry]] | None = None  # None: the catch-all
        self.keys: tuple[Hashable, ...] = ()


class Index:
    """Open subscriptions by id, author, tag value and kind, plus a catch-all."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, set[_Entry]] = {}
        self._authors: dict[Hashable, set[_Entry]] = {}
        self._tags: dict[Hashable, set[_Entry]] = {}
        self._kinds: dict[Hashable, set[_Entry]] = {}
        self._all: set[_Entry] = set()
        self.subscriptions: set[Subscription] = set()

    # ---- maintenance -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self.subscriptions)

    def add(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            return
        self.subscriptions.add(sub)
        for flt in sub.filters:
            if flt.is_empty_result():
                continue  # matches nothing, ever
            entry = _Entry(sub, flt)
            sub.entries.append(entry)
            self._file(entry)

    def remove(self, sub: Subscription) -> None:
        """Forget ``sub``; removing one that is not indexed does nothing."""
        if sub not in self.subscriptions:
            return
        self.subscriptions.discard(sub)
        for entry in sub.entries:
            if entry.bucket is None:
                self._all.discard(entry)
                continue
            for key in entry.keys:
                bucket = entry.bucket.get(key)
                if bucket is not None:
                    bucket.discard(entry)
                    if not bucket:
                        del entry.bucket[key]
        sub.entries.clear()

    def _file(self, entry: _Entry) -> None:
        flt = entry.filter
        keys: tuple[Hashable, ...]
        if flt.ids:
            entry.bucket, keys = self._ids, tuple(flt.ids)
        elif flt.authors:
            entry.bucket, keys = self._authors, tuple(flt.authors)
        elif flt.tags:
            letter = min(flt.tags, key=lambda name: (len(flt.tags[name]), name))
            entry.bucket, keys = self._tags, tuple((letter, v) for v in flt.tags[letter])
        elif flt.kinds:
            entry.bucket, keys = self._kinds, tuple(flt.kinds)
        else:
            self._all.add(entry)
            return
        # A filter naming several values sits in each value's bucket.
        entry.keys = keys
        for key in keys:
            entry.bucket.setdefault(key, set()).add(entry)

    # ---- fan-out ---------------------------------------------------------------

    def candidates(self, event: Event) -> list[_Entry]:
        found: list[_Entry] = []
        bucket = self._ids.get(event.id)
        if bucket:
            found.extend(bucket)
        bucket = self._authors.get(event.pubkey)
        if bucket:
            found.extend(bucket)
        bucket = self._kinds.get(event.kind)
        if bucket:
            found.extend(bucket)
        if self._tags:
            keys = {
                (tag[0], tag[1])
                for tag in event.tags
                if len(tag) > 1 and len(tag[0]) == 1 and tag[0].isalpha()
            }
            for key in keys:
                bucket = self._tags.get(key)
                if bucket:
                    found.extend(bucket)
        found.extend(self._all)
        return found

    def notify(self, event: Event, raw: bytes) -> int:
        """Deliver ``raw`` (the event's JSON) to every matching subscription once."""
        delivered: set[int] = set()
        for entry in self.candidates(event):
            sub = entry.sub
            if id(sub) in delivered or not entry.filter.matches(event):
                continue
            delivered.add(id(sub))
            if sub.conn.can_see(event):
                sub.deliver(event, raw)
        return len(delivered)
