"""BIP-340 Schnorr and ECDH against the official test vectors.

``vectors/bip340-test-vectors.csv`` is bitcoin/bips ``bip-0340/test-vectors.csv`` verbatim
(blob 672339129a844a060591bb22f444158ff45438ed, 19 rows including the 2022-12
variable-length messages).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from shieldmutual.shared import keys
from shieldmutual.shared.errors import EncodingError, InvalidError

VECTORS = Path(__file__).parent / "vectors" / "bip340-test-vectors.csv"
ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
FIELD_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F


def _rows() -> list[dict[str, str]]:
    with VECTORS.open(newline="") as handle:
        return list(csv.DictReader(handle))


ROWS = _rows()
SIGNING_ROWS = [row for row in ROWS if row["secret key"]]
SIGNING_ROWS_32 = [row for row in SIGNING_ROWS if len(row["message"]) == 64]


def _id(row: dict[str, str]) -> str:
    return f"vector{row['index']}"


def test_vector_file_is_complete() -> None:
    assert [int(row["index"]) for row in ROWS] == list(range(19))
    assert {row["verification result"] for row in ROWS} == {"TRUE", "FALSE"}
    # Rows 15-18 sign messages of 0, 1, 17 and 100 bytes.
    assert sorted(
        len(row["message"]) // 2 for row in SIGNING_ROWS if len(row["message"]) != 64
    ) == [
        0,
        1,
        17,
        100,
    ]


@pytest.mark.parametrize("row", SIGNING_ROWS, ids=_id)
def test_public_key_from_secret(row: dict[str, str]) -> None:
    secret = keys.SecretKey(bytes.fromhex(row["secret key"]))
    assert secret.public_key == bytes.fromhex(row["public key"])
    assert secret.public_hex == row["public key"].lower()
    assert keys.public_key_of(bytes.fromhex(row["secret key"])) == secret.public_key
    assert keys.is_valid_public(secret.public_key)


@pytest.mark.parametrize("row", SIGNING_ROWS_32, ids=_id)
def test_sign_matches_vector(row: dict[str, str]) -> None:
    secret = keys.SecretKey.from_hex(row["secret key"])
    signature = secret.sign(bytes.fromhex(row["message"]), bytes.fromhex(row["aux_rand"]))
    assert signature == bytes.fromhex(row["signature"])


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_verify_matches_vector(row: dict[str, str]) -> None:
    expected = row["verification result"] == "TRUE"
    result = keys.verify(
        bytes.fromhex(row["public key"]),
        bytes.fromhex(row["message"]),
        bytes.fromhex(row["signature"]),
    )
    assert result is expected


@pytest.mark.parametrize("row", [r for r in SIGNING_ROWS if len(r["message"]) != 64], ids=_id)
def test_sign_refuses_messages_that_are_not_32_bytes(row: dict[str, str]) -> None:
    # Nostr only ever signs 32-byte ids; these vectors are covered by verify above.
    secret = keys.SecretKey.from_hex(row["secret key"])
    with pytest.raises(EncodingError, match="message must be 32 bytes"):
        secret.sign(bytes.fromhex(row["message"]), bytes.fromhex(row["aux_rand"]))


def test_bytearray_and_memoryview_inputs_are_accepted() -> None:
    row = SIGNING_ROWS_32[1]
    secret = keys.SecretKey(bytearray.fromhex(row["secret key"]))
    msg, aux, sig = (bytes.fromhex(row[f]) for f in ("message", "aux_rand", "signature"))
    assert secret.sign(bytearray(msg), bytearray(aux)) == sig
    assert keys.verify(bytearray(secret.public_key), bytearray(msg), bytearray(sig)) is True
    assert keys.verify(memoryview(secret.public_key), memoryview(msg), memoryview(sig)) is True
    other = keys.SecretKey.generate()
    assert keys.ecdh_x(bytearray(secret.secret), bytearray(other.public_key)) == keys.ecdh_x(
        other.secret, secret.public_key
    )


def test_random_signatures_round_trip_and_fail_when_tampered() -> None:
    secret = keys.SecretKey.generate()
    msg = bytes(range(32))
    sig = secret.sign(msg)
    assert len(sig) == 64
    assert keys.verify(secret.public_key, msg, sig) is True
    # Fresh auxiliary randomness by default: two signatures differ, both verify.
    sig2 = secret.sign(msg)
    assert sig2 != sig
    assert keys.verify(secret.public_key, msg, sig2) is True
    for i in (0, 31, 32, 63):
        tampered = bytearray(sig)
        tampered[i] ^= 1
        assert keys.verify(secret.public_key, msg, bytes(tampered)) is False
    assert keys.verify(secret.public_key, bytes(31) + b"\x01", sig) is False
    assert keys.verify(keys.SecretKey.generate().public_key, msg, sig) is False


# --- verify never raises on malformed input --------------------------------------------------

_GOOD = SIGNING_ROWS_32[1]
_PK = bytes.fromhex(_GOOD["public key"])
_MSG = bytes.fromhex(_GOOD["message"])
_SIG = bytes.fromhex(_GOOD["signature"])


@pytest.mark.parametrize(
    ("pubkey", "msg", "sig"),
    [
        pytest.param(b"", _MSG, _SIG, id="empty-pubkey"),
        pytest.param(_PK[:31], _MSG, _SIG, id="short-pubkey"),
        pytest.param(_PK + b"\x00", _MSG, _SIG, id="long-pubkey"),
        pytest.param(b"\x02" + _PK, _MSG, _SIG, id="compressed-33-byte-pubkey"),
        pytest.param(bytes(32), _MSG, _SIG, id="zero-pubkey"),
        pytest.param((FIELD_P).to_bytes(32, "big"), _MSG, _SIG, id="pubkey-equal-to-p"),
        pytest.param(b"\xff" * 32, _MSG, _SIG, id="pubkey-all-ff"),
        pytest.param(bytes.fromhex(ROWS[5]["public key"]), _MSG, _SIG, id="pubkey-not-on-curve"),
        pytest.param(_PK, _MSG, b"", id="empty-sig"),
        pytest.param(_PK, _MSG, _SIG[:63], id="short-sig"),
        pytest.param(_PK, _MSG, _SIG + b"\x00", id="long-sig"),
        pytest.param(_PK, _MSG, bytes(64), id="zero-sig"),
        pytest.param(_PK, _MSG, b"\xff" * 64, id="all-ff-sig"),
        pytest.param(_PK, b"", _SIG, id="empty-msg"),
        pytest.param(_PK, _MSG + b"\x00", _SIG, id="33-byte-msg"),
        pytest.param(_PK.hex(), _MSG, _SIG, id="hex-str-pubkey"),
        pytest.param(_PK, _MSG.hex(), _SIG, id="hex-str-msg"),
        pytest.param(_PK, _MSG, _SIG.hex(), id="hex-str-sig"),
        pytest.param(None, _MSG, _SIG, id="none-pubkey"),
        pytest.param(_PK, None, _SIG, id="none-msg"),
        pytest.param(_PK, _MSG, None, id="none-sig"),
        pytest.param(list(_PK), _MSG, _SIG, id="list-pubkey"),
    ],
)
def test_verify_is_false_never_raises(pubkey: object, msg: object, sig: object) -> None:
    assert keys.verify(pubkey, msg, sig) is False  # type: ignore[arg-type]


def test_is_valid_public() -> None:
    assert keys.is_valid_public(_PK) is True
    assert keys.is_valid_public(bytearray(_PK)) is True
    assert keys.is_valid_public(bytes.fromhex(ROWS[5]["public key"])) is False
    assert keys.is_valid_public(bytes.fromhex(ROWS[14]["public key"])) is False
    assert keys.is_valid_public(_PK[:31]) is False
    assert keys.is_valid_public(b"") is False


# --- secret keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param(ORDER, id="n"),
        pytest.param(ORDER + 1, id="n+1"),
        pytest.param(2**256 - 1, id="max"),
    ],
)
def test_out_of_range_secret_raises(value: int) -> None:
    raw = value.to_bytes(32, "big")
    assert keys.is_valid_secret(raw) is False
    with pytest.raises(EncodingError, match="zero or not below the curve order") as info:
        keys.SecretKey(raw)
    assert isinstance(info.value, InvalidError)
    assert info.value.wire().startswith("invalid: ")
    with pytest.raises(EncodingError):
        keys.SecretKey.from_hex(raw.hex())
    with pytest.raises(EncodingError):
        keys.ecdh_x(raw, _PK)


@pytest.mark.parametrize("value", [1, 2, ORDER - 1], ids=["one", "two", "n-1"])
def test_in_range_boundary_secrets_work(value: int) -> None:
    raw = value.to_bytes(32, "big")
    assert keys.is_valid_secret(raw) is True
    secret = keys.SecretKey(raw)
    msg = bytes(32)
    assert keys.verify(secret.public_key, msg, secret.sign(msg, bytes(32))) is True


def test_secret_one_gives_generator_x() -> None:
    gx = "79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798"
    assert keys.SecretKey((1).to_bytes(32, "big")).public_key == bytes.fromhex(gx)
    # n-1 is -1: same x, odd y, so the same x-only key.
    assert keys.SecretKey((ORDER - 1).to_bytes(32, "big")).public_key == bytes.fromhex(gx)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "secret key must be 32 bytes"),
        (b"\x01" * 31, "secret key must be 32 bytes"),
        (b"\x01" * 33, "secret key must be 32 bytes"),
        ("01" * 32, "secret key must be 32 bytes"),
        ("01" * 16, "secret key must be 32 bytes"),
    ],
    ids=["empty", "31-bytes", "33-bytes", "hex-str-64", "str-32-chars"],
)
def test_wrong_length_or_type_secret_raises(raw: object, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        keys.SecretKey(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["zz" * 32, "01" * 31, "01" * 33, "", "0x" + "01" * 31])
def test_from_hex_rejects_bad_hex(text: str) -> None:
    with pytest.raises(EncodingError):
        keys.SecretKey.from_hex(text)


def test_sign_rejects_bad_lengths() -> None:
    secret = keys.SecretKey.generate()
    with pytest.raises(EncodingError, match="auxiliary randomness must be 32 bytes"):
        secret.sign(bytes(32), bytes(31))
    with pytest.raises(EncodingError, match="message must be 32 bytes"):
        secret.sign(bytes(64))


def test_repr_never_shows_the_secret() -> None:
    row = SIGNING_ROWS[1]
    secret = keys.SecretKey.from_hex(row["secret key"])
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert row["secret key"].lower() not in text.lower()
        assert str(secret.secret) not in text
        assert row["public key"].lower() in text
    assert not hasattr(secret, "__dict__")


def test_equality_and_hash() -> None:
    raw = bytes.fromhex(SIGNING_ROWS[2]["secret key"])
    a, b = keys.SecretKey(raw), keys.SecretKey(bytearray(raw))
    assert a == b
    assert hash(a) == hash(b)
    assert a != keys.SecretKey.generate()
    assert a != raw


def test_generate_gives_valid_distinct_keys() -> None:
    generated = [keys.SecretKey.generate() for _ in range(8)]
    assert len({k.secret for k in generated}) == 8
    assert all(keys.is_valid_secret(k.secret) for k in generated)


# --- ECDH (NIP-44 shared_x) ------------------------------------------------------------------


def test_ecdh_x_is_symmetric() -> None:
    for _ in range(10):
        a, b = keys.SecretKey.generate(), keys.SecretKey.generate()
        shared = keys.ecdh_x(a.secret, b.public_key)
        assert len(shared) == 32
        assert shared == keys.ecdh_x(b.secret, a.public_key)
        assert shared != keys.ecdh_x(a.secret, keys.SecretKey.generate().public_key)


def test_ecdh_x_known_value() -> None:
    # 1 * P is P itself; 2 * G has the well-known x coordinate.
    row = SIGNING_ROWS[1]
    pub = bytes.fromhex(row["public key"])
    assert keys.ecdh_x((1).to_bytes(32, "big"), pub) == pub
    g = bytes.fromhex("79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798")
    two_g = "C6047F9441ED7D6D3045406E95C07CD85C778E4B8CEF3CA7ABAC09B95C709EE5"
    assert keys.ecdh_x((2).to_bytes(32, "big"), g) == bytes.fromhex(two_g)


def test_ecdh_x_rejects_bad_public_keys() -> None:
    secret = keys.SecretKey.generate().secret
    with pytest.raises(EncodingError, match="not on the curve"):
        keys.ecdh_x(secret, bytes.fromhex(ROWS[5]["public key"]))
    with pytest.raises(EncodingError, match="not on the curve"):
        keys.ecdh_x(secret, bytes.fromhex(ROWS[14]["public key"]))
    with pytest.raises(EncodingError, match="public key must be 32 bytes"):
        keys.ecdh_x(secret, _PK[:31])
    with pytest.raises(EncodingError, match="secret key must be 32 bytes"):
        keys.ecdh_x(secret[:31], _PK)
