"""secp256k1 keys for Nostr: x-only public keys, BIP-340 Schnorr, and NIP-44's ECDH.

We call libsecp256k1 through the ``secp256k1`` package's cffi handle directly: its
high-level classes re-hash messages and allocate per call, and signature checks are the
relay's hottest path. Parsed public keys are cached because the same authors sign
many events.
"""

from __future__ import annotations

import os
from functools import lru_cache

from secp256k1 import ffi, lib, secp256k1_ctx

from shieldmutual.shared.errors import EncodingError

_CTX = secp256k1_ctx
# The curve order n; a secret key must be in [1, n-1].
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _check_len(value: bytes, size: int, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != size:
        raise EncodingError(f"{what} must be {size} bytes")


def is_valid_secret(secret: bytes) -> bool:
    """True when ``secret`` is 32 bytes and a non-zero scalar below the curve order."""
    return len(secret) == 32 and 0 < int.from_bytes(secret, "big") < _ORDER


class SecretKey:
    """A secret key with its BIP-340 keypair. ``repr`` never shows the secret."""

    __slots__ = ("_keypair", "_secret", "public_key")

    def __init__(self, secret: bytes) -> None:
        _check_len(secret, 32, "secret key")
        if not is_valid_secret(secret):
            raise EncodingError("secret key is zero or not below the curve order")
        self._secret = bytes(secret)
        self._keypair = ffi.new("secp256k1_keypair *")
        if not lib.secp256k1_keypair_create(_CTX, self._keypair, self._secret):
            raise EncodingError("secret key is not valid")
        xonly = ffi.new("secp256k1_xonly_pubkey *")
        lib.secp256k1_keypair_xonly_pub(_CTX, xonly, ffi.NULL, self._keypair)
        out = ffi.new("unsigned char[32]")
        lib.secp256k1_xonly_pubkey_serialize(_CTX, out, xonly)
        self.public_key: bytes = bytes(out)

    @classmethod
    def generate(cls) -> SecretKey:
        while True:
            candidate = os.urandom(32)
            if is_valid_secret(candidate):
                return cls(candidate)

    @classmethod
    def from_hex(cls, value: str) -> SecretKey:
        try:
            raw = bytes.fromhex(value)
        except (ValueError, TypeError) as exc:
            raise EncodingError("secret key must be 64 hex characters") from exc
        return cls(raw)

    @property
    def secret(self) -> bytes:
        return self._secret

    @property
    def public_hex(self) -> str:
        return self.public_key.hex()

    def sign(self, msg32: bytes, aux_rand: bytes | None = None) -> bytes:
        """BIP-340 signature of a 32-byte message; fresh auxiliary randomness by default."""
        _check_len(msg32, 32, "message")
        aux = os.urandom(32) if aux_rand is None else aux_rand
        _check_len(aux, 32, "auxiliary randomness")
        sig = ffi.new("unsigned char[64]")
        if not lib.secp256k1_schnorrsig_sign(_CTX, sig, bytes(msg32), self._keypair, bytes(aux)):
            raise EncodingError("signing failed")
        return bytes(sig)

    def __repr__(self) -> str:
        return f"SecretKey(public={self.public_hex})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretKey) and other._secret == self._secret

    def __hash__(self) -> int:
        return hash(self.public_key)


@lru_cache(maxsize=65536)
def _parse_xonly(pubkey: bytes) -> object | None:
    parsed: object = ffi.new("secp256k1_xonly_pubkey *")  # a cffi pointer, opaque here
    if not lib.secp256k1_xonly_pubkey_parse(_CTX, parsed, pubkey):
        return None
    return parsed


def is_valid_public(pubkey: bytes) -> bool:
    """True when ``pubkey`` is the x-coordinate of a point on the curve."""
    return len(pubkey) == 32 and _parse_xonly(bytes(pubkey)) is not None


def verify(pubkey: bytes, msg: bytes, sig: bytes) -> bool:
    """BIP-340 verification. Malformed keys or signatures are simply False."""
    if type(pubkey) is not bytes or type(msg) is not bytes or type(sig) is not bytes:
        # bytearray / memoryview are fine, anything else (str, None, ...) is not a key.
        try:
            pubkey, msg, sig = (bytes(memoryview(v)) for v in (pubkey, msg, sig))
        except TypeError:
            return False
    if len(pubkey) != 32 or len(sig) != 64:
        return False
    parsed = _parse_xonly(pubkey)
    if parsed is None:
        return False
    return bool(lib.secp256k1_schnorrsig_verify(_CTX, sig, msg, len(msg), parsed))


def ecdh_x(secret: bytes, pubkey: bytes) -> bytes:
    """The unhashed x-coordinate of ``secret * P`` where P has even y (NIP-44's shared_x)."""
    _check_len(secret, 32, "secret key")
    _check_len(pubkey, 32, "public key")
    if not is_valid_secret(secret):
        raise EncodingError("secret key is zero or not below the curve order")
    point = ffi.new("secp256k1_pubkey *")
    if not lib.secp256k1_ec_pubkey_parse(_CTX, point, b"\x02" + bytes(pubkey), 33):
        raise EncodingError("public key is not on the curve")
    if not lib.secp256k1_ec_pubkey_tweak_mul(_CTX, point, bytes(secret)):
        raise EncodingError("ECDH failed")
    out = ffi.new("unsigned char[33]")
    size = ffi.new("size_t *", 33)
    lib.secp256k1_ec_pubkey_serialize(_CTX, out, size, point, lib.SECP256K1_EC_COMPRESSED)
    return bytes(out)[1:]


def public_key_of(secret: bytes) -> bytes:
    return SecretKey(secret).public_key
