"""The sealed vault: private state opens only with its identity, and edits do not race."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from shieldmutual.client.config import Paths
from shieldmutual.client.errors import ConfigError
from shieldmutual.client.vault import Vault, vault_path
from shieldmutual.shared.keys import SecretKey


def _paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "config.toml", tmp_path / "keys", tmp_path / "state")


def test_round_trip_private_and_anonymous(tmp_path: Path) -> None:
    alice = SecretKey.generate()
    vault = Vault.of(_paths(tmp_path), alice)
    assert vault.load() == {"version": 1}
    champion = SecretKey.generate().public_hex
    with vault.edit() as data:
        data["member"] = {"champions": {champion: {"added_at": 1}}}
    assert vault.load()["member"]["champions"] == {champion: {"added_at": 1}}
    raw = vault.path.read_bytes()
    for secret_text in (champion, alice.public_hex, "champions", "member"):
        assert secret_text.encode() not in raw
    assert alice.public_hex not in vault.path.name  # the name does not say whose it is
    assert stat.S_IMODE(os.stat(vault.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(vault.path.parent).st_mode) == 0o700


def test_another_identity_cannot_open_it(tmp_path: Path) -> None:
    alice, mallory = SecretKey.generate(), SecretKey.generate()
    paths = _paths(tmp_path)
    Vault.of(paths, alice).save({"member": {"x": 1}})
    stolen = Vault(vault_path(paths, alice), mallory)
    with pytest.raises(ConfigError, match="does not open"):
        stolen.load()


def test_failed_edit_saves_nothing(tmp_path: Path) -> None:
    vault = Vault.of(_paths(tmp_path), SecretKey.generate())
    vault.save({"n": 1})
    with pytest.raises(RuntimeError), vault.edit() as data:
        data["n"] = 2
        raise RuntimeError("the network failed")
    assert vault.load()["n"] == 1


def test_concurrent_edits_are_serialized(tmp_path: Path) -> None:
    """Each thread opens its own Vault (as separate processes would) and increments."""
    paths, secret = _paths(tmp_path), SecretKey.generate()
    Vault.of(paths, secret).save({"n": 0})

    def bump() -> None:
        for _ in range(10):
            with Vault.of(paths, secret).edit() as data:
                data["n"] += 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Vault.of(paths, secret).load()["n"] == 40


def test_file_name_cannot_be_confirmed_from_a_pubkey(tmp_path: Path) -> None:
    """A name hashed from the public key let anyone with a suspect's npub confirm that
    this laptop holds their vault; it is derived from the secret now."""
    import hashlib

    alice = SecretKey.generate()
    path = vault_path(_paths(tmp_path), alice)
    for text in (alice.public_hex, f"shieldmutual vault {alice.public_hex}"):
        assert hashlib.sha256(text.encode()).hexdigest()[:24] not in path.name


def test_size_does_not_count_members(tmp_path: Path) -> None:
    """One 4 KiB step per member told how many members someone champions."""
    paths, secret = _paths(tmp_path), SecretKey.generate()
    package = {"request_markdown": "x" * 3000, "attestation": {"content": "y" * 900}}
    sizes = []
    for count in (1, 3):
        members = {SecretKey.generate().public_hex: package for _ in range(count)}
        Vault.of(paths, secret).save({"championing": members})
        sizes.append(vault_path(paths, secret).stat().st_size)
    assert sizes[0] == sizes[1]
