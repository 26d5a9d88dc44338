"""The mailing-list bridge's sealed record: which lists, and what each was already sent.

A list address names a society's list, and what was mailed when says which requests a
society relayed, so the whole record is sealed with the home key and padded like the
other local state (``bridge.sealed`` in the state folder, 0600); nothing of it is in
plain text. Sealed, it holds one entry per list address::

    {"version": 1, "lists": {"north-aid@lists.example": {
        "societies": ["north"], "relays": ["wss://relay.example"], "mode": "each",
        "extras": ["update", "report", "status"], "list_id": "north-aid.lists.example",
        "rate": 30, "since": 1767225600,
        "sent": {"r:30402:<pubkey>:<d>": 1767225700, "u:<event id>": 1767225800},
        "known": {"30402:<pubkey>:<d>": {"status": "active", "title": "Rent after the raid"}},
        "recent": [1767225700, 1767225800],
        "digest": {"day": "2026-01-01", "items": [<item dicts, see client/bridge.py>]}}}}

``known`` holds the requests a list got (their status, to mail a change, and title, for
the subject of an update). ``sent`` is written only after the SMTP server accepted a
message, so a crash between the two sends an item twice at worst, never loses it;
``since`` (the resume point of the relay query) never moves past an item that was not
sent. Every change goes through
:meth:`BridgeRecord.edit`, which re-reads the file under a lock, so ``mas bridge email
add`` in one terminal and the running bridge in another do not undo each other.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldmutual.client.config import normalize_relays
from shieldmutual.client.errors import ConfigError
from shieldmutual.client.mailer import check_recipient
from shieldmutual.client.vault import Home, locked
from shieldmutual.shared.aid.society import validate_slug
from shieldmutual.shared.errors import AidError

RECORD_FILE = "bridge.sealed"
PURPOSE = "mail-bridge"
EACH, DIGEST = "each", "digest"
MODES = (EACH, DIGEST)
UPDATE, REPORT, STATUS = "update", "report", "status"
EXTRAS = (UPDATE, REPORT, STATUS)
DEFAULT_RATE = 30  # messages an hour to one list: a flood of requests must not get it banned
MAX_SENT = 20_000  # per list; the oldest are forgotten first
MAX_DIGEST = 500  # items held for one day's digest
_RECORD_KEYS = ("sent", "known", "recent", "digest")
_LIST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,200}")


@dataclass
class ListEntry:
    """One list address: what it gets (config) and what it got (record)."""

    address: str
    societies: tuple[str, ...]
    relays: tuple[str, ...]
    mode: str = EACH
    extras: tuple[str, ...] = ()
    list_id: str = ""
    rate: int = DEFAULT_RATE
    since: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    known: dict[str, dict[str, str]] = field(default_factory=dict)
    recent: list[int] = field(default_factory=list)
    digest_day: str = ""
    digest_items: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            check_recipient(self.address)
            self.societies = tuple(dict.fromkeys(validate_slug(s) for s in self.societies))
        except AidError as exc:
            raise ConfigError(str(exc)) from None
        self.relays = tuple(normalize_relays(self.relays))
        if not self.societies or not self.relays:
            raise ConfigError(f"{self.address}: give at least one society and one relay")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}")
        unknown = set(self.extras) - set(EXTRAS)
        if unknown:
            raise ConfigError(f"unknown extras {sorted(unknown)}: choose from {', '.join(EXTRAS)}")
        self.extras = tuple(e for e in EXTRAS if e in self.extras)
        if not self.list_id:
            self.list_id = self.address.replace("@", ".")
        if not _LIST_ID.fullmatch(self.list_id):
            raise ConfigError(f"List-Id {self.list_id!r}: letters, digits, dots and hyphens")
        if self.rate < 1:
            raise ConfigError("rate must be at least one message an hour")

    def to_dict(self) -> dict[str, Any]:
        if len(self.sent) > MAX_SENT:
            self.sent = dict(sorted(self.sent.items(), key=lambda kv: kv[1])[-MAX_SENT:])
        if len(self.known) > MAX_SENT:
            self.known = dict(list(self.known.items())[-MAX_SENT:])
        return {
            "societies": list(self.societies),
            "relays": list(self.relays),
            "mode": self.mode,
            "extras": list(self.extras),
            "list_id": self.list_id,
            "rate": self.rate,
            "since": self.since,
            "sent": self.sent,
            "known": self.known,
            "recent": self.recent,
            "digest": {"day": self.digest_day, "items": self.digest_items},
        }

    @classmethod
    def from_dict(cls, address: str, data: dict[str, Any]) -> ListEntry:
        digest = dict(data.get("digest", {}))
        return cls(
            address=address,
            societies=tuple(data["societies"]),
            relays=tuple(data["relays"]),
            mode=str(data.get("mode", EACH)),
            extras=tuple(data.get("extras", ())),
            list_id=str(data.get("list_id", "")),
            rate=int(data.get("rate", DEFAULT_RATE)),
            since=int(data.get("since", 0)),
            sent={str(k): int(v) for k, v in dict(data.get("sent", {})).items()},
            known={str(k): dict(v) for k, v in dict(data.get("known", {})).items()},
            recent=[int(t) for t in data.get("recent", [])],
            digest_day=str(digest.get("day", "")),
            digest_items=list(digest.get("items", [])),
        )

    def public_dict(self) -> dict[str, Any]:
        """The configuration, for `mas bridge email list --json` (not the record)."""
        return {
            "address": self.address,
            **{k: v for k, v in self.to_dict().items() if k not in _RECORD_KEYS},
            "sent": len(self.sent),
            "digest_waiting": len(self.digest_items),
        }


@dataclass
class BridgeRecord:
    """The lists as loaded; change them only inside :meth:`edit`."""

    home: Home
    lists: dict[str, ListEntry] = field(default_factory=dict)

    @staticmethod
    def path_of(home: Home) -> Path:
        return home.paths.state_dir / RECORD_FILE

    @property
    def path(self) -> Path:
        return self.path_of(self.home)

    @classmethod
    def load(cls, home: Home) -> BridgeRecord:
        return cls(home, cls._read(home))

    @staticmethod
    def _read(home: Home) -> dict[str, ListEntry]:
        path = BridgeRecord.path_of(home)
        data = home.read(path, PURPOSE)
        try:
            raw = dict(data.get("lists", {}))
            return {a: ListEntry.from_dict(a, dict(v)) for a, v in raw.items()}
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ConfigError(f"{path}: the bridge record is damaged: {exc}") from None

    def refresh(self) -> None:
        self.lists = self._read(self.home)

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, ListEntry]]:
        """The lists fresh from disk, under the lock; saved (and kept here) on a clean exit."""
        with locked(self.path):
            lists = self._read(self.home)
            yield lists
            data = {"lists": {a: e.to_dict() for a, e in sorted(lists.items())}}
            self.home.write(self.path, PURPOSE, data)
        self.lists = lists
