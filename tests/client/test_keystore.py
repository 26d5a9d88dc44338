"""The keystore: ncryptsec only at rest, 0600 files, names, passphrases, secret parsing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shieldmutual.client.errors import IdentityError, PassphraseError
from shieldmutual.client.keystore import (
    Keystore,
    check_name,
    get_passphrase,
    parse_secret,
    scrypt_log_n,
)
from shieldmutual.shared import nip19, nip49
from shieldmutual.shared.errors import CryptoError, EncodingError
from shieldmutual.shared.keys import SecretKey

SECRET = SecretKey(bytes.fromhex("11" * 32))


@pytest.fixture
def store(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keys", log_n=4)


def test_add_unlock_and_files_at_rest(store: Keystore) -> None:
    ident = store.add("alice", SECRET, "correct horse")
    assert ident.pubkey == SECRET.public_hex
    assert ident.npub == nip19.npub_encode(SECRET.public_hex)
    path = store.directory / "alice.toml"
    text = path.read_text()
    assert "ncryptsec1" in text
    assert SECRET.secret.hex() not in text
    assert nip19.nsec_encode(SECRET.secret) not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert store.unlock("alice", "correct horse") == SECRET
    # The stored seal is a standard NIP-49 ncryptsec anyone can open with the passphrase.
    assert nip49.decrypt(store.ncryptsec("alice"), "correct horse") == SECRET.secret


def test_wrong_passphrase_is_a_crypto_error(store: Keystore) -> None:
    store.add("alice", SECRET, "right")
    with pytest.raises(CryptoError, match="wrong passphrase"):
        store.unlock("alice", "wrong")


def test_list_get_remove(store: Keystore) -> None:
    assert store.list() == []
    store.add("bob", SecretKey.generate(), "p", throwaway=True)
    store.add("alice", SECRET, "p")
    assert [i.name for i in store.list()] == ["alice", "bob"]
    assert store.get("bob").throwaway
    store.remove("bob")
    assert [i.name for i in store.list()] == ["alice"]
    with pytest.raises(IdentityError):
        store.get("bob")
    with pytest.raises(IdentityError):
        store.remove("bob")


def test_names_are_unique_and_safe(store: Keystore) -> None:
    store.add("alice", SECRET, "p")
    with pytest.raises(IdentityError, match="already exists"):
        store.add("alice", SecretKey.generate(), "p")
    for bad in ["", "../x", "a/b", ".hidden", "-x", "x" * 65, "a b"]:
        with pytest.raises(IdentityError):
            check_name(bad)
    assert check_name("Society-1.persona_2") == "Society-1.persona_2"


def test_add_ncryptsec_keeps_it_and_checks_the_passphrase(store: Keystore) -> None:
    sealed = nip49.encrypt(SECRET.secret, "theirs", log_n=4)
    with pytest.raises(CryptoError):
        store.add_ncryptsec("x", sealed, "not theirs")
    assert not store.exists("x")
    ident = store.add_ncryptsec("x", sealed, "theirs")
    assert ident.pubkey == SECRET.public_hex
    assert store.ncryptsec("x") == sealed
    unnamed = store.add_ncryptsec(None, nip49.encrypt(SECRET.secret, "t", log_n=4), "t")
    assert unnamed.name == store.suggest_name(SECRET.public_hex).removesuffix("-2")


def test_security_byte_records_how_the_key_was_handled(store: Keystore) -> None:
    store.add("gen", SecretKey.generate(), "p")
    store.add("pasted", SECRET, "p", handled_securely=False)
    _, gen = nip19.bech32_decode(store.ncryptsec("gen"))
    _, pasted = nip19.bech32_decode(store.ncryptsec("pasted"))
    assert gen[42] == nip49.KEY_SECURE
    assert pasted[42] == nip49.KEY_INSECURE
    assert gen[1] == 4  # log_n as configured


def test_tampered_pubkey_is_detected(store: Keystore) -> None:
    store.add("alice", SECRET, "p")
    path = store.directory / "alice.toml"
    other = SecretKey.generate().public_hex
    path.write_text(path.read_text().replace(SECRET.public_hex, other))
    with pytest.raises(IdentityError, match="does not match"):
        store.unlock("alice", "p")


def test_damaged_file_is_an_identity_error(store: Keystore) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "bad.toml").write_text("name = ")
    with pytest.raises(IdentityError, match="damaged"):
        store.list()


def test_suggest_name(store: Keystore) -> None:
    name = store.suggest_name(SECRET.public_hex)
    assert name.startswith("key-") and len(name) == 12
    store.add(name, SECRET, "p")
    assert store.suggest_name(SECRET.public_hex) == name + "-2"


def test_parse_secret_forms() -> None:
    nsec = nip19.nsec_encode(SECRET.secret)
    assert parse_secret(nsec).secret == SECRET
    assert parse_secret(f"  {nsec}\n").form == "nsec"
    assert parse_secret(SECRET.secret.hex().upper()).secret == SECRET
    sealed = nip49.encrypt(SECRET.secret, "p", log_n=4)
    parsed = parse_secret(sealed)
    assert parsed.form == "ncryptsec" and parsed.ncryptsec == sealed and parsed.secret is None
    for bad in ["", "hello", "nsec1abc", "00" * 32, "ff" * 32, "npub1" + "q" * 58]:
        with pytest.raises(EncodingError):
            parse_secret(bad)


def test_log_n_from_environment() -> None:
    assert scrypt_log_n({}) == 16
    assert scrypt_log_n({"MAS_SCRYPT_LOG_N": "8"}) == 8
    for bad in ["0", "23", "x"]:
        with pytest.raises(EncodingError):
            scrypt_log_n({"MAS_SCRYPT_LOG_N": bad})


def test_passphrase_from_environment() -> None:
    assert get_passphrase(environ={"MAS_PASSPHRASE": "s3cret"}) == "s3cret"
    assert get_passphrase(environ={"MAS_PASSPHRASE": ""}) == ""
    with pytest.raises(PassphraseError):
        get_passphrase(confirm=True, environ={"MAS_PASSPHRASE": ""})
