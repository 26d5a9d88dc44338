"""XChaCha20-Poly1305: ChaCha20-Poly1305 with a 24-byte nonce, safe to draw at random.

``cryptography`` has ChaCha20-Poly1305 but not its XChaCha variant, so the subkey step,
HChaCha20, is done here (draft-irtf-cfrg-xchacha section 2.2); the AEAD itself stays in
the vetted library. HChaCha20 runs once per seal/open, so pure Python speed does not
matter. Its own module because NIP-49 and the sealed local state (atrest) both use it,
and the state must open without loading scrypt or NIP-19.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from shieldmutual.shared.errors import CryptoError

_MASK = 0xFFFFFFFF


def _quarter_round(s: list[int], a: int, b: int, c: int, d: int) -> None:
    s[a] = (s[a] + s[b]) & _MASK
    s[d] ^= s[a]
    s[d] = (s[d] << 16 | s[d] >> 16) & _MASK
    s[c] = (s[c] + s[d]) & _MASK
    s[b] ^= s[c]
    s[b] = (s[b] << 12 | s[b] >> 20) & _MASK
    s[a] = (s[a] + s[b]) & _MASK
    s[d] ^= s[a]
    s[d] = (s[d] << 8 | s[d] >> 24) & _MASK
    s[c] = (s[c] + s[d]) & _MASK
    s[b] ^= s[c]
    s[b] = (s[b] << 7 | s[b] >> 25) & _MASK


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    """The ChaCha20 core with no final feed-forward; words 0-3 and 12-15 form the subkey."""
    if len(key) != 32 or len(nonce16) != 16:
        raise CryptoError("HChaCha20 needs a 32-byte key and a 16-byte nonce")
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += struct.unpack("<8I", key) + struct.unpack("<4I", nonce16)
    for _ in range(10):
        _quarter_round(state, 0, 4, 8, 12)
        _quarter_round(state, 1, 5, 9, 13)
        _quarter_round(state, 2, 6, 10, 14)
        _quarter_round(state, 3, 7, 11, 15)
        _quarter_round(state, 0, 5, 10, 15)
        _quarter_round(state, 1, 6, 11, 12)
        _quarter_round(state, 2, 7, 8, 13)
        _quarter_round(state, 3, 4, 9, 14)
    return struct.pack("<8I", *state[:4], *state[12:])


def _xchacha(key: bytes, nonce24: bytes) -> tuple[ChaCha20Poly1305, bytes]:
    if len(nonce24) != 24:
        raise CryptoError("XChaCha20-Poly1305 needs a 24-byte nonce")
    return ChaCha20Poly1305(hchacha20(key, nonce24[:16])), bytes(4) + nonce24[16:]


def xchacha20poly1305_encrypt(key: bytes, nonce24: bytes, data: bytes, aad: bytes) -> bytes:
    """Ciphertext with its 16-byte Poly1305 tag appended."""
    aead, nonce12 = _xchacha(key, nonce24)
    return aead.encrypt(nonce12, data, aad)


def xchacha20poly1305_decrypt(key: bytes, nonce24: bytes, data: bytes, aad: bytes) -> bytes:
    aead, nonce12 = _xchacha(key, nonce24)
    try:
        return aead.decrypt(nonce12, data, aad)
    except InvalidTag:
        raise CryptoError("XChaCha20-Poly1305 authentication failed") from None
