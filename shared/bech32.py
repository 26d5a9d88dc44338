"""Bech32 (BIP-173) and the bech32m checksum (BIP-350): the codec under NIP-19's
entities, NIP-49's ``ncryptsec`` and Lightning/segwit payment codes.

Written out here because it is forty lines and the reference ``bech32`` package is
unmaintained and enforces BIP-173's 90-character cap, which nprofile/nevent/naddr
routinely exceed (NIP-19 allows up to 5000).
"""

from __future__ import annotations

from collections.abc import Iterable

from shieldmutual.shared.errors import EncodingError

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHAR_VALUE = {char: value for value, char in enumerate(_CHARSET)}
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# NIP-19: "Bech32-formatted strings SHOULD be limited in size to 5000 characters."
MAX_LENGTH = 5000
# BIP-350: the checksum constant of bech32m (segwit v1+ addresses); bech32's is 1.
BECH32M_CONST = 0x2BC830A3


def _polymod(values: Iterable[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATORS):
            if top >> bit & 1:
                check ^= generator
    return check


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: Iterable[int], from_bits: int, to_bits: int, pad: bool) -> bytes:
    """Regroup bits; when unpadding, leftover bits must be fewer than ``from_bits`` and zero."""
    acc = bits = 0
    out = bytearray()
    mask = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits | value) & 0xFFFFFF
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append(acc >> bits & mask)
    if pad:
        if bits:
            out.append(acc << (to_bits - bits) & mask)
    elif bits >= from_bits or acc << (to_bits - bits) & mask:
        raise EncodingError("bech32 data has invalid padding")
    return bytes(out)


def encode(hrp: str, data: bytes) -> str:
    """Lowercase bech32 (not bech32m) of ``data`` under human-readable part ``hrp``."""
    words = list(_convert_bits(data, 8, 5, pad=True))
    check = _polymod([*_hrp_expand(hrp), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    words += [check >> 5 * (5 - i) & 31 for i in range(6)]
    text = hrp + "1" + "".join(_CHARSET[w] for w in words)
    if len(text) > MAX_LENGTH:
        raise EncodingError(f"bech32 string would be {len(text)} characters, over {MAX_LENGTH}")
    return text


def words(text: str, *, bech32m: bool = False) -> tuple[str, list[int]]:
    """(lowercase hrp, 5-bit data words without the checksum) after BIP-173's checks, or
    BIP-350's checksum when ``bech32m``. Payment codes (BOLT11, segwit addresses) need the
    words: their data is not always whole bytes."""
    if not isinstance(text, str):
        raise EncodingError("bech32 input must be a string")
    if len(text) > MAX_LENGTH:
        raise EncodingError(f"bech32 string is longer than {MAX_LENGTH} characters")
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise EncodingError("bech32 string contains characters outside printable ASCII")
    if text.lower() != text and text.upper() != text:
        raise EncodingError("bech32 string mixes upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text):
        raise EncodingError("bech32 string has no prefix or is too short for a checksum")
    hrp = text[:sep]
    try:
        words = [_CHAR_VALUE[c] for c in text[sep + 1 :]]
    except KeyError as exc:
        raise EncodingError(f"bech32 string contains invalid character {exc.args[0]!r}") from None
    if _polymod(_hrp_expand(hrp) + words) != (BECH32M_CONST if bech32m else 1):
        raise EncodingError("bech32 checksum is invalid")
    return hrp, words[:-6]


def decode(text: str) -> tuple[str, bytes]:
    """Split a bech32 string into (lowercase hrp, data bytes), checking BIP-173 rules."""
    hrp, data = words(text)
    return hrp, _convert_bits(data, 5, 8, pad=False)
