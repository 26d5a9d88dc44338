"""Local, private client state: the societies a person follows and the requests they saw.

Following a society is a *local filter*: the protocol's first promise is that no
membership list exists anywhere, so this file is never published, uploaded or sent to
a relay (docs/PROTOCOL.md §16). A seized laptop must not be one either, so it is sealed
with the home key and padded (client/vault.py): ``local.sealed`` in the state folder
(``$MAS_HOME/state`` or the platform's state directory), mode 0600, written atomically.
Sealed, it holds::

    {
      "version": 1,
      "follows": {"north": {"since": 1767225600, "members": ["leeds-care", "york-care"]}},
      "seen": {"30402:<pubkey>:<d>": 1767225700}
    }

``members`` holds the member societies of a syndicate when the person chose to expand
it (``mas follow mas-north --members``); ``seen`` remembers which requests were already
shown, so ``mas feed --bell`` rings only for new ones. It is bounded (the oldest
entries are forgotten first) so it cannot grow without end on a long-running feed. The
plain ``state.json`` of older versions is sealed and removed on first use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from shieldmutual.client.errors import ConfigError
from shieldmutual.client.vault import Home
from shieldmutual.shared.aid.society import mas_tag, validate_slug
from shieldmutual.shared.errors import AidError

STATE_FILE = "local.sealed"
LEGACY_FILE = "state.json"
PURPOSE = "local-state"
VERSION = 1
MAX_SEEN = 20_000


class Follow(NamedTuple):
    """One followed society; ``members`` are syndicate members followed through it."""

    slug: str
    since: int
    members: tuple[str, ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        """The ``#t`` values this follow adds to the local filter."""
        return tuple(dict.fromkeys(mas_tag(s) for s in (self.slug, *self.members)))


@dataclass
class LocalState:
    """The state file's content; call :meth:`save` after changing it."""

    home: Home
    path: Path
    follows: dict[str, Follow] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Home) -> LocalState:
        path = home.paths.state_dir / STATE_FILE
        legacy = path.with_name(LEGACY_FILE)
        data = home.read(path, PURPOSE)
        if not data and legacy.exists():
            try:
                data = json.loads(legacy.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{legacy}: local state is not readable JSON: {exc}") from None
        try:
            state = cls(home, path, _follows(data), _seen(data))
        except (AidError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{path}: local state is damaged: {exc}") from None
        if legacy.exists():
            state.save()
            legacy.unlink()
        return state

    def save(self) -> None:
        if len(self.seen) > MAX_SEEN:
            keep = sorted(self.seen.items(), key=lambda item: item[1])[-MAX_SEEN:]
            self.seen = dict(keep)
        data: dict[str, Any] = {
            "version": VERSION,
            "follows": {
                f.slug: {"since": f.since, "members": list(f.members)}
                for f in sorted(self.follows.values(), key=lambda f: f.slug)
            },
            "seen": self.seen,
        }
        self.home.write(self.path, PURPOSE, data)

    # -- follows --

    def follow(self, slug: str, members: Iterable[str] = (), now: int | None = None) -> bool:
        """Follow ``slug`` (and syndicate ``members``); False if nothing changed."""
        validate_slug(slug)
        wanted = tuple(dict.fromkeys(validate_slug(m) for m in members if m != slug))
        old = self.follows.get(slug)
        if old is not None:
            merged = tuple(dict.fromkeys([*old.members, *wanted]))
            if merged == old.members:
                return False
            self.follows[slug] = Follow(slug, old.since, merged)
            return True
        when = int(time.time()) if now is None else now
        self.follows[slug] = Follow(slug, when, wanted)
        return True

    def unfollow(self, slug: str) -> bool:
        return self.follows.pop(validate_slug(slug), None) is not None

    def follow_tags(self) -> list[str]:
        """Every ``#t`` value of the local follow filter, each once."""
        return list(dict.fromkeys(t for f in self.follows.values() for t in f.tags))

    # -- seen requests --

    def is_seen(self, key: str) -> bool:
        return key in self.seen

    def mark_seen(self, key: str, now: int | None = None) -> bool:
        """Remember ``key`` (a request coordinate); True if it was not seen before."""
        if key in self.seen:
            return False
        self.seen[key] = int(time.time()) if now is None else now
        return True


def _follows(data: dict[str, Any]) -> dict[str, Follow]:
    follows = {}
    for slug, entry in dict(data.get("follows", {})).items():
        members = tuple(validate_slug(m) for m in entry.get("members", []))
        follows[validate_slug(slug)] = Follow(slug, int(entry.get("since", 0)), members)
    return follows


def _seen(data: dict[str, Any]) -> dict[str, int]:
    return {str(key): int(when) for key, when in dict(data.get("seen", {})).items()}
