"""NIP-49 ``ncryptsec``: a secret key sealed under a passphrase (scrypt + XChaCha20-Poly1305,
the AEAD from :mod:`~shieldmutual.shared.xchacha`)."""

from __future__ import annotations

import os
import unicodedata

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from shieldmutual.shared import bech32, keys
from shieldmutual.shared.errors import CryptoError, EncodingError
from shieldmutual.shared.xchacha import xchacha20poly1305_decrypt, xchacha20poly1305_encrypt

PREFIX = "ncryptsec"
VERSION = 0x02
KEY_INSECURE, KEY_SECURE, KEY_UNKNOWN = 0x00, 0x01, 0x02
# 2**22 rounds need 4 GiB; the NIP's table stops there. A larger log_n in a pasted
# ncryptsec would only exhaust memory, so it is refused before scrypt runs.
MAX_LOG_N = 22
# scrypt needs 128 * r * 2**log_n bytes: 1 GiB and a few seconds at 20, which a laptop or
# a phone still manages; 21 and 22 (2 and 4 GiB, 16 s) can stall or kill a small machine
# before the user was even asked anything, so untrusted input above 20 needs consent.
SAFE_LOG_N = 20
_LENGTH = 91  # version, log_n, salt 16, nonce 24, key security, ciphertext 32 + tag 16


def _symmetric_key(password: str, salt: bytes, log_n: int) -> bytes:
    normalized = unicodedata.normalize("NFKC", password).encode("utf-8")
    return Scrypt(salt=salt, length=32, n=1 << log_n, r=8, p=1).derive(normalized)


def encrypt(secret: bytes, password: str, log_n: int = 16, key_security: int = KEY_UNKNOWN) -> str:
    """Seal ``secret`` as ``ncryptsec1...``; ``key_security`` records how it was handled."""
    if not isinstance(secret, bytes | bytearray) or not keys.is_valid_secret(bytes(secret)):
        raise EncodingError("secret key must be 32 bytes and a valid secp256k1 scalar")
    if type(log_n) is not int or not 1 <= log_n <= MAX_LOG_N:
        raise EncodingError(f"log_n must be an integer from 1 to {MAX_LOG_N}")
    if key_security not in (KEY_INSECURE, KEY_SECURE, KEY_UNKNOWN):
        raise EncodingError("key_security must be 0x00, 0x01 or 0x02")
    salt, nonce, ad = os.urandom(16), os.urandom(24), bytes([key_security])
    sealed = xchacha20poly1305_encrypt(
        _symmetric_key(password, salt, log_n), nonce, bytes(secret), ad
    )
    return bech32.encode(PREFIX, bytes([VERSION, log_n]) + salt + nonce + ad + sealed)


def _payload(ncryptsec: str) -> bytes:
    hrp, data = bech32.decode(ncryptsec.strip())
    if hrp != PREFIX:
        raise EncodingError(f"expected {PREFIX}, got {hrp}")
    if len(data) != _LENGTH:
        raise EncodingError(f"{PREFIX} data must be {_LENGTH} bytes, got {len(data)}")
    return data


def log_n_of(ncryptsec: str) -> int:
    """The scrypt cost an ncryptsec asks for, read without any scrypt work."""
    return _payload(ncryptsec)[1]


def check_cost(ncryptsec: str, max_log_n: int = SAFE_LOG_N) -> None:
    """EncodingError when opening ``ncryptsec`` would cost more than ``max_log_n``."""
    _check_cost(log_n_of(ncryptsec), max_log_n)


def _check_cost(log_n: int, max_log_n: int) -> None:
    if max_log_n < log_n <= MAX_LOG_N:
        raise EncodingError(
            f"ncryptsec log_n {log_n} is above {max_log_n} ({(1 << log_n) // 1024} MiB of"
            f" memory for scrypt); if you trust it, retry with --allow-log-n {log_n}"
        )


def decrypt(ncryptsec: str, password: str, max_log_n: int = SAFE_LOG_N) -> bytes:
    """The 32-byte secret key; CryptoError when the passphrase does not open it.

    A cost above ``max_log_n`` is refused (EncodingError) before scrypt runs; callers
    raise ``max_log_n`` only when the user allowed it or the ncryptsec is our own.
    """
    data = _payload(ncryptsec)
    version, log_n = data[0], data[1]
    _check_cost(log_n, max_log_n)
    if version != VERSION:
        raise CryptoError(f"unknown ncryptsec version {version}")
    if not 1 <= log_n <= MAX_LOG_N:
        raise CryptoError(f"ncryptsec log_n {log_n} is outside 1..{MAX_LOG_N}")
    salt, nonce, ad, sealed = data[2:18], data[18:42], data[42:43], data[43:]
    if ad[0] not in (KEY_INSECURE, KEY_SECURE, KEY_UNKNOWN):
        raise CryptoError(f"unknown ncryptsec key security byte {ad[0]}")
    try:
        return xchacha20poly1305_decrypt(_symmetric_key(password, salt, log_n), nonce, sealed, ad)
    except CryptoError:
        raise CryptoError("wrong passphrase or corrupted ncryptsec") from None
