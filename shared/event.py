"""The Nostr event (NIP-01): canonical serialization, id, signing, verification, parsing.

The id is always recomputed from parsed values, never hashed from the text we were
given. NIP-01 names seven characters to escape (``\\n \\" \\\\ \\r \\t \\b \\f``) and says
the rest go verbatim; it is silent on the other C0 controls, which are not legal raw in
JSON. Every widely used implementation (nostr-tools' ``JSON.stringify``, rust-nostr's
serde_json, orjson) writes those as ``\\u00XX``, so that is our canonical form and what we
sign. When verifying, an event whose id matches only the literal reading (raw control
bytes) is accepted too: both readings are in the wild and neither is forgeable.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, NamedTuple

import orjson

from shieldmutual.shared import keys
from shieldmutual.shared.errors import EventError
from shieldmutual.shared.hexid import is_hex64

Tags = list[list[str]]

_HEX128 = re.compile(r"[0-9a-f]{128}\Z").match
# C0 controls that NIP-01 does not name; only their presence makes two readings differ.
_OTHER_CONTROLS = re.compile(r"[\x00-\x07\x0b\x0e-\x1f]").search
_NIP01_LITERAL = str.maketrans(
    {"\n": "\\n", '"': '\\"', "\\": "\\\\", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
)
MAX_KIND = 65535
_FIELDS = ("id", "pubkey", "created_at", "kind", "tags", "content", "sig")


def _dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError as exc:  # lone surrogates cannot be encoded as UTF-8
        raise EventError(f"event text is not valid UTF-8: {exc}") from exc


def serialize(pubkey: str, created_at: int, kind: int, tags: Tags, content: str) -> bytes:
    """The canonical bytes whose SHA-256 is the event id."""
    return _dumps([0, pubkey, created_at, kind, tags, content])


def _literal_string(value: str) -> str:
    return '"' + value.translate(_NIP01_LITERAL) + '"'


def serialize_literal(pubkey: str, created_at: int, kind: int, tags: Tags, content: str) -> bytes:
    """NIP-01 read literally: other control characters raw. Only used to verify."""
    tag_text = ",".join("[" + ",".join(map(_literal_string, tag)) + "]" for tag in tags)
    text = f'[0,"{pubkey}",{created_at},{kind},[{tag_text}],{_literal_string(content)}]'
    return text.encode("utf-8", "strict")


def compute_id(pubkey: str, created_at: int, kind: int, tags: Tags, content: str) -> str:
    return sha256(serialize(pubkey, created_at, kind, tags, content)).hexdigest()


def _has_other_controls(tags: Tags, content: str) -> bool:
    return bool(_OTHER_CONTROLS(content)) or any(
        _OTHER_CONTROLS(value) for tag in tags for value in tag
    )


class EventTemplate(NamedTuple):
    """What a builder says before anyone authors it (no pubkey, time or id, as in
    nostr-tools): ``sign(key, *template)`` makes an :class:`Event` of it,
    ``nip59.make_rumor(pubkey, *template)`` a :class:`Rumor`."""

    kind: int
    content: str
    tags: Tags


@dataclass(frozen=True, slots=True)
class Rumor:
    """An unsigned event with its id (NIP-59's rumor, a template once authored).

    A signed :class:`Event` is a rumor plus ``sig``, so everything that reads an event's
    fields (the aid parsers, NIP-13, NIP-40) takes a ``Rumor`` and accepts both.
    """

    id: str
    pubkey: str
    created_at: int
    kind: int
    tags: Tags
    content: str

    @classmethod
    def from_dict(cls, data: Any) -> Rumor:
        """Parse a rumor (no ``sig``); a missing id is computed, a wrong one is refused."""
        if not isinstance(data, dict):
            raise EventError("rumor must be a JSON object")
        try:
            pubkey, created_at, kind, tags, content = (data[f] for f in _FIELDS[1:6])
        except KeyError as exc:
            raise EventError(f"rumor is missing field {exc.args[0]!r}") from None
        _check_body(pubkey, created_at, kind, tags, content)
        expected = compute_id(pubkey, created_at, kind, tags, content)
        if data.get("id") and data["id"] != expected:
            raise EventError("rumor id does not match its content")
        return cls(expected, pubkey, created_at, kind, tags, content)

    def to_dict(self) -> dict[str, Any]:
        """The NIP-01 fields but ``sig``, in NIP-01 order (a literal: this is on the hot path)."""
        return {
            "id": self.id,
            "pubkey": self.pubkey,
            "created_at": self.created_at,
            "kind": self.kind,
            "tags": self.tags,
            "content": self.content,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    def tag_values(self, name: str) -> list[str]:
        """Second element of every tag called ``name``, in order."""
        return [tag[1] for tag in self.tags if len(tag) > 1 and tag[0] == name]

    def first_tag(self, name: str) -> str | None:
        for tag in self.tags:
            if len(tag) > 1 and tag[0] == name:
                return tag[1]
        return None


@dataclass(frozen=True, slots=True)
class Event(Rumor):
    """A signed event. Construct through :func:`sign`, :meth:`from_dict` or :meth:`from_json`."""

    sig: str

    @classmethod
    def from_dict(cls, data: Any) -> Event:
        """Check shape and types exactly; no id or signature check (see :meth:`verify`)."""
        if not isinstance(data, dict):
            raise EventError("event must be a JSON object")
        try:
            id_, pubkey, created_at, kind, tags, content, sig = (data[f] for f in _FIELDS)
        except KeyError as exc:
            raise EventError(f"event is missing field {exc.args[0]!r}") from None
        if not isinstance(id_, str) or not is_hex64(id_):
            raise EventError("event id must be 64 lowercase hex characters")
        if not isinstance(sig, str) or not _HEX128(sig):
            raise EventError("event sig must be 128 lowercase hex characters")
        _check_body(pubkey, created_at, kind, tags, content)
        return cls(id_, pubkey, created_at, kind, tags, content, sig)

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise EventError(f"event is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        data = Rumor.to_dict(self)
        data["sig"] = self.sig
        return data

    def id_matches(self) -> bool:
        args = (self.pubkey, self.created_at, self.kind, self.tags, self.content)
        if sha256(serialize(*args)).hexdigest() == self.id:
            return True
        if _has_other_controls(self.tags, self.content):
            return sha256(serialize_literal(*args)).hexdigest() == self.id
        return False

    def signature_valid(self) -> bool:
        return keys.verify(
            bytes.fromhex(self.pubkey), bytes.fromhex(self.id), bytes.fromhex(self.sig)
        )

    def verify(self) -> None:
        """Raise :class:`EventError` unless the id matches the content and the signature holds."""
        if not self.id_matches():
            raise EventError("event id does not match its content")
        if not self.signature_valid():
            raise EventError("event signature is not valid")

    def is_valid(self) -> bool:
        return self.id_matches() and self.signature_valid()

    @property
    def d_tag(self) -> str:
        """The addressable-event identifier; a missing ``d`` counts as the empty string."""
        return self.first_tag("d") or ""


def _check_body(pubkey: Any, created_at: Any, kind: Any, tags: Any, content: Any) -> None:
    """The field rules a rumor and a signed event share (everything but ``id`` and ``sig``)."""
    if not isinstance(pubkey, str) or not is_hex64(pubkey):
        raise EventError("event pubkey must be 64 lowercase hex characters")
    if type(created_at) is not int or not 0 <= created_at < 2**63:
        raise EventError("event created_at must be a non-negative integer")
    if type(kind) is not int or not 0 <= kind <= MAX_KIND:
        raise EventError(f"event kind must be an integer from 0 to {MAX_KIND}")
    if not isinstance(content, str):
        raise EventError("event content must be a string")
    check_tags(tags)


def check_tags(tags: Any) -> None:
    """Raise :class:`EventError` unless ``tags`` is a list of non-empty lists of strings."""
    if not isinstance(tags, list):
        raise EventError("event tags must be an array")
    for tag in tags:
        if not isinstance(tag, list) or not tag:
            raise EventError("each event tag must be a non-empty array of strings")
        for value in tag:
            if not isinstance(value, str):
                raise EventError("each event tag must be a non-empty array of strings")


def sign(
    secret: keys.SecretKey,
    kind: int,
    content: str = "",
    tags: Iterable[Sequence[str]] = (),
    created_at: int | None = None,
) -> Event:
    """Build, hash and sign an event. ``created_at`` defaults to now."""
    # A str is a Sequence[str] too: keep it whole so check_tags rejects it, not split it.
    tag_list: Any = (
        tags if isinstance(tags, str) else [t if isinstance(t, str) else list(t) for t in tags]
    )
    when = int(time.time()) if created_at is None else created_at
    pubkey = secret.public_hex
    # The same rules as from_dict: never sign what we would refuse to parse.
    _check_body(pubkey, when, kind, tag_list, content)
    id_bytes = sha256(serialize(pubkey, when, kind, tag_list, content)).digest()
    return Event(id_bytes.hex(), pubkey, when, kind, tag_list, content, secret.sign(id_bytes).hex())
