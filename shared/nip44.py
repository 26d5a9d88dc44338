"""NIP-44 version 2 encrypted payloads (the audited 2023 construction).

ECDH x-coordinate -> HKDF-extract (salt ``nip44-v2``) gives a conversation key shared
by both parties; each message expands it with a fresh 32-byte nonce into ChaCha20 and
HMAC-SHA256 keys. The MAC is checked in constant time before anything is decrypted,
and padding is verified exactly, so a tampered payload is never partially trusted.

Plaintexts are 1..65535 UTF-8 bytes, as in the official test vectors and rust-nostr.
A later amendment to NIP-44 (2026) adds a 6-byte length prefix for longer messages;
such payloads are rejected here with "invalid padding".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from typing import NamedTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from shieldmutual.shared import keys
from shieldmutual.shared.errors import CryptoError, EncodingError

VERSION = 2
SALT = b"nip44-v2"
MIN_PLAINTEXT = 1
MAX_PLAINTEXT = 65535
# Encoded payload bounds: version + nonce + 34..65538 padded bytes + MAC, base64 with padding.
_MIN_PAYLOAD, _MAX_PAYLOAD = 132, 87472
_MIN_DATA, _MAX_DATA = 99, 65603


class MessageKeys(NamedTuple):
    chacha_key: bytes
    chacha_nonce: bytes
    hmac_key: bytes


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(message)
    return mac.finalize()


def _chacha20(key: bytes, nonce: bytes, data: bytes) -> bytes:
    # cryptography takes RFC 7539's 16-byte block: 4-byte little-endian counter + nonce.
    cipher = Cipher(algorithms.ChaCha20(key, b"\x00\x00\x00\x00" + nonce), mode=None)
    return cipher.encryptor().update(data)


def get_conversation_key(secret: bytes, pubkey: bytes) -> bytes:
    """HKDF-extract(salt="nip44-v2", IKM=shared_x); symmetric: conv(a, B) == conv(b, A)."""
    try:
        shared_x = keys.ecdh_x(secret, pubkey)
    except EncodingError as exc:
        raise CryptoError(f"invalid key for NIP-44: {exc}") from exc
    return _hmac_sha256(SALT, shared_x)  # HKDF-extract is HMAC(salt, IKM) by RFC 5869


def get_message_keys(conversation_key: bytes, nonce: bytes) -> MessageKeys:
    if len(conversation_key) != 32:
        raise CryptoError("invalid conversation key length")
    if len(nonce) != 32:
        raise CryptoError("invalid nonce length")
    okm = HKDFExpand(hashes.SHA256(), 76, nonce).derive(conversation_key)
    return MessageKeys(okm[:32], okm[32:44], okm[44:])


def calc_padded_len(unpadded_len: int) -> int:
    """Powers-of-two buckets, chunked by 1/8 above 256 bytes, minimum 32."""
    if unpadded_len <= 32:
        return 32
    next_power = 1 << (unpadded_len - 1).bit_length()
    chunk = 32 if next_power <= 256 else next_power // 8
    return chunk * ((unpadded_len - 1) // chunk + 1)


def pad(plaintext: str) -> bytes:
    try:
        raw = plaintext.encode("utf-8")
    except UnicodeEncodeError:
        raise CryptoError("plaintext is not valid UTF-8") from None
    if not MIN_PLAINTEXT <= len(raw) <= MAX_PLAINTEXT:
        raise CryptoError(f"invalid plaintext length {len(raw)}: must be 1 to 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw + bytes(calc_padded_len(len(raw)) - len(raw))


def unpad(padded: bytes) -> str:
    size = int.from_bytes(padded[:2], "big")
    raw = padded[2 : 2 + size]
    if size == 0 or len(raw) != size or len(padded) != 2 + calc_padded_len(size):
        raise CryptoError("invalid padding")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CryptoError("decrypted plaintext is not valid UTF-8") from None


def encrypt(plaintext: str, conversation_key: bytes, nonce: bytes | None = None) -> str:
    """Base64 of version || nonce || ciphertext || MAC. Pass ``nonce`` only in tests."""
    nonce = os.urandom(32) if nonce is None else nonce
    chacha_key, chacha_nonce, hmac_key = get_message_keys(conversation_key, nonce)
    ciphertext = _chacha20(chacha_key, chacha_nonce, pad(plaintext))
    mac = _hmac_sha256(hmac_key, nonce + ciphertext)
    return base64.b64encode(bytes([VERSION]) + nonce + ciphertext + mac).decode("ascii")


def _decode_payload(payload: str) -> tuple[bytes, bytes, bytes]:
    if payload[:1] == "#":  # reserved for non-base64 future versions
        raise CryptoError("unknown encryption version")
    if not _MIN_PAYLOAD <= len(payload) <= _MAX_PAYLOAD:
        raise CryptoError(f"invalid payload length {len(payload)}")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("invalid base64 in payload") from None
    if not _MIN_DATA <= len(data) <= _MAX_DATA:
        raise CryptoError(f"invalid payload length {len(data)} bytes after base64")
    if data[0] != VERSION:
        raise CryptoError(f"unknown encryption version {data[0]}")
    return data[1:33], data[33:-32], data[-32:]


def decrypt(payload: str, conversation_key: bytes) -> str:
    nonce, ciphertext, mac = _decode_payload(payload)
    chacha_key, chacha_nonce, hmac_key = get_message_keys(conversation_key, nonce)
    if not hmac.compare_digest(_hmac_sha256(hmac_key, nonce + ciphertext), mac):
        raise CryptoError("invalid MAC")
    return unpad(_chacha20(chacha_key, chacha_nonce, ciphertext))
