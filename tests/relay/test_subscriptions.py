"""relay/subscriptions.py: the live index (which subscriptions an event can match) and
delivery to them, with stand-in connections (no sockets)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterable
from typing import Any

from shieldmutual.relay.subscriptions import Index, Subscription
from shieldmutual.shared.event import sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

ALICE = SecretKey(bytes([1]) * 32)
BOB = SecretKey(bytes([2]) * 32)


class Sink:
    def __init__(self, authed: set[str] | None = None) -> None:
        self.frames: list[bytes] = []
        self.authed = authed or set()
        self.held = 0

    def send(self, frame: bytes) -> None:
        self.frames.append(frame)

    def send_event(self, prefix: bytes, tail: bytes) -> None:
        self.frames.append(prefix + tail)

    def hold(self, size: int) -> None:
        self.held += size


def live(index: Index, sink: Sink, sub_id: str, *filters: dict[str, Any]) -> Subscription:
    sub = Subscription(sink, sub_id, [Filter.from_dict(f) for f in filters])
    sub.pending = None  # already past EOSE
    index.add(sub)
    return sub


def sub_ids(groups: Iterable[Any]) -> list[str]:
    return sorted(sub.sub_id for group in groups for sub in group.subs)


def test_each_filter_is_filed_under_its_most_selective_key():
    index = Index()
    sink = Sink()
    for i in range(300):
        key = SecretKey(b"\x07" + (i + 1).to_bytes(2, "big") + bytes(29))
        live(index, sink, f"author{i}", {"authors": [key.public_hex], "kinds": [1]})
    live(index, sink, "tag", {"#t": ["mas-river"], "kinds": [1]})
    live(index, sink, "kind", {"kinds": [30402]})
    live(index, sink, "all", {"since": 0})
    event = sign(ALICE, 1, "", [["t", "other"]])
    # Only the catch-all is a candidate: 300 author filters were never looked at.
    assert sub_ids(index.candidates(event)) == ["all"]
    tagged = sign(ALICE, 1, "", [["t", "mas-river"], ["t", "mas-river"]])
    assert sub_ids(index.candidates(tagged)) == ["all", "tag"]
    assert index.notify(tagged, tagged.to_json()) == 2  # "tag" once despite two tags


def test_notify_frames_the_json_once_per_subscription_and_hides_others_wraps():
    index = Index()
    alice_sink, bob_sink = Sink({ALICE.public_hex}), Sink()
    live(index, alice_sink, "a", {"kinds": [1059]}, {"#p": [ALICE.public_hex]})
    live(index, bob_sink, "b", {})
    wrap = sign(BOB, 1059, "x", [["p", ALICE.public_hex]])
    raw = wrap.to_json()
    index.notify(wrap, raw)
    assert alice_sink.frames == [b'["EVENT","a",' + raw + b"]"]
    assert bob_sink.frames == []


def test_equal_filters_are_matched_once_per_event_and_delivered_to_each():
    index = Index()
    sinks = [Sink() for _ in range(50)]
    for i, sink in enumerate(sinks):
        # "limit" bounds stored results only: these 50 filters are one for live events.
        live(index, sink, f"s{i}", {"kinds": [1], "#t": ["river"], "limit": i + 1})
    live(index, sinks[0], "twice", {"kinds": [1], "#t": ["river"]}, {"#t": ["river"]})
    tagged = sign(ALICE, 1, "", [["t", "river"]])
    groups = index.candidates(tagged)
    assert len(groups) == 2  # two distinct filters, not 52 entries
    raw = tagged.to_json()
    assert index.notify(tagged, raw) == 51
    assert sorted(sinks[0].frames) == [
        b'["EVENT","s0",' + raw + b"]",
        b'["EVENT","twice",' + raw + b"]",
    ]
    assert all(
        sink.frames == [b'["EVENT","s%d",' % i + raw + b"]"] for i, sink in enumerate(sinks[1:], 1)
    )
    for sub in list(index.subscriptions):
        index.remove(sub)
    assert len(index) == 0 and not index.candidates(tagged)


def test_a_delivery_that_drops_subscriptions_does_not_stop_the_others():
    """A connection over its budget is closed while the event is being delivered, which
    removes its subscriptions from the very group being walked."""
    index = Index()

    class Closing(Sink):
        def send_event(self, prefix: bytes, tail: bytes) -> None:
            super().send_event(prefix, tail)
            for sub in list(index.subscriptions):
                if sub.conn is self:
                    index.remove(sub)

    closing, others = Closing(), [Sink() for _ in range(5)]
    live(index, closing, "c1", {"kinds": [1]})
    for i, sink in enumerate(others):
        live(index, sink, f"s{i}", {"kinds": [1]})
    live(index, closing, "c2", {"kinds": [1]})
    event = sign(ALICE, 1, "")
    index.notify(event, event.to_json())
    assert all(len(sink.frames) == 1 for sink in others)
    assert len(index) == 5


def test_removing_a_subscription_empties_its_buckets():
    index = Index()
    sub = live(index, Sink(), "s", {"authors": [ALICE.public_hex, BOB.public_hex]}, {})
    assert len(index) == 1
    index.remove(sub)
    index.remove(sub)  # twice is harmless
    assert len(index) == 0
    assert not index.candidates(sign(ALICE, 1, ""))


def churn(index: Index, rounds: int, start: int) -> None:
    """Subscriptions that come and go, each with values never seen before in every kind
    of bucket (ids, authors, tags, kinds, the catch-all)."""
    for i in range(start, start + rounds):
        value = f"{i:064x}"
        filters = ({"ids": [value]}, {"authors": [value]}, {"#t": [value]}, {"kinds": [i]})
        index.remove(live(index, Sink(), "s", *filters, {"since": i}))


def test_subscriptions_that_come_and_go_leave_nothing_behind():
    """A connection that keeps replacing its REQs must not grow the index: each bucket
    and group a subscription made goes with it (measured, since they are internal)."""
    index = Index()
    churn(index, 200, 0)  # tables and free lists at their working size
    tracemalloc.start()
    try:
        gc.collect()  # cycles wait for the collector: count what is held, not garbage
        before = tracemalloc.get_traced_memory()[0]
        churn(index, 2000, 200)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(index) == 0
    # What is left behind per round (a key and an empty set per bucket, a group) is about
    # a kilobyte: 2,000 rounds would be megabytes.
    assert grown < 100_000, grown


def test_pending_subscription_holds_events_and_charges_their_bytes():
    index = Index()
    sink = Sink()
    sub = Subscription(sink, "s", [Filter()])
    index.add(sub)
    event = sign(ALICE, 1, "")
    index.notify(event, event.to_json())
    assert sink.frames == [] and sub.pending is not None and len(sub.pending) == 1
    frame_size = len(sub.pending[0][1])
    assert sink.held == sub.pending_bytes == frame_size


def test_filters_naming_the_same_tags_in_another_order_are_one_group():
    index = Index()
    sink = Sink()
    live(index, sink, "tp", {"#t": ["river"], "#p": [BOB.public_hex], "kinds": [1]})
    live(index, sink, "pt", {"kinds": [1], "#p": [BOB.public_hex], "#t": ["river"]})
    live(index, sink, "t", {"#t": ["river"], "kinds": [1]})
    event = sign(ALICE, 1, "", [["t", "river"], ["p", BOB.public_hex]])
    assert sorted(len(group.subs) for group in index.candidates(event)) == [1, 2]
    assert index.notify(event, event.to_json()) == 3
