"""Sealing local files with an identity's secret key, so a seized disk reveals nothing.

Who champions whom must not be readable from a laptop without the passphrase. The
passphrase already seals the identity (NIP-49, scrypt); rather than a second scrypt
per command, the file key is derived from the unlocked identity secret with HKDF, so
the one passphrase opens both and changing it re-protects both.

Format: ``MAS1 || nonce(24) || XChaCha20-Poly1305(padded JSON, aad = MAS1 || pubkey ||
purpose)``. The associated data binds a file to its owner and purpose, so files cannot
be swapped between identities or uses. The plaintext is padded to a multiple of 4 KiB
so the size of the file does not tell how many champions or members it lists.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shieldmutual.shared.errors import CryptoError
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip49 import xchacha20poly1305_decrypt, xchacha20poly1305_encrypt

MAGIC = b"MAS1"
BLOCK = 4096
_SALT = b"shieldmutual/at-rest/v1"
_NONCE = 24
_TAG = 16


def file_key(secret: SecretKey, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from (and only from) the identity secret."""
    hkdf = HKDF(hashes.SHA256(), 32, _SALT, purpose.encode("utf-8"))
    return hkdf.derive(secret.secret)


def _aad(secret: SecretKey, purpose: str) -> bytes:
    return MAGIC + secret.public_key + purpose.encode("utf-8")


def _pad(data: bytes) -> bytes:
    body = len(data).to_bytes(4, "big") + data
    return body + bytes(-len(body) % BLOCK)


def _unpad(padded: bytes) -> bytes:
    size = int.from_bytes(padded[:4], "big")
    if 4 + size > len(padded) or any(padded[4 + size :]):
        raise CryptoError("sealed file has invalid padding")
    return padded[4 : 4 + size]


def seal(secret: SecretKey, purpose: str, data: bytes) -> bytes:
    """Encrypt ``data`` for ``secret``'s owner and ``purpose``; a fresh nonce every time."""
    nonce = os.urandom(_NONCE)
    ciphertext = xchacha20poly1305_encrypt(
        file_key(secret, purpose), nonce, _pad(data), _aad(secret, purpose)
    )
    return MAGIC + nonce + ciphertext


def open_sealed(secret: SecretKey, purpose: str, blob: bytes) -> bytes:
    """The data :func:`seal` sealed; :class:`CryptoError` for another key, purpose or damage."""
    if len(blob) < len(MAGIC) + _NONCE + _TAG or not blob.startswith(MAGIC):
        raise CryptoError("not a sealed Shield Mutual file")
    nonce = blob[len(MAGIC) : len(MAGIC) + _NONCE]
    try:
        padded = xchacha20poly1305_decrypt(
            file_key(secret, purpose), nonce, blob[len(MAGIC) + _NONCE :], _aad(secret, purpose)
        )
    except CryptoError:
        raise CryptoError("sealed file does not open with this identity (or was altered)") from None
    return _unpad(padded)
