"""Pieces every aid event shares: templates, origins, coordinates, labels and validators.

Builders return an unsigned :class:`~shieldmutual.shared.event.EventTemplate` so the
caller's key (or a remote signer) signs; parsers take a
:class:`~shieldmutual.shared.event.Rumor`, and a signed event is one, so the rumor
inside a NIP-59 gift wrap parses exactly like a signed event. Every
validator raises :class:`AidError` with a one-line message the CLI can print as is.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shieldmutual.shared import nip19
from shieldmutual.shared.errors import AidError, EncodingError, InvalidError
from shieldmutual.shared.event import Rumor
from shieldmutual.shared.hexid import is_hex64
from shieldmutual.shared.relayurl import normalize_relay_url

Tags = list[list[str]]

# Our NIP-32 label namespace: what an event is for (pledge, received, update, vouch, ...).
NAMESPACE = "mas"
MUTUAL_AID = "mutualaid"
GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"
MAX_GEOHASH = 5
MAX_LINE = 300
MAX_TEXT = 32_000

_TOKEN = re.compile(r"[a-z][a-z0-9-]{0,31}\Z").match
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?\Z").match
_CURRENCY = re.compile(r"[A-Za-z][A-Za-z0-9]{2,7}\Z").match
_LANGUAGE = re.compile(r"[a-z]{2}\Z").match
# Characters that would break a one-line field: the code points of Unicode categories Cc
# (C0/C1 controls), Cs (surrogates), Zl and Zp (line and paragraph separators). Unicode's
# stability policy freezes these sets, so one precompiled class answers as a per-character
# `unicodedata.category` loop would, several times faster on the feed's parsing path.
LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
# Multi-line text: the same set less \n and \t.
TEXT_BREAKING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a parsed object came from; builders ignore it, parsers always fill it."""

    id: str
    pubkey: str
    created_at: int

    @classmethod
    def of(cls, event: Rumor) -> Origin:
        return cls(event.id, event.pubkey, event.created_at)


def origin_dict(origin: Origin | None) -> dict[str, Any]:
    """The event's id, author and time as JSON-ready values (``None`` before it is signed)."""
    return {
        "id": origin.id if origin else None,
        "author": origin.pubkey if origin else None,
        "created_at": origin.created_at if origin else None,
    }


@dataclass(frozen=True, slots=True)
class Address:
    """An addressable event's coordinate ``kind:pubkey:identifier`` (NIP-01 ``a`` tags)."""

    kind: int
    pubkey: str
    identifier: str

    def __post_init__(self) -> None:
        if type(self.kind) is not int or not 30000 <= self.kind < 40000:
            raise AidError(f"coordinate kind must be addressable (30000-39999), got {self.kind}")
        check_hex64(self.pubkey, "coordinate pubkey")

    def __str__(self) -> str:
        return f"{self.kind}:{self.pubkey}:{self.identifier}"

    @classmethod
    def parse(cls, text: str, kind: int | None = None) -> Address:
        """Parse ``kind:pubkey:identifier``; the identifier may itself contain colons."""
        parts = text.split(":", 2) if isinstance(text, str) else []
        if len(parts) != 3 or not parts[0].isdigit():
            raise AidError(f"not an event coordinate: {text!r}")
        address = cls(int(parts[0]), parts[1], parts[2])
        if kind is not None and address.kind != kind:
            raise AidError(f"coordinate {text!r} is not of kind {kind}")
        return address

    @classmethod
    def of(cls, event: Rumor) -> Address:
        return cls(event.kind, event.pubkey, d_tag(event.tags))

    def naddr(self, relays: Sequence[str] = ()) -> str:
        """NIP-19 ``naddr1...`` (without the ``nostr:`` scheme)."""
        try:
            return nip19.naddr_encode(self.identifier, self.pubkey, self.kind, tuple(relays))
        except EncodingError as exc:
            raise AidError(f"cannot encode naddr: {exc}") from None


# --- tags -----------------------------------------------------------------------------


def hinted(name: str, value: str, relay: str = "") -> list[str]:
    """A pointer tag with its relay hint only when there is one (no trailing ``""``)."""
    return [name, value, relay] if relay else [name, value]


class IndexedTags(list[list[str]]):
    """An event's tags with their ``name -> tags`` index, built in one pass.

    A parser asks for some fifteen names per event (the feed parses every request it
    shows); with the index each is a dict lookup, not a scan of every tag. It is still the
    plain list, so every helper takes it or a bare list alike. Built for one parse and
    never changed: the index does not follow edits.
    """

    __slots__ = ("by_name",)

    def __init__(self, tags: Tags) -> None:
        super().__init__(tags)
        self.by_name: dict[str, list[list[str]]] = {}
        for tag in tags:
            if len(tag) > 1:
                self.by_name.setdefault(tag[0], []).append(tag)


def indexed(tags: Tags) -> IndexedTags:
    """``tags`` with their index (as they are when already indexed)."""
    return tags if isinstance(tags, IndexedTags) else IndexedTags(tags)


def _named(tags: Tags, name: str) -> list[list[str]]:
    """The tags called ``name`` that have a value."""
    if isinstance(tags, IndexedTags):
        return tags.by_name.get(name, [])
    return [tag for tag in tags if len(tag) > 1 and tag[0] == name]


def values(tags: Tags, name: str) -> list[str]:
    return [tag[1] for tag in _named(tags, name)]


def first(tags: Tags, name: str) -> str | None:
    found = first_full(tags, name)
    return None if found is None else found[1]


def first_full(tags: Tags, name: str) -> list[str] | None:
    if isinstance(tags, IndexedTags):
        found = tags.by_name.get(name)
        return found[0] if found else None
    return next((tag for tag in tags if len(tag) > 1 and tag[0] == name), None)


def one(tags: Tags, name: str, what: str) -> str:
    """The value of the one ``name`` tag; missing or repeated is an error."""
    found = values(tags, name)
    if len(found) != 1:
        state = "missing" if not found else "repeated"
        raise AidError(f"{what}: tag {name!r} is {state}")
    return found[0]


def d_tag(tags: Tags) -> str:
    return first(tags, "d") or ""


def label_tags(value: str, namespace: str = NAMESPACE) -> Tags:
    """NIP-32 self-label: ``["L", ns]`` and ``["l", value, ns]``."""
    return [["L", namespace], ["l", value, namespace]]


def labels(tags: Tags, namespace: str = NAMESPACE) -> list[str]:
    """``l`` values marked with ``namespace`` (NIP-32: the mark must match an ``L``)."""
    if namespace not in values(tags, "L"):
        return []
    return [t[1] for t in _named(tags, "l") if len(t) > 2 and t[2] == namespace]


def require_kind(event: Rumor, kind: int, what: str) -> None:
    if event.kind != kind:
        raise AidError(f"{what} must be kind {kind}, got {event.kind}")


def require_label(event: Rumor, label: str, what: str) -> None:
    if label not in labels(event.tags):
        raise AidError(f"{what} must carry the label {label!r} in namespace {NAMESPACE!r}")


# --- validators -----------------------------------------------------------------------


def check_hex64(value: object, what: str) -> str:
    if not isinstance(value, str) or not is_hex64(value):
        raise AidError(f"{what} must be 64 lowercase hex characters")
    return value


def check_token(value: object, what: str) -> str:
    """A short lowercase word (payment method, action type): forward-compatible vocabulary."""
    if not isinstance(value, str) or not _TOKEN(value):
        raise AidError(f"{what} must be a short lowercase word, got {value!r}")
    return value


def _check_str(value: object, what: str, max_len: int, empty: bool, outer: str) -> str:
    """What one line and multi-line text share: text, not empty, bounded, no outer `outer`."""
    if not isinstance(value, str):
        raise AidError(f"{what} must be text")
    if not value and not empty:
        raise AidError(f"{what} must not be empty")
    if len(value) > max_len:
        raise AidError(f"{what} is longer than {max_len} characters")
    if value != value.strip():
        raise AidError(f"{what} must not start or end with {outer}")
    return value


def check_line(value: object, what: str, max_len: int = MAX_LINE, *, empty: bool = False) -> str:
    """One line of text: no line breaks or controls, no outer spaces, bounded length."""
    value = _check_str(value, what, max_len, empty, "spaces")
    if LINE_BREAKING.search(value):
        raise AidError(f"{what} must be one line without control characters")
    return value


def check_text(value: object, what: str, max_len: int = MAX_TEXT, *, empty: bool = True) -> str:
    """Multi-line text: ``\\n`` line breaks only (no ``\\r``), no outer blank space."""
    value = _check_str(value, what, max_len, empty, "blank space")
    bad = TEXT_BREAKING.search(value)
    if bad:
        raise AidError(f"{what} contains control character {bad.group()!r}")
    return value


def normalize_text(text: str) -> str:
    """What parsers do to foreign Markdown: ``\\r\\n`` and ``\\r`` to ``\\n``, outer space off."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def check_language(value: object) -> str:
    if not isinstance(value, str) or not _LANGUAGE(value):
        raise AidError(f"language must be a two-letter ISO-639-1 code, got {value!r}")
    return value


def check_geohash(value: object) -> str:
    """A coarse geohash: 1-5 characters of the geohash alphabet (about 5 km at 5)."""
    if not isinstance(value, str) or not value:
        raise AidError("geohash must be a non-empty string")
    if len(value) > MAX_GEOHASH:
        raise AidError(f"geohash {value!r} is too precise: at most {MAX_GEOHASH} characters")
    if any(c not in GEOHASH_ALPHABET for c in value):
        raise AidError(f"geohash {value!r} has characters outside the geohash alphabet")
    return value


def coarse_geohash(value: str, precision: int = MAX_GEOHASH) -> str:
    """Cut a precise geohash down to ``precision`` (<= 5) characters, then validate it."""
    if not 1 <= precision <= MAX_GEOHASH:
        raise AidError(f"geohash precision must be 1 to {MAX_GEOHASH}")
    return check_geohash(value.strip().lower()[:precision])


def check_relay(value: object) -> str:
    """A relay URL as written in an event (shared/relayurl.py's rule; kept as written)."""
    if isinstance(value, str) and "://" in value and value == value.strip():
        with contextlib.suppress(InvalidError):
            normalize_relay_url(value)
            return value
    raise AidError(f"relay must be a ws:// or wss:// URL, got {value!r}")


def check_timestamp(value: object, what: str) -> int:
    if type(value) is not int or not 0 <= value < 2**40:
        raise AidError(f"{what} must be a unix timestamp in seconds")
    return value


def parse_timestamp(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or not value.isascii() or len(value) > 12:
        raise AidError(f"{what} must be a unix timestamp in seconds, got {value!r}")
    return int(value)


def check_amount(value: object, what: str = "amount") -> Decimal:
    """A positive, finite decimal that fits NIP-99's plain ``"<number>"`` form."""
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise AidError(f"{what} must be a positive decimal number")
    if not _AMOUNT(format_amount(value)):
        raise AidError(f"{what} {value} has too many digits")
    return value


def format_amount(value: Decimal) -> str:
    """Plain notation, never exponent: ``Decimal("1E+2")`` -> ``"100"``."""
    return format(value, "f")


def parse_amount(text: object, what: str = "amount") -> Decimal:
    """Strict: digits with an optional fractional part; no sign, exponent or separators."""
    if not isinstance(text, str) or not _AMOUNT(text):
        raise AidError(f"{what} must be a plain positive number like 50 or 12.5, got {text!r}")
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise AidError(f"{what} is not a number: {text!r}") from None
    return check_amount(amount, what)


def check_currency(value: object) -> str:
    """ISO 4217 (``USD``) or ISO-4217-like (``btc``, ``sats``), as NIP-99 allows."""
    if not isinstance(value, str) or not _CURRENCY(value):
        raise AidError(f"currency must be a 3-8 letter code like USD or btc, got {value!r}")
    return value
