"""NIP-01 filters: a strict model and the pure matcher every store must agree with.

Validation is strict (exact 64-char hex for ids, authors, ``#e`` and ``#p``; unknown
fields refused) because a silently ignored typo turns into "match everything". Every
number is bounded when it is parsed (``since``, ``until`` and ``limit`` fit a signed
64-bit integer, which is what SQLite stores), so no later layer meets a value it cannot
handle. The matcher is the reference the SQLite store is differentially tested against.

A NIP-50 search with words never matches a gift wrap (kind 1059): its content is
ciphertext, and the relay keeps wraps out of its full-text index, whose segments would
otherwise group them with the public events that arrived alongside them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shieldmutual.shared.errors import FilterError
from shieldmutual.shared.event import MAX_KIND, Event
from shieldmutual.shared.hexid import is_hex64
from shieldmutual.shared.kinds import GIFT_WRAP

# NIP-01: a tag can be named in a filter (``#x``) and is indexed when its name is one
# letter a-z or A-Z. A set, so the relay's per-event checks are one lookup.
TAG_LETTERS = frozenset(string.ascii_letters)
# Letters and digits only, as SQLite FTS5's unicode61 tokenizer splits words.
_WORD = re.compile(r"[^\W_]+")
# Tags whose values are event ids or public keys, so must be exact hex (NIP-01).
_HEX_TAGS = frozenset("ep")
# Tags of aid requests (NIP-99) that search reads besides content.
SEARCH_TAGS = ("title", "summary")
# The largest since, until or limit: SQLite's integers are signed 64-bit.
MAX_FILTER_INT = 2**63 - 1


def _strings(key: str, value: Any, hex64: bool) -> frozenset[str]:
    if not isinstance(value, list):
        raise FilterError(f"filter {key!r} must be an array")
    for item in value:
        if not isinstance(item, str):
            raise FilterError(f"filter {key!r} must contain only strings")
        if hex64 and not is_hex64(item):
            raise FilterError(f"filter {key!r} values must be 64 lowercase hex characters")
    return frozenset(value)


def _bounded(key: str, value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_FILTER_INT:
        raise FilterError(f"filter {key!r} must be an integer from 0 to 2^63-1")
    return value


def search_terms(query: str) -> tuple[str, ...]:
    """Lower-cased words of a NIP-50 query; ``key:value`` extensions are ignored."""
    words = (part for part in query.split() if ":" not in part)
    return tuple(w.lower() for part in words for w in _WORD.findall(part))


def searchable_text(event: Event) -> str:
    """The text NIP-50 search looks at: content plus the title and summary of listings."""
    extra = [tag[1] for tag in event.tags if len(tag) > 1 and tag[0] in SEARCH_TAGS]
    return " ".join([event.content, *extra])


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter; ``None`` means "no constraint", an empty set matches nothing."""

    ids: frozenset[str] | None = None
    authors: frozenset[str] | None = None
    kinds: frozenset[int] | None = None
    tags: Mapping[str, frozenset[str]] = field(default_factory=dict)
    since: int | None = None
    until: int | None = None
    limit: int | None = None
    search: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Filter:
        if not isinstance(data, dict):
            raise FilterError("filter must be a JSON object")
        values: dict[str, Any] = {}
        tags: dict[str, frozenset[str]] = {}
        for key, value in data.items():
            if key in ("ids", "authors"):
                values[key] = _strings(key, value, hex64=True)
            elif key == "kinds":
                if not isinstance(value, list) or not all(
                    type(k) is int and 0 <= k <= MAX_KIND for k in value
                ):
                    raise FilterError(f"filter 'kinds' must be integers from 0 to {MAX_KIND}")
                values["kinds"] = frozenset(value)
            elif key in ("since", "until", "limit"):
                values[key] = _bounded(key, value)
            elif key == "search":
                if not isinstance(value, str):
                    raise FilterError("filter 'search' must be a string")
                values["search"] = value
            elif len(key) == 2 and key[0] == "#" and key[1] in TAG_LETTERS:
                tags[key[1]] = _strings(key, value, hex64=key[1] in _HEX_TAGS)
            else:
                raise FilterError(f"unknown filter field {key!r}")
        return cls(tags=tags, **values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ids is not None:
            out["ids"] = sorted(self.ids)
        if self.authors is not None:
            out["authors"] = sorted(self.authors)
        if self.kinds is not None:
            out["kinds"] = sorted(self.kinds)
        for letter, values in sorted(self.tags.items()):
            out["#" + letter] = sorted(values)
        for key in ("since", "until", "limit", "search"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def is_empty_result(self) -> bool:
        """True when the filter can match nothing (an empty list, or since > until)."""
        sets = (self.ids, self.authors, self.kinds, *self.tags.values())
        if any(s is not None and not s for s in sets):
            return True
        if self.limit == 0:
            return True
        return self.since is not None and self.until is not None and self.since > self.until

    def matches(self, event: Event) -> bool:
        """Every condition holds; ``limit`` is ignored (it bounds stored results only)."""
        if self.ids is not None and event.id not in self.ids:
            return False
        if self.authors is not None and event.pubkey not in self.authors:
            return False
        if self.kinds is not None and event.kind not in self.kinds:
            return False
        if self.since is not None and event.created_at < self.since:
            return False
        if self.until is not None and event.created_at > self.until:
            return False
        for letter, wanted in self.tags.items():
            if not any(len(t) > 1 and t[0] == letter and t[1] in wanted for t in event.tags):
                return False
        if self.search is not None:
            terms = search_terms(self.search)
            if terms:
                if event.kind == GIFT_WRAP:
                    return False
                words = {w.lower() for w in _WORD.findall(searchable_text(event))}
                return all(term in words for term in terms)
        return True


def matches_any(filters: Iterable[Filter], event: Event) -> bool:
    return any(f.matches(event) for f in filters)
