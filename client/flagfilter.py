"""A NIP-01 filter from command-line flags (`mas req`, `mas sync`).

Keys and ids may be given in any form a person has (hex, npub, nprofile, note, nevent),
times as a moment or a duration ago (client/timeparse.py); a tag without ``=`` is a
hashtag. The result is checked by :meth:`Filter.from_dict`, as a relay would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shieldmutual.client.timeparse import parse_time
from shieldmutual.shared import nip19
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.filter import TAG_LETTERS, Filter


def build_filter(
    *,
    kinds: Iterable[int] = (),
    authors: Iterable[str] = (),
    ids: Iterable[str] = (),
    tags: Iterable[str] = (),
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    search: str | None = None,
    now: int | None = None,
) -> Filter:
    """A filter from `mas req` flags. A tag without ``=`` is a hashtag (``#t``)."""
    data: dict[str, Any] = {}
    if kinds:
        data["kinds"] = sorted(set(kinds))
    if authors:
        data["authors"] = sorted({nip19.pubkey_hex(a) for a in authors})
    if ids:
        data["ids"] = sorted({nip19.event_id_hex(i) for i in ids})
    for text in tags:
        key, sep, value = text.partition("=")
        if not sep:
            key, value = "t", text
        if key not in TAG_LETTERS:
            raise InvalidError(f"tag filter {text!r}: the key must be one letter (e.g. t=food)")
        if key == "p":
            value = nip19.pubkey_hex(value)
        elif key == "e":
            value = nip19.event_id_hex(value)
        data.setdefault("#" + key, []).append(value)
    if since is not None:
        data["since"] = parse_time(since, now)
    if until is not None:
        data["until"] = parse_time(until, now)
    if limit is not None:
        data["limit"] = limit
    if search is not None:
        data["search"] = search
    return Filter.from_dict(data)
