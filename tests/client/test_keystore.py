"""The keystore: ncryptsec only at rest, the identity list sealed, names, passphrases."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from shieldmutual.client.config import Paths
from shieldmutual.client.errors import IdentityError, PassphraseError
from shieldmutual.client.keystore import Keystore, check_name, parse_secret, scrypt_log_n
from shieldmutual.client.unlock import Passphrases, refuse_passphrase_env
from shieldmutual.client.vault import Home
from shieldmutual.shared import bech32, nip19, nip49
from shieldmutual.shared.errors import CryptoError, EncodingError
from shieldmutual.shared.keys import SecretKey

SECRET = SecretKey(bytes.fromhex("11" * 32))


HOME_KEY = bytes(range(32))


def _home(tmp_path: Path) -> Home:
    return Home(Paths.resolve({"MAS_HOME": str(tmp_path)}), lambda _create: HOME_KEY)


@pytest.fixture
def store(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keys", _home(tmp_path), log_n=4)


@pytest.fixture
def plain(tmp_path: Path) -> Keystore:
    """The ``seal_identities = false`` opt-out."""
    return Keystore(tmp_path / "keys", None, log_n=4)


def _disk(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file())


def test_add_unlock_and_files_at_rest(store: Keystore, tmp_path: Path) -> None:
    ident = store.add("alice", SECRET, "correct horse", throwaway=True)
    assert ident.pubkey == SECRET.public_hex
    assert ident.npub == nip19.npub_encode(SECRET.public_hex)
    (path,) = store.directory.iterdir()
    # Names, public keys and the throwaway flag were readable without the passphrase.
    disk = _disk(tmp_path)
    for text in ("alice", SECRET.public_hex, ident.npub, "throwaway", "ncryptsec1"):
        assert text.encode() not in disk
    assert SECRET.secret.hex().encode() not in disk
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
    _, gen = bech32.decode(store.ncryptsec("gen"))
    _, pasted = bech32.decode(store.ncryptsec("pasted"))
    assert gen[42] == nip49.KEY_SECURE
    assert pasted[42] == nip49.KEY_INSECURE
    assert gen[1] == 4  # log_n as configured


def test_tampered_pubkey_is_detected(plain: Keystore) -> None:
    plain.add("alice", SECRET, "p")
    path = plain.directory / "identities.json"
    other = SecretKey.generate().public_hex
    path.write_text(path.read_text().replace(SECRET.public_hex, other))
    with pytest.raises(IdentityError, match="does not match"):
        Keystore(plain.directory, None).unlock("alice", "p")


def test_damaged_file_is_an_identity_error(store: Keystore) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "bad.toml").write_text("name = ")
    with pytest.raises(IdentityError, match="damaged"):
        store.list()


def test_opt_out_keeps_the_list_plain_and_says_what_it_shows(plain: Keystore) -> None:
    plain.add("alice", SECRET, "p")
    path = plain.directory / "identities.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = json.loads(path.read_text())["identities"]["alice"]
    assert record["pubkey"] == SECRET.public_hex and record["ncryptsec"].startswith("ncryptsec1")
    assert SECRET.secret.hex() not in path.read_text()
    assert Keystore(plain.directory, None).get("alice").pubkey == SECRET.public_hex


def test_switching_forms_and_older_files_move_into_the_sealed_list(
    plain: Keystore, tmp_path: Path
) -> None:
    plain.add("alice", SECRET, "p")
    # A name long enough that 64 KiB of random ciphertext never holds it by chance
    # (three letters did, about once in 250 runs).
    name = "bob-of-the-older-layout"
    legacy = plain.directory / f"{name}.toml"
    bob = SecretKey.generate()
    sealed = nip49.encrypt(bob.secret, "p", log_n=4)
    legacy.write_text(f'name = "{name}"\npubkey = "{bob.public_hex}"\nncryptsec = "{sealed}"\n')
    store = Keystore(plain.directory, _home(tmp_path), log_n=4)
    assert [i.name for i in store.list()] == ["alice", name]
    assert sorted(p.name for p in plain.directory.iterdir()) == ["identities.sealed"]
    assert name.encode() not in _disk(tmp_path) and store.unlock(name, "p") == bob


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
    for bad in ["0", "21", "23", "x"]:
        with pytest.raises(EncodingError):
            scrypt_log_n({"MAS_SCRYPT_LOG_N": bad})


def test_an_imported_ncryptsec_above_the_safe_cost_is_refused_unless_allowed(
    store: Keystore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = bech32.decode(nip49.encrypt(SECRET.secret, "p", log_n=4))
    heavy = bech32.encode("ncryptsec", data[:1] + bytes([22]) + data[2:])
    monkeypatch.setattr(nip49, "Scrypt", None)  # any scrypt work would fail the test
    with pytest.raises(EncodingError, match="--allow-log-n 22"):
        store.add_ncryptsec("x", heavy, "p")
    assert not store.exists("x")


def _pipe(data: bytes) -> int:
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return read


def test_passphrase_from_a_file_descriptor_is_read_once() -> None:
    fd = _pipe(b"s3cret \xc3\xa9\nnext line\n")
    try:
        source = Passphrases(environ={"MAS_PASSPHRASE_FD": str(fd)})
        assert source.get() == "s3cret \u00e9" and source.get("again") == "s3cret \u00e9"
        assert os.read(fd, 100) == b"next line\n"  # one line taken, the rest left alone
    finally:
        os.close(fd)
    empty = _pipe(b"")
    try:
        with pytest.raises(PassphraseError, match="must not be empty"):
            Passphrases(empty).get(confirm=True)
    finally:
        os.close(empty)
    with pytest.raises(PassphraseError, match="file descriptor"):
        Passphrases(environ={"MAS_PASSPHRASE_FD": "three"})


def test_passphrase_in_the_environment_is_refused() -> None:
    """MAS_PASSPHRASE is readable in /proc/PID/environ by every process of the user."""
    with pytest.raises(PassphraseError, match=r"MAS_PASSPHRASE is refused.*mas unlock.*fd"):
        refuse_passphrase_env({"MAS_PASSPHRASE": "s3cret"})
    refuse_passphrase_env({"MAS_PASSPHRASE_FD": "3"})


def test_reseal_keeps_the_key_and_its_security_byte(store: Keystore) -> None:
    store.add("alice", SECRET, "old", handled_securely=False)
    store.reseal("alice", SECRET, "new")
    assert store.unlock("alice", "new") == SECRET
    _, data = bech32.decode(store.ncryptsec("alice"))
    assert data[42] == nip49.KEY_INSECURE
    with pytest.raises(PassphraseError):
        store.unlock("alice", "old")
