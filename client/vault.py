"""One identity's private state (its champions, the members it champions), sealed at rest.

A seized laptop must not reveal who champions whom. The file is sealed with a key
derived from the identity's secret (shared/atrest.py), so it opens only after the
passphrase unlocked the identity, and it is bound to that identity. Its name is a hash
of the public key, so the folder listing does not name the identity either.

Read-modify-write happens under an exclusive ``flock`` on a lock file, so a
``mas checkin --every`` loop and a ``mas champion add`` in another terminal do not lose
each other's changes. Written atomically, mode 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shieldmutual.client.config import Paths, write_private
from shieldmutual.client.errors import ConfigError
from shieldmutual.shared import atrest
from shieldmutual.shared.errors import CryptoError
from shieldmutual.shared.keys import SecretKey

PURPOSE = "private-state"
FOLDER = "sealed"
VERSION = 1


def vault_path(paths: Paths, pubkey: str) -> Path:
    name = hashlib.sha256(f"shieldmutual vault {pubkey}".encode()).hexdigest()[:24]
    return paths.state_dir / FOLDER / f"{name}.sealed"


class Vault:
    """``with vault.edit() as data: data["member"] = ...`` saves on a clean exit."""

    def __init__(self, path: Path, secret: SecretKey) -> None:
        self.path = path
        self.secret = secret

    @classmethod
    def of(cls, paths: Paths, secret: SecretKey) -> Vault:
        return cls(vault_path(paths, secret.public_hex), secret)

    def load(self) -> dict[str, Any]:
        """The document, or an empty one when nothing was saved yet."""
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return {"version": VERSION}
        try:
            data = json.loads(atrest.open_sealed(self.secret, PURPOSE, blob))
        except CryptoError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None
        except ValueError as exc:
            raise ConfigError(f"{self.path}: private state is damaged: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path}: private state is damaged")
        return data

    def save(self, data: dict[str, Any]) -> None:
        text = json.dumps({**data, "version": VERSION}, sort_keys=True).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self.path, atrest.seal(self.secret, PURPOSE, text), mode=0o600)

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Load under an exclusive lock, let the caller change it, save unless it raised."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.path.with_suffix(".lock")
        with open(lock, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                data = self.load()
                yield data
                self.save(data)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
