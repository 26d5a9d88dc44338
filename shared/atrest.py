"""Sealing local files, so a seized disk reveals neither what they say nor how much.

Two kinds of key open local files, both derived with HKDF per purpose so one file's key
never opens another's:

* the *home key*: 32 random bytes made once per home and kept only sealed under the
  passphrase (NIP-49, scrypt). Settings, the identity list and the followed societies
  are sealed with it, so one passphrase (or the agent) opens them all;
* an *identity secret*: a champion's vault is bound to the identity it belongs to, so it
  opens only where that identity was unlocked.

Format: ``MAS1 || nonce(24) || XChaCha20-Poly1305(padded data, aad)``; the associated
data binds a file to its owner (the identity's public key, or the home) and purpose, so
files cannot be swapped between identities or uses. The plaintext is padded to a size
class, a power of two with a floor (64 KiB unless the caller says otherwise), so the
file's size does not tell how many societies, champions or members it lists: only the
order of magnitude once it outgrows the floor.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shieldmutual.shared.errors import CryptoError
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.xchacha import xchacha20poly1305_decrypt, xchacha20poly1305_encrypt

MAGIC = b"MAS1"
FLOOR = 64 * 1024
_SALT = b"shieldmutual/at-rest/v1"
_HOME = b"home"
_NONCE = 24
_TAG = 16
OVERHEAD = len(MAGIC) + _NONCE + _TAG


def derive(root: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from (and only from) ``root``."""
    hkdf = HKDF(hashes.SHA256(), 32, _SALT, purpose.encode("utf-8"))
    return hkdf.derive(root)


def file_key(secret: SecretKey, purpose: str) -> bytes:
    """The key of an identity's file for ``purpose``."""
    return derive(secret.secret, purpose)


def size_class(length: int, floor: int = FLOOR) -> int:
    """The padded size for ``length`` bytes: the next power of two, at least ``floor``."""
    return max(floor, 1 << max(0, length - 1).bit_length())


def _pad(data: bytes, floor: int) -> bytes:
    body = len(data).to_bytes(4, "big") + data
    return body + bytes(size_class(len(body), floor) - len(body))


def _unpad(padded: bytes) -> bytes:
    size = int.from_bytes(padded[:4], "big")
    if 4 + size > len(padded) or any(padded[4 + size :]):
        raise CryptoError("sealed file has invalid padding")
    return padded[4 : 4 + size]


def _aad(owner: bytes, purpose: str) -> bytes:
    return MAGIC + owner + purpose.encode("utf-8")


def _seal(key: bytes, aad: bytes, data: bytes, floor: int) -> bytes:
    nonce = os.urandom(_NONCE)
    return MAGIC + nonce + xchacha20poly1305_encrypt(key, nonce, _pad(data, floor), aad)


def _open(key: bytes, aad: bytes, blob: bytes, whose: str) -> bytes:
    if len(blob) < OVERHEAD or not blob.startswith(MAGIC):
        raise CryptoError("not a sealed Shield Mutual file")
    nonce = blob[len(MAGIC) : len(MAGIC) + _NONCE]
    try:
        padded = xchacha20poly1305_decrypt(key, nonce, blob[len(MAGIC) + _NONCE :], aad)
    except CryptoError:
        raise CryptoError(f"sealed file does not open with this {whose} (or was altered)") from None
    return _unpad(padded)


def seal(secret: SecretKey, purpose: str, data: bytes, floor: int = FLOOR) -> bytes:
    """Encrypt ``data`` for ``secret``'s owner and ``purpose``; a fresh nonce every time."""
    return _seal(file_key(secret, purpose), _aad(secret.public_key, purpose), data, floor)


def open_sealed(secret: SecretKey, purpose: str, blob: bytes) -> bytes:
    """The data :func:`seal` sealed; :class:`CryptoError` for another key, purpose or damage."""
    return _open(file_key(secret, purpose), _aad(secret.public_key, purpose), blob, "identity")


def seal_home(home_key: bytes, purpose: str, data: bytes, floor: int = FLOOR) -> bytes:
    """Encrypt ``data`` with the home key's subkey for ``purpose``."""
    return _seal(derive(home_key, purpose), _aad(_HOME, purpose), data, floor)


def open_home(home_key: bytes, purpose: str, blob: bytes) -> bytes:
    """The data :func:`seal_home` sealed; :class:`CryptoError` otherwise."""
    return _open(derive(home_key, purpose), _aad(_HOME, purpose), blob, "home key")
