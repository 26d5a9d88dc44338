"""Sealed local files: the home's (settings, identities, follows) and each identity's vault.

A seized laptop must not reveal who uses it, which societies they follow, where they
talk, or who champions whom. Two kinds of sealed file (format in shared/atrest.py):

* :class:`Home` files are sealed with subkeys of the *home key*, 32 random bytes kept
  only in ``home.key`` sealed under the passphrase (NIP-49, scrypt), or in memory in the
  agent (client/agent.py). One passphrase opens everything; changing it re-seals 91
  bytes, not every file.
* a :class:`Vault` holds one identity's champion state (its champions, E, the request;
  the members it champions and their packages), sealed with a key derived from that
  identity's secret, so it opens only where that identity was unlocked. Its file name is
  derived from the secret too: a hash of the public key would let anyone holding a
  suspect's npub confirm that this laptop is theirs.

Read-modify-write happens under an exclusive ``flock`` on a lock file, so a
``mas checkin --every`` loop and a ``mas champion add`` in another terminal do not lose
each other's changes. Written atomically, mode 0600, in 0700 folders.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shieldmutual.client.config import Paths, private_dir, write_private
from shieldmutual.client.errors import ConfigError
from shieldmutual.shared import atrest
from shieldmutual.shared.errors import CryptoError
from shieldmutual.shared.keys import SecretKey

PURPOSE = "private-state"
FOLDER = "sealed"
VERSION = 1

# (create) -> the home key; create=True makes one (asking for a new passphrase) if needed.
HomeKeySource = Callable[[bool], bytes]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``'s lock file for one read-modify-write."""
    private_dir(path.parent)
    with open(path.with_suffix(".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _decode(path: Path, text: bytes) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: sealed file is damaged: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: sealed file is damaged")
    return data


def _encode(data: dict[str, Any]) -> bytes:
    return json.dumps({**data, "version": VERSION}, sort_keys=True).encode()


class Home:
    """The files sealed with the home key; the key is asked for only when one is read or
    written, so a command that touches none needs no passphrase."""

    def __init__(self, paths: Paths, source: HomeKeySource) -> None:
        self.paths = paths
        self._source = source
        self._key: bytes | None = None

    def key(self, *, create: bool = False) -> bytes:
        if self._key is None:
            self._key = self._source(create)
        return self._key

    def read(self, path: Path, purpose: str) -> dict[str, Any]:
        """The sealed document at ``path``; ``{}`` when there is none yet."""
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return {}
        key = self.key()  # a missing or wrong passphrase is its own error, not damage
        try:
            return _decode(path, atrest.open_home(key, purpose, blob))
        except CryptoError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def write(self, path: Path, purpose: str, data: dict[str, Any]) -> None:
        blob = atrest.seal_home(self.key(create=True), purpose, _encode(data))
        write_private(path, blob, mode=0o600)


def vault_path(paths: Paths, secret: SecretKey) -> Path:
    name = atrest.derive(secret.secret, "vault file name").hex()[:24]
    return paths.state_dir / FOLDER / f"{name}.sealed"


class Vault:
    """``with vault.edit() as data: data["member"] = ...`` saves on a clean exit."""

    def __init__(self, path: Path, secret: SecretKey) -> None:
        self.path = path
        self.secret = secret

    @classmethod
    def of(cls, paths: Paths, secret: SecretKey) -> Vault:
        return cls(vault_path(paths, secret), secret)

    def load(self) -> dict[str, Any]:
        """The document, or an empty one when nothing was saved yet."""
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return {"version": VERSION}
        try:
            return _decode(self.path, atrest.open_sealed(self.secret, PURPOSE, blob))
        except CryptoError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None

    def save(self, data: dict[str, Any]) -> None:
        write_private(self.path, atrest.seal(self.secret, PURPOSE, _encode(data)), mode=0o600)

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Load under an exclusive lock, let the caller change it, save unless it raised."""
        with _locked(self.path):
            data = self.load()
            yield data
            self.save(data)
