"""Live fan-out: an inverted index of every open subscription's filters.

Equal filters (``limit`` aside, which bounds stored results only) form one group, so a
new event runs each distinct filter once however many subscriptions share it: a
thousand clients following one tag cost one :meth:`Filter.matches` per event, not a
thousand. Each group is filed under its single most selective key, in this order: one
of its ``ids``, one of its ``authors``, one value of its smallest single-letter tag set,
one of its ``kinds``; a group with none of those goes on a catch-all list. A new event
then looks up only the buckets it could belong to (its id, its author, its kind, each of
its single-letter tag values) plus the catch-all.

The event's JSON was encoded once by ingest; every subscription keeps its own
``["EVENT",<sub id>,`` prefix, so a delivery is handed to the connection as two shared
byte strings and framed there without building the message (see
:meth:`Outgoing.send_event <shieldmutual.relay.outgoing.Outgoing.send_event>`).
Whether a connection may see an event (others' gift wraps) is
:func:`~shieldmutual.relay.access.audience`'s, the one place that rule lives.

While a subscription is still sending stored events its live events wait in
``pending`` and go out right after EOSE, minus any the stored results already held, so
nothing committed between the subscription's start and its EOSE is lost or doubled.
Their bytes are charged to the connection's memory budget, which closes a connection
that cannot keep up rather than hold events for it without bound.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Set
from itertools import chain
from typing import Protocol

from shieldmutual.relay.access import audience
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import TAG_LETTERS, Filter
from shieldmutual.shared.messages import event_prefix


class Subscriber(Protocol):
    """The side of a connection the index talks to."""

    @property
    def authed(self) -> Set[str]:
        """The keys it proved with NIP-42 (who may see a gift wrap is theirs to ask)."""

    def send(self, frame: bytes) -> None:
        """Queue a frame without waiting."""

    def send_event(self, prefix: bytes, tail: bytes) -> None:
        """Queue the frame ``prefix + tail`` without waiting (and without joining them)."""

    def hold(self, size: int) -> None:
        """Charge ``size`` bytes held for it; over its budget the connection closes."""


class Subscription:
    __slots__ = (
        "conn",
        "filters",
        "groups",
        "pending",
        "pending_bytes",
        "prefix",
        "sub_id",
        "task",
    )

    def __init__(self, conn: Subscriber, sub_id: str, filters: Iterable[Filter]) -> None:
        self.conn = conn
        self.sub_id = sub_id
        self.prefix = event_prefix(sub_id)
        self.filters = tuple(filters)
        self.groups: list[_Group] = []
        # Live frames held back until EOSE: (event id, frame). None once live.
        self.pending: list[tuple[str, bytes]] | None = []
        self.pending_bytes = 0  # charged to the connection until EOSE or drop
        self.task: object | None = None  # the connection's back-fill task

    def deliver(self, event: Event, tail: bytes) -> None:
        """``tail`` is the event's JSON followed by the closing ``]``."""
        if self.pending is None:
            self.conn.send_event(self.prefix, tail)
            return
        frame = self.prefix + tail
        self.pending.append((event.id, frame))
        self.pending_bytes += len(frame)
        self.conn.hold(len(frame))


def _match_key(flt: Filter) -> Hashable:
    """What decides whether ``flt`` matches an event (its ``limit`` does not). The tags as
    a tuple sorted by letter (distinct, so their values are never compared): a frozenset,
    even of one tag, is 216 bytes, and a group keeps its key."""
    tags = tuple(sorted(flt.tags.items()))
    return (flt.ids, flt.authors, flt.kinds, tags, flt.since, flt.until, flt.search)


class _Group:
    """The subscriptions with one filter, filed in exactly one bucket."""

    __slots__ = ("bucket", "filter", "key", "keys", "subs")

    def __init__(self, flt: Filter, key: Hashable) -> None:
        self.filter = flt
        self.key = key
        # How many of each subscription's filters are this one (a REQ may repeat one).
        self.subs: dict[Subscription, int] = {}
        self.bucket: dict[Hashable, set[_Group]] | None = None  # None: the catch-all
        self.keys: tuple[Hashable, ...] = ()


class Index:
    """Open subscriptions by id, author, tag value and kind, plus a catch-all."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, set[_Group]] = {}
        self._authors: dict[Hashable, set[_Group]] = {}
        self._tags: dict[Hashable, set[_Group]] = {}
        self._kinds: dict[Hashable, set[_Group]] = {}
        self._all: set[_Group] = set()
        self._groups: dict[Hashable, _Group] = {}
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
            key = _match_key(flt)
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(flt, key)
                self._file(group)
            group.subs[sub] = group.subs.get(sub, 0) + 1
            sub.groups.append(group)

    def remove(self, sub: Subscription) -> None:
        """Forget ``sub``; removing one that is not indexed does nothing."""
        if sub not in self.subscriptions:
            return
        self.subscriptions.discard(sub)
        for group in sub.groups:
            left = group.subs.pop(sub) - 1
            if left:
                group.subs[sub] = left
            elif not group.subs:
                self._unfile(group)
        sub.groups.clear()

    def _file(self, group: _Group) -> None:
        flt = group.filter
        keys: tuple[Hashable, ...]
        if flt.ids:
            group.bucket, keys = self._ids, tuple(flt.ids)
        elif flt.authors:
            group.bucket, keys = self._authors, tuple(flt.authors)
        elif flt.tags:
            letter = min(flt.tags, key=lambda name: (len(flt.tags[name]), name))
            group.bucket, keys = self._tags, tuple((letter, v) for v in flt.tags[letter])
        elif flt.kinds:
            group.bucket, keys = self._kinds, tuple(flt.kinds)
        else:
            self._all.add(group)
            return
        # A filter naming several values sits in each value's bucket.
        group.keys = keys
        for key in keys:
            group.bucket.setdefault(key, set()).add(group)

    def _unfile(self, group: _Group) -> None:
        del self._groups[group.key]
        if group.bucket is None:
            self._all.discard(group)
            return
        for key in group.keys:
            bucket = group.bucket.get(key)
            if bucket is not None:
                bucket.discard(group)
                if not bucket:
                    del group.bucket[key]

    # ---- fan-out ---------------------------------------------------------------

    def candidates(self, event: Event) -> set[_Group]:
        found: set[_Group] = set()
        bucket = self._ids.get(event.id)
        if bucket:
            found |= bucket
        bucket = self._authors.get(event.pubkey)
        if bucket:
            found |= bucket
        bucket = self._kinds.get(event.kind)
        if bucket:
            found |= bucket
        if self._tags:
            for tag in event.tags:
                if len(tag) > 1 and tag[0] in TAG_LETTERS:
                    bucket = self._tags.get((tag[0], tag[1]))
                    if bucket:
                        found |= bucket
        found |= self._all
        return found

    def notify(self, event: Event, raw: bytes) -> int:
        """Deliver ``raw`` (the event's JSON) to every matching subscription once;
        the number of subscriptions it matched."""
        matched = [g.subs for g in self.candidates(event) if g.filter.matches(event)]
        if not matched:
            return 0
        # A subscription in several matching groups gets the event once. A copy: a
        # delivery may close a connection over its budget, which drops its subscriptions.
        subs = list(matched[0]) if len(matched) == 1 else list(dict.fromkeys(chain(*matched)))
        tail = raw + b"]"
        for sub in audience(event, subs):
            sub.deliver(event, tail)
        return len(subs)
