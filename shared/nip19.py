"""The NIP-19 entities: npub, nsec, note, nprofile, nevent, naddr (the codec is
:mod:`~shieldmutual.shared.bech32`).

32-byte keys and ids are returned as lowercase hex, the form NIP-01 events and filters use; encoders
accept hex or raw bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shieldmutual.shared import bech32, hexid
from shieldmutual.shared.errors import EncodingError

URI_SCHEME = "nostr:"
TLV_SPECIAL, TLV_RELAY, TLV_AUTHOR, TLV_KIND = 0, 1, 2, 3
_Tlv = dict[int, list[bytes]]


# --- NIP-19 typed values -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    """nprofile: a public key (hex) and relays where it is likely found."""

    pubkey: str
    relays: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventPointer:
    """nevent: an event id (hex), hint relays, and optionally its author (hex) and kind."""

    id: str
    relays: tuple[str, ...] = ()
    author: str | None = None
    kind: int | None = None


@dataclass(frozen=True, slots=True)
class AddressPointer:
    """naddr: the coordinate ``kind:pubkey:identifier`` of an addressable event, plus relays."""

    identifier: str
    pubkey: str
    kind: int
    relays: tuple[str, ...] = ()


def _raw32(value: str | bytes, what: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    else:
        try:
            raw = bytes.fromhex(value)
        except (ValueError, TypeError):
            raise EncodingError(f"{what} must be 64 hex characters or 32 bytes") from None
    if len(raw) != 32:
        raise EncodingError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def _strip_uri(text: str) -> str:
    if not isinstance(text, str):
        raise EncodingError("NIP-19 input must be a string")
    text = text.strip()
    if text[: len(URI_SCHEME)].lower() == URI_SCHEME:
        text = text[len(URI_SCHEME) :]
    return text


def _decode_expecting(text: str, prefix: str) -> bytes:
    hrp, data = bech32.decode(_strip_uri(text))
    if hrp != prefix:
        raise EncodingError(f"expected {prefix}, got {hrp}")
    return data


def _encode_bare(prefix: str, value: str | bytes, what: str) -> str:
    return bech32.encode(prefix, _raw32(value, what))


def _decode_bare(text: str, prefix: str) -> str:
    data = _decode_expecting(text, prefix)
    if len(data) != 32:
        raise EncodingError(f"{prefix} data must be 32 bytes, got {len(data)}")
    return data.hex()


def npub_encode(pubkey: str | bytes) -> str:
    return _encode_bare("npub", pubkey, "public key")


def npub_decode(text: str) -> str:
    return _decode_bare(text, "npub")


def nsec_encode(secret: str | bytes) -> str:
    return _encode_bare("nsec", secret, "secret key")


def nsec_decode(text: str) -> str:
    return _decode_bare(text, "nsec")


def note_encode(event_id: str | bytes) -> str:
    return _encode_bare("note", event_id, "event id")


def note_decode(text: str) -> str:
    return _decode_bare(text, "note")


# --- TLV entities ---------------------------------------------------------------------


def _tlv(items: Iterable[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for kind, value in items:
        if len(value) > 255:
            raise EncodingError(f"TLV value of type {kind} is {len(value)} bytes, over 255")
        out += bytes((kind, len(value))) + value
    return bytes(out)


def _parse_tlv(data: bytes, prefix: str) -> _Tlv:
    """All TLV values by type, in order. Unknown types are kept here and ignored by callers."""
    found: _Tlv = {}
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise EncodingError(f"{prefix} TLV data is truncated")
        kind, size = data[pos], data[pos + 1]
        value = data[pos + 2 : pos + 2 + size]
        if len(value) != size:
            raise EncodingError(f"{prefix} TLV of type {kind} is truncated")
        found.setdefault(kind, []).append(value)
        pos += 2 + size
    return found


def _relay_items(relays: Iterable[str]) -> list[tuple[int, bytes]]:
    if isinstance(relays, str):
        raise EncodingError("relays must be a sequence of URLs, not one string")
    return [(TLV_RELAY, _utf8(relay, "relay")) for relay in relays]


def _utf8(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise EncodingError(f"{what} must be a string")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingError(f"{what} is not valid UTF-8") from None


def _kind_bytes(kind: int) -> bytes:
    if type(kind) is not int or not 0 <= kind < 2**32:
        raise EncodingError("kind must be an integer from 0 to 2**32-1")
    return kind.to_bytes(4, "big")


def _text(value: bytes, prefix: str, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise EncodingError(f"{prefix} {what} is not valid UTF-8") from None


def _optional(tlv: _Tlv, kind: int, prefix: str, what: str, size: int | None) -> bytes | None:
    """First value of a TLV type (later duplicates are ignored), checked for length."""
    values = tlv.get(kind)
    if not values:
        return None
    if size is not None and len(values[0]) != size:
        raise EncodingError(f"{prefix} {what} must be {size} bytes, got {len(values[0])}")
    return values[0]


def _required(tlv: _Tlv, kind: int, prefix: str, what: str, size: int | None) -> bytes:
    value = _optional(tlv, kind, prefix, what, size)
    if value is None:
        raise EncodingError(f"{prefix} is missing its {what}")
    return value


def _relays(tlv: _Tlv, prefix: str) -> tuple[str, ...]:
    return tuple(_text(v, prefix, "relay") for v in tlv.get(TLV_RELAY, ()))


def nprofile_encode(pubkey: str | bytes, relays: Iterable[str] = ()) -> str:
    items = [(TLV_SPECIAL, _raw32(pubkey, "public key")), *_relay_items(relays)]
    return bech32.encode("nprofile", _tlv(items))


def nprofile_decode(text: str) -> Profile:
    return _nprofile(_decode_expecting(text, "nprofile"))


def _nprofile(data: bytes) -> Profile:
    tlv = _parse_tlv(data, "nprofile")
    pubkey = _required(tlv, TLV_SPECIAL, "nprofile", "pubkey", 32)
    return Profile(pubkey.hex(), _relays(tlv, "nprofile"))


def nevent_encode(
    event_id: str | bytes,
    relays: Iterable[str] = (),
    author: str | bytes | None = None,
    kind: int | None = None,
) -> str:
    items = [(TLV_SPECIAL, _raw32(event_id, "event id")), *_relay_items(relays)]
    if author is not None:
        items.append((TLV_AUTHOR, _raw32(author, "author")))
    if kind is not None:
        items.append((TLV_KIND, _kind_bytes(kind)))
    return bech32.encode("nevent", _tlv(items))


def nevent_decode(text: str) -> EventPointer:
    return _nevent(_decode_expecting(text, "nevent"))


def _nevent(data: bytes) -> EventPointer:
    tlv = _parse_tlv(data, "nevent")
    event_id = _required(tlv, TLV_SPECIAL, "nevent", "event id", 32)
    author = _optional(tlv, TLV_AUTHOR, "nevent", "author", 32)
    kind = _optional(tlv, TLV_KIND, "nevent", "kind", 4)
    return EventPointer(
        event_id.hex(),
        _relays(tlv, "nevent"),
        None if author is None else author.hex(),
        None if kind is None else int.from_bytes(kind, "big"),
    )


def naddr_encode(
    identifier: str, pubkey: str | bytes, kind: int, relays: Iterable[str] = ()
) -> str:
    items = [
        (TLV_SPECIAL, _utf8(identifier, "identifier")),
        *_relay_items(relays),
        (TLV_AUTHOR, _raw32(pubkey, "author")),
        (TLV_KIND, _kind_bytes(kind)),
    ]
    return bech32.encode("naddr", _tlv(items))


def naddr_decode(text: str) -> AddressPointer:
    return _naddr(_decode_expecting(text, "naddr"))


def _naddr(data: bytes) -> AddressPointer:
    tlv = _parse_tlv(data, "naddr")
    identifier = _required(tlv, TLV_SPECIAL, "naddr", "identifier", None)
    author = _required(tlv, TLV_AUTHOR, "naddr", "author", 32)
    kind = _required(tlv, TLV_KIND, "naddr", "kind", 4)
    return AddressPointer(
        _text(identifier, "naddr", "identifier"),
        author.hex(),
        int.from_bytes(kind, "big"),
        _relays(tlv, "naddr"),
    )


Decoded = str | Profile | EventPointer | AddressPointer


def decode(text: str) -> tuple[str, Decoded]:
    """Any NIP-19 entity, with or without ``nostr:``: (prefix, hex string or pointer)."""
    hrp, data = bech32.decode(_strip_uri(text))
    if hrp in ("npub", "nsec", "note"):
        if len(data) != 32:
            raise EncodingError(f"{hrp} data must be 32 bytes, got {len(data)}")
        return hrp, data.hex()
    parsers: dict[str, Callable[[bytes], Decoded]] = {
        "nprofile": _nprofile,
        "nevent": _nevent,
        "naddr": _naddr,
    }
    if hrp not in parsers:
        raise EncodingError(f"unsupported NIP-19 prefix {hrp!r}")
    return hrp, parsers[hrp](data)


# ---- what a person types for a key or an event id -------------------------------------


def pubkey_hex(text: str) -> str:
    """A public key as a person may give it: hex (any case), npub or nprofile, ``nostr:`` too."""
    return _hex_or_nip19(text, "a public key", ("npub1", "nprofile1"), Profile, "pubkey")


def event_id_hex(text: str) -> str:
    """An event id as a person may give it: hex (any case), note or nevent, ``nostr:`` too."""
    return _hex_or_nip19(text, "an event id", ("note1", "nevent1"), EventPointer, "id")


def _hex_or_nip19(
    text: str, expected: str, prefixes: tuple[str, str], pointer: type, attr: str
) -> str:
    """Hex, or NIP-19: the bare form (first of ``prefixes``) or a ``pointer``'s ``attr``.
    ``expected`` is what errors call it, with its article ("a public key")."""
    value = text.strip()
    if value.lower().startswith((*prefixes, URI_SCHEME)):
        kind, decoded = decode(value)
        if kind == prefixes[0][:-1] and isinstance(decoded, str):
            return decoded
        if isinstance(decoded, pointer):
            return str(getattr(decoded, attr))
        raise EncodingError(f"expected {expected}, got {kind}")
    lowered = hexid.normalize(value)
    if lowered is None:
        what = expected.split(" ", 1)[1]
        raise EncodingError(f"{what} must be 64 hex characters or NIP-19 ({value[:20]!r})")
    return lowered
