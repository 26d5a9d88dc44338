"""Kind 0 profiles (NIP-01 ``name``/``about``/``picture``, NIP-24 extras, NIP-57 ``lud16``).

A profile is public metadata a person chooses for themselves: a name that others'
clients show, a line about them, a picture URL, and a Lightning address (``lud16``,
LUD-16's ``user@domain``) so a zap from any ordinary Nostr app reaches them directly.

Writing is strict (the fields we write are checked here, so `mas id profile` fails
with one clear line rather than publish something other apps misread). Reading is
tolerant: a stranger's kind 0 is a JSON object of whatever they like, so a field of
the wrong type or shape is ignored, never fatal. Publishing merges: a kind 0 replaces
the whole previous one, so :func:`merge` keeps every field the person did not change,
including fields other apps wrote (``nip05``, ``banner``, ...).

The name read here is chosen by a stranger and is never a petname: see client/names.py
for how the two are shown apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import check_line, check_text
from shieldmutual.shared.errors import AidError, InvalidError
from shieldmutual.shared.event import EventTemplate, Rumor

# The fields `mas id profile` writes; others already in a profile are kept as they are.
WRITABLE = ("name", "about", "picture", "lud16")
MAX_NAME = 64
MAX_ABOUT = 2000
MAX_URL = 2000
MAX_CONTENT = 64 * 1024  # a stranger's kind 0 bigger than this is not read at all
# LUD-16: a lowercase user part, then a domain with at least one dot (onion too).
_LUD16 = re.compile(
    r"[a-z0-9._+-]{1,64}@(?=.{4,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z"
).match


def check_name(value: object) -> str:
    return check_line(value, "profile name", MAX_NAME)


def check_about(value: object) -> str:
    return check_text(value, "profile about", MAX_ABOUT)


def check_picture(value: object) -> str:
    """An http(s) URL with a host: what every app can load, and nothing else (no
    ``javascript:``, ``file:`` or ``data:``)."""
    url = check_line(value, "picture URL", MAX_URL)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in url:
        raise InvalidError(f"picture must be an http(s) URL, got {url!r}")
    return url


def check_lud16(value: object) -> str:
    """A Lightning address (LUD-16 ``user@domain``), lowercased as LUD-16 requires."""
    text = check_line(value, "Lightning address", 320).lower()
    if not _LUD16(text):
        raise InvalidError(f"lud16 must be a Lightning address like name@example.com, got {text!r}")
    return text


_CHECKS = {"name": check_name, "about": check_about, "picture": check_picture, "lud16": check_lud16}


@dataclass(frozen=True, slots=True)
class Profile:
    """One person's kind 0 as read: the fields we use, and the whole object for merging."""

    pubkey: str
    created_at: int
    name: str | None = None
    about: str | None = None
    picture: str | None = None
    lud16: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pubkey": self.pubkey,
            "created_at": self.created_at,
            **{name: getattr(self, name) for name in WRITABLE},
        }


def _usable(name: str, value: object) -> str | None:
    try:
        return _CHECKS[name](value.strip() if isinstance(value, str) else value)
    except InvalidError:
        return None


def parse_profile(event: Rumor) -> Profile:
    """A kind 0's profile; fields that fail our checks read as absent. ``name`` falls
    back to NIP-24's ``display_name`` (some apps write only that)."""
    if event.kind != kinds.METADATA:
        raise AidError(f"a profile is kind {kinds.METADATA}, not {event.kind}")
    if len(event.content) > MAX_CONTENT:
        raise AidError("profile content is too large")
    try:
        data = json.loads(event.content)
    except ValueError:
        raise AidError("profile content is not JSON") from None
    if not isinstance(data, dict):
        raise AidError("profile content is not a JSON object")
    name = _usable("name", data.get("name")) or _usable("name", data.get("display_name"))
    return Profile(
        pubkey=event.pubkey,
        created_at=event.created_at,
        name=name,
        about=_usable("about", data.get("about")),
        picture=_usable("picture", data.get("picture")),
        lud16=_usable("lud16", data.get("lud16")),
        fields=data,
    )


def latest_profiles(events: Iterable[Rumor]) -> dict[str, Profile]:
    """The newest readable profile of each author (kind 0 is replaceable: NIP-01 keeps
    the newest, and the lowest id on a tie)."""
    found: dict[str, tuple[tuple[int, str], Profile]] = {}
    for event in events:
        if event.kind != kinds.METADATA:
            continue
        try:
            profile = parse_profile(event)
        except AidError:
            continue
        rank = (-event.created_at, event.id)
        if event.pubkey not in found or rank < found[event.pubkey][0]:
            found[event.pubkey] = (rank, profile)
    return {pubkey: profile for pubkey, (_, profile) in found.items()}


def merge(current: Mapping[str, Any], changes: Mapping[str, str | None]) -> dict[str, Any]:
    """``current``'s fields with ``changes`` applied: a value sets a field (checked), an
    empty string removes it, ``None`` leaves it as it was."""
    merged = dict(current)
    for name, value in changes.items():
        if name not in _CHECKS:
            raise InvalidError(f"{name!r} is not a profile field we write")
        if value is None:
            continue
        if value.strip() == "":
            merged.pop(name, None)
        else:
            merged[name] = _CHECKS[name](value.strip())
    return merged


def profile_template(fields: Mapping[str, Any]) -> EventTemplate:
    """The kind 0 to publish: the fields as one JSON object, keys in a stable order."""
    content = json.dumps(dict(fields), ensure_ascii=False, sort_keys=True)
    return EventTemplate(kinds.METADATA, content, [])
