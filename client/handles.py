"""Short local handles for listed requests and offers: a row number and a stable short id.

An naddr is ~150 characters: a table wraps it over many lines and nobody can copy or
type it. Every listing (`mas request list`, `mas feed`, `mas offer list`, `mas whois`)
numbers its rows and shows each address's short id, ``#`` and the first hex digits of
``sha256(coordinate)`` (more digits only when two remembered addresses share them, as
git does). Commands then take ``1``, ``#a1b2c3``, a unique title, or the naddr.

What was listed names societies' requests and the people behind them, so the store is
sealed with the home key and padded like the other local files (client/vault.py):
``handles.sealed`` in the state folder, mode 0600. Nothing about handles is ever sent to
a relay: they resolve here to the address (and the relay hints it was listed with)::

    {
      "version": 1,
      "entries": {"30402:<pk>:<d>": {"kind": "request", "title": "...",
                                     "relays": ["wss://..."], "at": 1767225600}},
      "last": {"request": ["30402:<pk>:<d>", ...], "offer": [...]}
    }

``last`` keeps the numbering of the latest listing of each kind, so `mas pledge 1 --offer
1` takes row 1 of the last request listing and row 1 of the last offer listing. Both
are bounded: the entries least recently listed are forgotten first.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldmutual.client.errors import ConfigError
from shieldmutual.client.vault import Home
from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.errors import AidError, InvalidError

HANDLES_FILE = "handles.sealed"
PURPOSE = "handles"
KINDS = ("request", "offer")
MAX_ENTRIES = 2_000
MAX_ROWS = 500  # numbers kept per kind: more rows than any listing shows
ID_DIGITS = 6
MAX_CANDIDATES = 8

_SHORT_ID = re.compile(r"#?([0-9a-f]{4,64})", re.IGNORECASE)


def digest(coordinate: str) -> str:
    return hashlib.sha256(coordinate.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Handle:
    """How a listed row is named: its number in the last listing and its short id."""

    number: int
    id: str  # "#a1b2c3"

    def fields(self) -> dict[str, Any]:
        """What ``--json`` adds beside the full naddr."""
        return {"number": self.number, "handle": self.id}


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    title: str
    relays: tuple[str, ...]
    at: int


@dataclass
class Handles:
    """The handle store; :meth:`save` after listing."""

    home: Home
    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    last: dict[str, list[str]] = field(default_factory=dict)
    _digests: list[str] | None = None

    @classmethod
    def load(cls, home: Home) -> Handles:
        path = home.paths.state_dir / HANDLES_FILE
        data = home.read(path, PURPOSE)
        try:
            entries = {
                str(coordinate): Entry(
                    _kind(e["kind"]), str(e["title"]), tuple(map(str, e["relays"])), int(e["at"])
                )
                for coordinate, e in dict(data.get("entries", {})).items()
            }
            last = {_kind(k): [str(c) for c in v] for k, v in dict(data.get("last", {})).items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{path}: the handle store is damaged: {exc}") from None
        last = {k: [c for c in v if c in entries] for k, v in last.items()}
        return cls(home, path, entries, last)

    def save(self) -> None:
        if len(self.entries) > MAX_ENTRIES:
            listed = {c for rows in self.last.values() for c in rows}
            order = sorted(self.entries, key=lambda c: (c in listed, self.entries[c].at))
            for coordinate in order[: len(self.entries) - MAX_ENTRIES]:
                del self.entries[coordinate]
            self._digests = None
        data = {
            "entries": {
                c: {"kind": e.kind, "title": e.title, "relays": list(e.relays), "at": e.at}
                for c, e in self.entries.items()
            },
            "last": {k: v for k, v in self.last.items() if v},
        }
        self.home.write(self.path, PURPOSE, data)

    # -- listing --

    def start(self, kind: str) -> None:
        """A new listing of ``kind``: its rows are numbered from 1 again."""
        self.last[_kind(kind)] = []

    def add(
        self, kind: str, address: Address, title: str, relays: Sequence[str], now: int | None = None
    ) -> Handle:
        """The handle of a row of the current listing of ``kind`` (numbered on first sight,
        so a live feed's numbers stay put while new rows arrive above them)."""
        coordinate = str(address)
        at = int(time.time()) if now is None else now
        if coordinate not in self.entries:
            self._digests = None
        self.entries[coordinate] = Entry(kind, title, tuple(relays[:3]), at)
        rows = self.last.setdefault(_kind(kind), [])
        if coordinate not in rows:
            rows.append(coordinate)
            del rows[:-MAX_ROWS]
        return Handle(rows.index(coordinate) + 1, self.short_id(coordinate))

    def short_id(self, coordinate: str) -> str:
        """``#`` and the first digits of the address's hash: six, or as many more as it
        takes to differ from every other remembered address."""
        if self._digests is None:
            self._digests = sorted(digest(c) for c in self.entries)
        mine = digest(coordinate)
        at = bisect.bisect_left(self._digests, mine)
        neighbours = [self._digests[i] for i in (at - 1, at + 1) if 0 <= i < len(self._digests)]
        if at < len(self._digests) and self._digests[at] != mine:
            neighbours.append(self._digests[at])
        shared = max((_common(mine, other) for other in neighbours), default=0)
        return "#" + mine[: max(ID_DIGITS, shared + 1)]

    # -- resolving --

    def resolve(self, text: str, kind: str) -> tuple[Address, tuple[str, ...]]:
        """The address named by a row number, a short id or a title of ``kind`` (an
        :class:`InvalidError`, exit 2, when it names none or several)."""
        value = " ".join(text.split())
        what = _kind(kind)
        # A row number is short (listings keep at most MAX_ENTRIES rows); six digits or more
        # are a short id that happens to have no letter, typed without its '#'.
        if value.isdigit() and len(value) < ID_DIGITS:
            return self._by_number(int(value), what)
        hexed = _SHORT_ID.fullmatch(value)
        if hexed is not None:
            prefix = hexed[1].lower()
            found = self._matching(what, lambda c: digest(c).startswith(prefix))
            if found or value.startswith("#"):
                return self._one(found, value, what)
        wanted = value.casefold()
        exact = self._titled(what, lambda title: " ".join(title.split()).casefold() == wanted)
        if exact:
            return self._one(exact, value, what)
        return self._one(self._titled(what, lambda title: wanted in title.casefold()), value, what)

    def _by_number(self, number: int, kind: str) -> tuple[Address, tuple[str, ...]]:
        rows = self.last.get(kind, [])
        if not rows:
            raise InvalidError(
                f"no {kind} listing remembered: list them first ({_listers(kind)}) or give an naddr"
            )
        if not 1 <= number <= len(rows):
            raise InvalidError(f"your last {kind} listing has rows 1 to {len(rows)}, not {number}")
        return self._pointer(rows[number - 1])

    def _matching(self, kind: str, test: Callable[[str], bool]) -> list[str]:
        """The coordinates of ``kind`` that pass ``test``."""
        return [c for c, e in self.entries.items() if e.kind == kind and test(c)]

    def _titled(self, kind: str, test: Callable[[str], bool]) -> list[str]:
        """The coordinates of ``kind`` whose title passes ``test``."""
        return [c for c, e in self.entries.items() if e.kind == kind and test(e.title)]

    def _one(self, found: list[str], value: str, kind: str) -> tuple[Address, tuple[str, ...]]:
        if len(found) == 1:
            return self._pointer(found[0])
        if not found:
            raise InvalidError(
                f"no {kind} you listed matches {value!r}: give a number or #id from "
                f"{_listers(kind)}, a title shown there, or the naddr"
            )
        shown = sorted(found, key=lambda c: -self.entries[c].at)[:MAX_CANDIDATES]
        named = "; ".join(f"{self.short_id(c)} {self.entries[c].title}" for c in shown)
        more = f" and {len(found) - len(shown)} more" if len(found) > len(shown) else ""
        raise InvalidError(
            f"{value!r} matches {len(found)} {kind}s: {named}{more}; give its #id or number"
        )

    def _pointer(self, coordinate: str) -> tuple[Address, tuple[str, ...]]:
        try:
            address = Address.parse(coordinate, kinds.CLASSIFIED)
        except AidError as exc:
            raise ConfigError(f"{self.path}: the handle store is damaged: {exc}") from None
        return address, self.entries[coordinate].relays


def _kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind of listing {kind!r}")
    return str(kind)


def _common(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))


def _listers(kind: str) -> str:
    return f"`mas {kind} list` or `mas feed`"
