"""NIP-44 v2 against every section of the official vectors (paulmillr/nip44), plus rust-nostr.

tests/shared/vectors/nip44.vectors.json is nip44.vectors.json from github.com/paulmillr/nip44
at commit 671a1f04bcfacaf125b0db68adc45bc9ce0e763b, byte for byte
(sha256 269ed0f69e4c192512cc779e78c555090cebc7c785b609e338a62afc3ce25040).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import nostr_sdk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldmutual.shared import nip44
from shieldmutual.shared.errors import CryptoError
from shieldmutual.shared.keys import SecretKey, public_key_of

_PATH = Path(__file__).parent / "vectors" / "nip44.vectors.json"
VECTORS = json.loads(_PATH.read_text("utf-8"))["v2"]
VALID, INVALID = VECTORS["valid"], VECTORS["invalid"]


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def test_vector_file_is_the_official_one():
    digest = hashlib.sha256(_PATH.read_bytes()).hexdigest()
    assert digest == "269ed0f69e4c192512cc779e78c555090cebc7c785b609e338a62afc3ce25040"


# --- valid --------------------------------------------------------------------------------


@pytest.mark.parametrize("v", VALID["get_conversation_key"], ids=lambda v: v["sec1"][:8])
def test_get_conversation_key(v):
    assert nip44.get_conversation_key(h(v["sec1"]), h(v["pub2"])).hex() == v["conversation_key"]


def test_get_message_keys():
    data = VALID["get_message_keys"]
    assert len(data["keys"]) > 0
    for v in data["keys"]:
        keys = nip44.get_message_keys(h(data["conversation_key"]), h(v["nonce"]))
        assert keys.chacha_key.hex() == v["chacha_key"]
        assert keys.chacha_nonce.hex() == v["chacha_nonce"]
        assert keys.hmac_key.hex() == v["hmac_key"]


@pytest.mark.parametrize(("unpadded", "padded"), VALID["calc_padded_len"])
def test_calc_padded_len(unpadded, padded):
    assert nip44.calc_padded_len(unpadded) == padded


@pytest.mark.parametrize("v", VALID["encrypt_decrypt"], ids=lambda v: v["nonce"][:8])
def test_encrypt_decrypt(v):
    sec1, sec2 = h(v["sec1"]), h(v["sec2"])
    key = nip44.get_conversation_key(sec1, public_key_of(sec2))
    assert key.hex() == v["conversation_key"]
    assert nip44.get_conversation_key(sec2, public_key_of(sec1)) == key
    assert nip44.encrypt(v["plaintext"], key, h(v["nonce"])) == v["payload"]
    assert nip44.decrypt(v["payload"], key) == v["plaintext"]


@pytest.mark.parametrize("v", VALID["encrypt_decrypt_long_msg"], ids=lambda v: v["pattern"])
def test_encrypt_decrypt_long_msg(v):
    plaintext = v["pattern"] * v["repeat"]
    assert hashlib.sha256(plaintext.encode()).hexdigest() == v["plaintext_sha256"]
    key = h(v["conversation_key"])
    payload = nip44.encrypt(plaintext, key, h(v["nonce"]))
    assert hashlib.sha256(payload.encode()).hexdigest() == v["payload_sha256"]
    assert nip44.decrypt(payload, key) == plaintext


# --- invalid ------------------------------------------------------------------------------


@pytest.mark.parametrize("length", INVALID["encrypt_msg_lengths"])
def test_encrypt_rejects_message_length(length):
    key = bytes(range(32))
    with pytest.raises(CryptoError, match="invalid plaintext length"):
        nip44.encrypt("a" * length, key)
    with pytest.raises(CryptoError, match="invalid plaintext length"):
        nip44.pad("a" * length)


@pytest.mark.parametrize("v", INVALID["get_conversation_key"], ids=lambda v: v["note"])
def test_get_conversation_key_rejects_invalid_keys(v):
    with pytest.raises(CryptoError, match="invalid key"):
        nip44.get_conversation_key(h(v["sec1"]), h(v["pub2"]))


@pytest.mark.parametrize("v", INVALID["decrypt"], ids=lambda v: v["note"])
def test_decrypt_rejects(v):
    # Notes read like "invalid payload length: 48"; the part before ":" is the reason.
    reason = v["note"].split(":")[0]
    with pytest.raises(CryptoError, match=re.escape(reason)):
        nip44.decrypt(v["payload"], h(v["conversation_key"]))


# --- our own edges ------------------------------------------------------------------------


def test_pad_unpad_shape():
    padded = nip44.pad("hi")
    assert padded == b"\x00\x02hi" + bytes(30)
    assert nip44.unpad(padded) == "hi"
    for bad in (padded[:-1], padded + b"\x00", b"\x00\x00" + padded[2:], b"\x00\x21" + padded[2:]):
        with pytest.raises(CryptoError, match="invalid padding"):
            nip44.unpad(bad)


def test_tampering_anywhere_fails_the_mac():
    key = bytes(range(32))
    payload = nip44.encrypt("attack at dawn", key)
    raw = bytearray(base64.b64decode(payload))
    for index in (1, 40, len(raw) - 1):
        changed = bytearray(raw)
        changed[index] ^= 1
        with pytest.raises(CryptoError, match="invalid MAC"):
            nip44.decrypt(base64.b64encode(bytes(changed)).decode(), key)
    with pytest.raises(CryptoError, match="invalid MAC"):
        nip44.decrypt(payload, bytes(32))


def test_random_nonce_makes_payloads_differ():
    key = bytes(range(32))
    first, second = nip44.encrypt("same", key), nip44.encrypt("same", key)
    assert first != second
    assert nip44.decrypt(first, key) == nip44.decrypt(second, key) == "same"


def test_bad_key_and_nonce_lengths():
    with pytest.raises(CryptoError, match="conversation key length"):
        nip44.encrypt("x", bytes(31))
    with pytest.raises(CryptoError, match="nonce length"):
        nip44.encrypt("x", bytes(32), bytes(24))
    with pytest.raises(CryptoError, match="not valid UTF-8"):
        nip44.encrypt("\ud800", bytes(32))


def test_oversized_payload_is_refused_before_base64():
    with pytest.raises(CryptoError, match="invalid payload length 87473"):
        nip44.decrypt("A" * 87473, bytes(32))


# --- interop with rust-nostr (independent implementation) ----------------------------------

plaintexts = st.text(min_size=1, max_size=400)  # hypothesis leaves out lone surrogates


@settings(max_examples=40, deadline=None)
@given(plaintexts)
def test_interop_with_nostr_sdk_both_ways(plaintext):
    alice, bob = SecretKey.generate(), SecretKey.generate()
    alice_sdk = nostr_sdk.SecretKey.from_bytes(alice.secret)
    bob_sdk = nostr_sdk.SecretKey.from_bytes(bob.secret)
    alice_pub = nostr_sdk.PublicKey.from_bytes(alice.public_key)
    bob_pub = nostr_sdk.PublicKey.from_bytes(bob.public_key)

    ours = nip44.encrypt(plaintext, nip44.get_conversation_key(alice.secret, bob.public_key))
    assert nostr_sdk.nip44_decrypt(bob_sdk, alice_pub, ours) == plaintext

    theirs = nostr_sdk.nip44_encrypt(alice_sdk, bob_pub, plaintext, nostr_sdk.Nip44Version.V2)
    assert (
        nip44.decrypt(theirs, nip44.get_conversation_key(bob.secret, alice.public_key)) == plaintext
    )


def test_interop_longest_message():
    alice, bob = SecretKey.generate(), SecretKey.generate()
    plaintext = "\u00e9" * 32767 + "x"  # 65535 UTF-8 bytes
    ours = nip44.encrypt(plaintext, nip44.get_conversation_key(alice.secret, bob.public_key))
    bob_sdk = nostr_sdk.SecretKey.from_bytes(bob.secret)
    alice_pub = nostr_sdk.PublicKey.from_bytes(alice.public_key)
    assert nostr_sdk.nip44_decrypt(bob_sdk, alice_pub, ours) == plaintext
