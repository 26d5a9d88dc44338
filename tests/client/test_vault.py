"""The sealed vault: private state opens only with its identity, edits do not race, and
the files on disk do not say how many identities use champions."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.client.config import Paths
from shieldmutual.client.errors import ConfigError
from shieldmutual.client.vault import HOME_PURPOSE, VERSION, Home, Vault
from shieldmutual.shared import atrest
from shieldmutual.shared.keys import SecretKey


def _home(tmp_path: Path) -> Home:
    """A fresh Home each call, as each process would make its own."""
    return Home(Paths.resolve({"MAS_HOME": str(tmp_path)}), lambda _create: bytes(range(32)))


def _sizes(root: Path) -> dict[str, int]:
    """What a seized laptop shows without the passphrase: file names and sizes."""
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _save(vault: Vault, data: dict[str, Any]) -> None:
    with vault.edit() as current:
        current.update(data)


def _champions() -> dict[str, Any]:
    return {"member": {"champions": {SecretKey.generate().public_hex: {"added_at": 1}}}}


def test_round_trip_private_and_anonymous(tmp_path: Path) -> None:
    alice = SecretKey.generate()
    vault = Vault(_home(tmp_path), alice)
    assert vault.load() == {"version": 1}
    champion = SecretKey.generate().public_hex
    with vault.edit() as data:
        data["member"] = {"champions": {champion: {"added_at": 1}}}
    assert Vault(_home(tmp_path), alice).load()["member"]["champions"] == {
        champion: {"added_at": 1}
    }
    raw = vault.path.read_bytes()
    for secret_text in (champion, alice.public_hex, "champions", "member", vault.slot):
        assert secret_text.encode() not in raw
    assert stat.S_IMODE(os.stat(vault.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(vault.path.with_suffix(".lock")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(vault.path.parent).st_mode) == 0o700


def test_files_do_not_count_identities(tmp_path: Path) -> None:
    """One sealed file per identity told a seized laptop how many identities use
    champions; all of them share one padded file now."""
    _save(Vault(_home(tmp_path), SecretKey.generate()), _champions())
    one = _sizes(tmp_path)
    others = [SecretKey.generate() for _ in range(2)]
    for secret in others:
        _save(Vault(_home(tmp_path), secret), _champions())
    assert _sizes(tmp_path) == one
    assert all("member" in Vault(_home(tmp_path), s).load() for s in others)


def test_the_vault_file_does_not_say_champions_are_used(tmp_path: Path) -> None:
    """A vault file that appeared with the first champion told a seized laptop that
    someone here uses champions; it comes with the home's first sealed file now."""
    home = _home(tmp_path)
    home.write(home.paths.settings_file, "settings", {"relays": []})
    before = _sizes(tmp_path)
    _save(Vault(_home(tmp_path), SecretKey.generate()), _champions())
    assert _sizes(tmp_path) == before


def test_a_home_write_during_a_vault_edit_does_not_wait_for_it(tmp_path: Path) -> None:
    """A command that saves its settings inside a vault edit holds the vault's lock; the
    home write must not wait for that lock (it would wait for itself), nor lose the edit."""
    secret = SecretKey.generate()

    def edit_and_write_settings() -> None:
        home = _home(tmp_path)
        with Vault(home, secret).edit() as data:
            home.write(home.paths.settings_file, "settings", {"relays": []})
            data["n"] = 1

    worker = threading.Thread(target=edit_and_write_settings, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert Vault(_home(tmp_path), secret).load()["n"] == 1


def test_another_identity_cannot_open_it(tmp_path: Path) -> None:
    """Whoever holds the home key sees sealed entries; copying Alice's entry into
    Mallory's place does not open it for Mallory."""
    alice, mallory = SecretKey.generate(), SecretKey.generate()
    home = _home(tmp_path)
    _save(Vault(home, alice), {"member": {"x": 1}})
    stolen = Vault(home, mallory)
    document = home.read(stolen.path, HOME_PURPOSE)
    document["entries"][stolen.slot] = document["entries"][Vault(home, alice).slot]
    home.write(stolen.path, HOME_PURPOSE, document)
    with pytest.raises(ConfigError, match="does not open"):
        stolen.load()
    assert Vault(home, alice).load()["member"] == {"x": 1}


def test_a_damaged_entry_is_a_config_error(tmp_path: Path) -> None:
    home, secret = _home(tmp_path), SecretKey.generate()
    vault = Vault(home, secret)
    home.write(vault.path, HOME_PURPOSE, {"entries": {vault.slot: "not base64!"}})
    with pytest.raises(ConfigError, match="damaged"):
        vault.load()


def test_failed_edit_saves_nothing(tmp_path: Path) -> None:
    vault = Vault(_home(tmp_path), SecretKey.generate())
    _save(vault, {"n": 1})
    with pytest.raises(RuntimeError), vault.edit() as data:
        data["n"] = 2
        raise RuntimeError("the network failed")
    assert vault.load()["n"] == 1


def test_concurrent_edits_are_serialized(tmp_path: Path) -> None:
    """Each thread opens its own Home and Vault (as separate processes would) and
    increments; two identities share the file, so neither may lose the other's edits."""
    secrets = [SecretKey.generate(), SecretKey.generate()]
    for secret in secrets:
        _save(Vault(_home(tmp_path), secret), {"n": 0})

    def bump(secret: SecretKey) -> None:
        for _ in range(10):
            with Vault(_home(tmp_path), secret).edit() as data:
                data["n"] += 1

    threads = [threading.Thread(target=bump, args=(s,)) for s in secrets * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [Vault(_home(tmp_path), s).load()["n"] for s in secrets] == [20, 20]


def test_entry_name_cannot_be_confirmed_from_a_pubkey(tmp_path: Path) -> None:
    """A name hashed from the public key would let anyone with a suspect's npub (and the
    home key) confirm which entry is theirs; it is derived from the secret."""
    alice = SecretKey.generate()
    slot = Vault(_home(tmp_path), alice).slot
    for text in (alice.public_hex, f"shieldmutual vault {alice.public_hex}"):
        assert hashlib.sha256(text.encode()).hexdigest()[:24] not in slot


def test_size_does_not_count_members(tmp_path: Path) -> None:
    """One 4 KiB step per member told how many members someone champions."""
    secret = SecretKey.generate()
    package = {"request_markdown": "x" * 3000, "attestation": {"content": "y" * 900}}
    sizes = []
    for count in (1, 3):
        members = {SecretKey.generate().public_hex: package for _ in range(count)}
        vault = Vault(_home(tmp_path), secret)
        _save(vault, {"championing": members})
        sizes.append(vault.path.stat().st_size)
    assert sizes[0] == sizes[1]


def _legacy_file(tmp_path: Path, secret: SecretKey, data: dict[str, Any]) -> Path:
    """A vault as the previous version kept it: its own file, named from the identity's
    public key and sealed with its secret, with its lock file beside it."""
    folder = tmp_path / "state" / "sealed"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(f"shieldmutual vault {secret.public_hex}".encode()).hexdigest()[:24]
    path = folder / f"{name}.sealed"
    path.write_bytes(atrest.seal(secret, "private-state", json.dumps(data).encode()))
    path.with_suffix(".lock").touch()
    return path


def test_per_identity_files_are_moved_in_and_deleted(tmp_path: Path) -> None:
    alice, bob = SecretKey.generate(), SecretKey.generate()
    alice_file = _legacy_file(tmp_path, alice, {"member": {"a": 1}, "version": 1})
    bob_file = _legacy_file(tmp_path, bob, {"member": {"b": 2}, "version": 1})

    assert Vault(_home(tmp_path), alice).load()["member"] == {"a": 1}
    assert not alice_file.exists() and not alice_file.with_suffix(".lock").exists()
    assert bob_file.exists()  # Bob's opens only with Bob's secret: moved when he comes

    with Vault(_home(tmp_path), bob).edit() as data:
        data["member"]["b"] += 1
    assert not (tmp_path / "state" / "sealed").exists()
    assert Vault(_home(tmp_path), bob).load()["member"] == {"b": 3}
    assert Vault(_home(tmp_path), alice).load()["member"] == {"a": 1}
    assert sorted(_sizes(tmp_path)) == ["state/vault.lock", "state/vault.sealed"]


def test_a_failed_first_edit_keeps_the_old_file(tmp_path: Path) -> None:
    """Moving a per-identity file in is part of the edit: if the edit fails, the old
    file stays, so nothing is lost."""
    secret = SecretKey.generate()
    old = _legacy_file(tmp_path, secret, {"n": 1, "version": 1})
    with pytest.raises(RuntimeError), Vault(_home(tmp_path), secret).edit() as data:
        data["n"] = 2
        raise RuntimeError("the network failed")
    assert old.exists()
    assert Vault(_home(tmp_path), secret).load()["n"] == 1
    assert not old.exists()


def test_the_entry_is_a_versioned_record_and_a_newer_one_is_left_alone(tmp_path: Path) -> None:
    """Issue 16 point 8: entries are typed VaultRecords; one written before versions
    existed opens, one a newer mas wrote is refused rather than rewritten without its
    unknown parts."""
    old, new = SecretKey.generate(), SecretKey.generate()
    _legacy_file(tmp_path, old, {"member": {"interval": 3600}})
    assert Vault(_home(tmp_path), old).load()["member"] == {"interval": 3600}
    assert Vault(_home(tmp_path), old).load() == {"member": {"interval": 3600}, "version": VERSION}
    newer = _legacy_file(tmp_path, new, {"member": {}, "version": VERSION + 1})
    with pytest.raises(ConfigError, match="newer mas"):
        Vault(_home(tmp_path), new).load()
    assert newer.exists()
