"""NIP-49 ncryptsec: the spec's vector, XChaCha20 draft vectors, errors, rust-nostr interop."""

from __future__ import annotations

import unicodedata

import nostr_sdk
import pytest

from shieldmutual.shared import bech32, nip19, nip49
from shieldmutual.shared.errors import CryptoError, EncodingError
from shieldmutual.shared.keys import SecretKey

SPEC_NCRYPTSEC = (
    "ncryptsec1qgg9947rlpvqu76pj5ecreduf9jxhselq2nae2kghhvd5g7dgjtcxfqtd67p9m0w57lspw8gsq6yph"
    "nm8623nsl8xn9j4jdzz84zm3frztj3z7s35vpzmqf6ksu8r89qk5z2zxfmu5gv8th8wclt0h4p"
)
SPEC_SECRET = "3501454135014541350145413501453fefb02227e449e57cf4d3a3ce05378683"
SECRET = bytes.fromhex("67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa")


def test_spec_vector_decrypts():
    assert nip49.decrypt(SPEC_NCRYPTSEC, "nostr").hex() == SPEC_SECRET
    hrp, data = bech32.decode(SPEC_NCRYPTSEC)
    assert (hrp, len(data), data[0], data[1]) == ("ncryptsec", 91, 0x02, 16)


def test_spec_vector_with_wrong_password():
    with pytest.raises(CryptoError, match=r"^wrong passphrase or corrupted ncryptsec$"):
        nip49.decrypt(SPEC_NCRYPTSEC, "Nostr")


# --- round trips (log_n 4 keeps scrypt fast) -------------------------------------------------


@pytest.mark.parametrize("security", [nip49.KEY_INSECURE, nip49.KEY_SECURE, nip49.KEY_UNKNOWN])
def test_round_trip_and_layout(security):
    text = nip49.encrypt(SECRET, "correct horse", log_n=4, key_security=security)
    assert text.startswith("ncryptsec1")
    assert nip49.decrypt(text, "correct horse") == SECRET
    _, data = bech32.decode(text)
    assert (len(data), data[0], data[1], data[42]) == (91, 0x02, 4, security)


def test_default_key_security_is_unknown_and_encryption_is_randomised():
    first = nip49.encrypt(SECRET, "pw", log_n=4)
    second = nip49.encrypt(SECRET, "pw", log_n=4)
    assert first != second
    assert bech32.decode(first)[1][42] == nip49.KEY_UNKNOWN


def test_wrong_password():
    text = nip49.encrypt(SECRET, "right", log_n=4)
    with pytest.raises(CryptoError, match=r"^wrong passphrase or corrupted ncryptsec$"):
        nip49.decrypt(text, "wrong")


def test_password_is_nfkc_normalized():
    typed = "\u212b\u2126\u1e9b\u0323"  # the spec's example: Å Ω ẛ̣ in compatibility forms
    normalized = unicodedata.normalize("NFKC", typed)
    assert normalized.encode() == bytes([0xC3, 0x85, 0xCE, 0xA9, 0xE1, 0xB9, 0xA9])
    text = nip49.encrypt(SECRET, typed, log_n=4)
    assert nip49.decrypt(text, normalized) == SECRET
    assert nip49.decrypt(text, unicodedata.normalize("NFD", typed)) == SECRET
    with pytest.raises(CryptoError):
        nip49.decrypt(text, "\u00c5\u03a9")


def _reencode(text: str, index: int, value: int) -> str:
    _, data = bech32.decode(text)
    changed = bytearray(data)
    changed[index] = value
    return bech32.encode("ncryptsec", bytes(changed))


def test_tampering_is_detected():
    text = nip49.encrypt(SECRET, "pw", log_n=4, key_security=nip49.KEY_SECURE)
    for index, value in ((42, nip49.KEY_INSECURE), (50, 0), (90, 0), (5, 0), (30, 0)):
        original = bech32.decode(text)[1][index]
        tampered = _reencode(text, index, value if value != original else value + 1)
        with pytest.raises(CryptoError, match="wrong passphrase or corrupted"):
            nip49.decrypt(tampered, "pw")


def test_malformed_ncryptsec():
    text = nip49.encrypt(SECRET, "pw", log_n=4)
    with pytest.raises(CryptoError, match="unknown ncryptsec version 1"):
        nip49.decrypt(_reencode(text, 0, 1), "pw")
    with pytest.raises(CryptoError, match="log_n 40 is outside"):
        nip49.decrypt(_reencode(text, 1, 40), "pw")  # refused before scrypt would run
    with pytest.raises(CryptoError, match="key security byte 7"):
        nip49.decrypt(_reencode(text, 42, 7), "pw")
    with pytest.raises(EncodingError, match="expected ncryptsec, got nsec"):
        nip49.decrypt(nip19.nsec_encode(SECRET), "pw")
    with pytest.raises(EncodingError, match="must be 91 bytes, got 90"):
        nip49.decrypt(bech32.encode("ncryptsec", bytes(90)), "pw")
    with pytest.raises(EncodingError, match="checksum"):
        nip49.decrypt(text[:-1] + ("q" if text[-1] != "q" else "p"), "pw")


def test_encrypt_argument_checks():
    with pytest.raises(EncodingError, match="secret key"):
        nip49.encrypt(bytes(32), "pw", log_n=4)
    with pytest.raises(EncodingError, match="secret key"):
        nip49.encrypt(SECRET[:31], "pw", log_n=4)
    with pytest.raises(EncodingError, match="log_n"):
        nip49.encrypt(SECRET, "pw", log_n=0)
    with pytest.raises(EncodingError, match="log_n"):
        nip49.encrypt(SECRET, "pw", log_n=nip49.MAX_LOG_N + 1)
    with pytest.raises(EncodingError, match="key_security"):
        nip49.encrypt(SECRET, "pw", log_n=4, key_security=3)


# --- interop with rust-nostr ----------------------------------------------------------------


def test_interop_with_nostr_sdk_both_ways():
    key = SecretKey.generate()
    ours = nip49.encrypt(key.secret, "p\u00e4ssword", log_n=4)
    opened = nostr_sdk.EncryptedSecretKey.from_bech32(ours).decrypt("p\u00e4ssword")
    assert opened.to_hex() == key.secret.hex()

    theirs = nostr_sdk.EncryptedSecretKey(
        nostr_sdk.SecretKey.from_bytes(key.secret), "p\u00e4ssword", 4, nostr_sdk.KeySecurity.MEDIUM
    ).to_bech32()
    assert nip49.decrypt(theirs, "p\u00e4ssword") == key.secret
    assert bech32.decode(theirs)[1][42] == nip49.KEY_SECURE


# --- the log_n policy: an untrusted ncryptsec must not cost gigabytes before any question ----


def _with_log_n(text: str, log_n: int) -> str:
    """The same ncryptsec claiming another scrypt cost (what an attacker can paste)."""
    _, data = bech32.decode(text)
    return bech32.encode(nip49.PREFIX, data[:1] + bytes([log_n]) + data[2:])


def test_log_n_above_the_safe_limit_is_refused_before_scrypt(monkeypatch: pytest.MonkeyPatch):
    heavy = _with_log_n(nip49.encrypt(SECRET, "pw", log_n=4), 22)
    assert nip49.log_n_of(heavy) == 22
    # Any scrypt work at all would be the bug (log_n 22 took 16 s and 4 GiB before).
    monkeypatch.setattr(nip49, "Scrypt", None)
    with pytest.raises(EncodingError, match=r"log_n 22 is above 20 .*--allow-log-n 22"):
        nip49.decrypt(heavy, "pw")


def test_a_higher_log_n_opens_only_when_allowed():
    sealed = nip49.encrypt(SECRET, "pw", log_n=4)
    with pytest.raises(EncodingError, match="log_n 4 is above 3"):
        nip49.decrypt(sealed, "pw", max_log_n=3)
    assert nip49.decrypt(sealed, "pw", max_log_n=4) == SECRET
    assert nip49.SAFE_LOG_N == 20 and nip49.decrypt(sealed, "pw") == SECRET
