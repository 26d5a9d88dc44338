"""Who may see a gift wrap (kind 1059): the one home of that rule.

A wrap is for the keys its ``p`` tags name, and a connection holds exactly the keys it
proved with NIP-42 AUTH. Everywhere the relay hands out events the same rule applies,
from here:

* stored results (REQ), COUNT and NIP-77 sets: the store is given the reader's keys and
  runs each filter as :func:`for_viewer` rewrites it, so SQL never returns, counts or
  lists a wrap addressed to somebody else (each store writes the remaining per-row
  ``p`` check in its own dialect);
* live delivery: :func:`audience` drops the subscriptions whose connection may not see
  the event;
* refusals: a REQ, COUNT or NEG-OPEN asking only for wraps without AUTH is told why
  (:func:`refusal`, a filter rule of :mod:`~shieldmutual.relay.policy`);
* ingest: a wrap naming no recipient could never be served (:func:`recipients`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Protocol, TypeVar

from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.kinds import GIFT_WRAP
from shieldmutual.shared.nip01prefix import auth_required

AUTH_FOR_WRAPS = auth_required("gift wraps (kind 1059) are served only to their recipient")
_WRAPS = frozenset({GIFT_WRAP})


class Reader(Protocol):
    """A connection as this rule sees it: the keys it authenticated."""

    @property
    def authed(self) -> Set[str]: ...


class _HasReader(Protocol):
    @property
    def conn(self) -> Reader: ...


S = TypeVar("S", bound=_HasReader)


def recipients(event: Event) -> list[str]:
    """The keys a wrap is for."""
    return event.tag_values("p")


def audience(event: Event, subs: list[S]) -> list[S]:
    """Those of ``subs`` whose connection may receive ``event`` live."""
    if event.kind != GIFT_WRAP:
        return subs
    to = frozenset(recipients(event))
    return [sub for sub in subs if not to.isdisjoint(sub.conn.authed)]


def refusal(filters: Sequence[Filter], authed: Set[str]) -> str | None:
    """NIP-42: asking only for wraps without AUTH is told why, not answered empty."""
    if not authed and all(f.kinds == _WRAPS for f in filters):
        return AUTH_FOR_WRAPS
    return None


@dataclass(frozen=True, slots=True)
class Visible:
    """A filter as one viewer may run it; ``viewer`` is set when the SQL must still
    check each kind 1059 row's ``p`` tags against it."""

    filter: Filter
    viewer: frozenset[str] | None = None


def for_viewer(f: Filter, viewer: frozenset[str]) -> Visible | None:
    """``f`` restricted to the gift wraps addressed to ``viewer``; None: nothing left.

    A filter that cannot return kind 1059 runs as is. One that asks only for wraps
    and names no ``p`` gets ``#p: viewer``, which is exactly the rule and walks the
    tag index. Otherwise each candidate wrap is checked in the SQL.
    """
    if f.kinds is not None and GIFT_WRAP not in f.kinds:
        return Visible(f)
    if not viewer:
        if f.kinds is None:
            return Visible(f, viewer)
        rest = f.kinds - _WRAPS
        return Visible(dataclasses.replace(f, kinds=rest)) if rest else None
    if f.kinds == _WRAPS and "p" not in f.tags:
        return Visible(dataclasses.replace(f, tags={**f.tags, "p": viewer}))
    return Visible(f, viewer)
