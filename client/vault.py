"""Sealed local files: the home's (settings, identities, follows) and each identity's vault.

A seized laptop must not reveal who uses it, which societies they follow, where they
talk, or who champions whom. Two kinds of sealed file (format in shared/atrest.py):

* :class:`Home` files are sealed with subkeys of the *home key*, 32 random bytes kept
  only in ``home.key`` sealed under the passphrase (NIP-49, scrypt), or in memory in the
  agent (client/agent.py). One passphrase opens everything; changing it re-seals 91
  bytes, not every file.
* a :class:`Vault` holds one identity's champion state (its champions, E, the request;
  the members it champions and their packages), sealed with a key derived from that
  identity's secret, so it opens only where that identity was unlocked. Every identity's
  entry sits in ONE file, ``vault.sealed``, sealed again with the home key and padded:
  a file per identity told a seized laptop how many identities use champions. An empty
  vault comes with the home's first sealed file, so it does not tell whether any does. An
  entry's name inside is derived from the secret too: a hash of the public key would let
  anyone holding a suspect's npub (and the home key) confirm which entry is theirs.
  Per-identity files of older versions (``sealed/<name>.sealed``) are moved in, and
  deleted, the first time their identity opens its vault.

Read-modify-write of the vault happens under an exclusive ``flock`` on a lock file, so a
``mas checkin --every`` loop and a ``mas champion add`` in another terminal (of the same
identity or another) do not lose each other's changes. Written atomically, mode 0600, in
0700 folders.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypedDict, cast

from shieldmutual.client.config import Paths, private_dir, write_private
from shieldmutual.client.errors import ConfigError
from shieldmutual.shared import atrest
from shieldmutual.shared.errors import CryptoError
from shieldmutual.shared.keys import SecretKey

PURPOSE = "private-state"
HOME_PURPOSE = "vaults"
VAULT_FILE = "vault.sealed"
LEGACY_FOLDER = "sealed"
VERSION = 1
# The outer file's padding is what hides sizes on disk; a small floor for each entry
# keeps several identities' entries inside the outer file's first size class.
ENTRY_FLOOR = 1024

# (create) -> the home key; create=True makes one (asking for a new passphrase) if needed.
HomeKeySource = Callable[[bool], bytes]


class MemberRecord(TypedDict, total=False):
    """As a member: my emergency key E, its attestation, my champions and check-ins
    (written by ``client.champions.MyChampions.to_vault``)."""

    emergency: str | None  # E's secret, hex
    attestation: dict[str, Any] | None  # the signed event
    request_markdown: str | None
    interval: int
    champions: dict[str, dict[str, Any]]  # pubkey -> what I told them
    revocations: list[dict[str, Any]]  # signed events
    last_checkin: int | None


class ChampionedRecord(TypedDict):
    """As a champion: one member's hand-over and when they last checked in."""

    package: dict[str, Any]  # shared.aid.champion.Package.to_dict()
    last_seen: int
    interval: int


class ConsentRecord(TypedDict, total=False):
    accepted: list[str]  # members whose hand-over I accepted
    declined: dict[str, int]  # member -> the declined package's time


class VaultRecord(TypedDict, total=False):
    """One identity's entry, as sealed: the parts are optional so older entries (and an
    empty one) read as they are; ``version`` says which layout wrote it."""

    version: int
    member: MemberRecord
    championing: dict[str, ChampionedRecord]
    pending: dict[str, dict[str, Any]]  # member -> Package.to_dict() awaiting consent
    consent: ConsentRecord
    alarms: list[dict[str, Any]]  # client.cli.champion_watch episodes


def _vault_record(where: Path, data: dict[str, Any]) -> VaultRecord:
    """The entry as its typed record; refused when a newer version wrote it (its layout
    is unknown here, and rewriting it would drop what this version does not know)."""
    version = data.get("version", VERSION)
    if not isinstance(version, int) or version > VERSION:
        raise ConfigError(f"{where}: written by a newer mas (vault version {version})")
    # The parts are checked where they are read (each record's from_vault).
    return cast(VaultRecord, data)


@contextlib.contextmanager
def locked(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path``'s lock file for one read-modify-write; with
    ``wait=False``, yields False at once when someone else holds it."""
    private_dir(path.parent)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)  # 0600 as all ours
    with open(fd, "r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
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


def _encode(data: Mapping[str, Any]) -> bytes:
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
        if path != self.vault_file:
            self._make_vault()

    @property
    def vault_file(self) -> Path:
        return self.paths.state_dir / VAULT_FILE

    def _make_vault(self) -> None:
        """An empty vault comes with the home's first sealed file, so a vault file does
        not say that someone here uses champions. Never waits for the vault's lock: its
        holder is about to write the vault (or may be this very process)."""
        if self.vault_file.exists():
            return
        with locked(self.vault_file, wait=False) as held:
            if held and not self.vault_file.exists():
                self.write(self.vault_file, HOME_PURPOSE, {"entries": {}})


class Vault:
    """One identity's entry in the shared vault file.

    ``with vault.edit() as data: data["member"] = ...`` saves on a clean exit."""

    def __init__(self, home: Home, secret: SecretKey) -> None:
        self.home = home
        self.secret = secret
        self.path = home.vault_file
        self.slot = atrest.derive(secret.secret, "vault file name").hex()[:24]
        # Older versions kept this identity's vault in its own file, named from its pubkey.
        old = hashlib.sha256(f"shieldmutual vault {secret.public_hex}".encode()).hexdigest()
        self._legacy = home.paths.state_dir / LEGACY_FOLDER / f"{old[:24]}.sealed"

    def load(self) -> VaultRecord:
        """The document, or an empty one when nothing was saved yet."""
        if self._legacy.exists():  # move it in now, so it is never read from two places
            with self.edit() as data:
                pass
            return data
        return self._open(self._entries())

    @contextlib.contextmanager
    def edit(self) -> Iterator[VaultRecord]:
        """Load under an exclusive lock, let the caller change it, save unless it raised;
        an older per-identity file is deleted only once its content is saved here."""
        with locked(self.path):
            entries = self._entries()
            data = self._read_legacy() if self._legacy.exists() else self._open(entries)
            yield data
            sealed = atrest.seal(self.secret, PURPOSE, _encode(data), floor=ENTRY_FLOOR)
            entries[self.slot] = base64.b64encode(sealed).decode("ascii")
            self.home.write(self.path, HOME_PURPOSE, {"entries": entries})
            self._drop_legacy()

    def _entries(self) -> dict[str, str]:
        entries = self.home.read(self.path, HOME_PURPOSE).get("entries", {})
        if not isinstance(entries, dict):
            raise ConfigError(f"{self.path}: sealed file is damaged")
        return entries

    def _open(self, entries: dict[str, str]) -> VaultRecord:
        entry = entries.get(self.slot)
        if entry is None:
            return {"version": VERSION}
        try:
            blob = base64.b64decode(entry, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ConfigError(f"{self.path}: sealed file is damaged") from None
        return self._unseal(self.path, blob)

    def _read_legacy(self) -> VaultRecord:
        return self._unseal(self._legacy, self._legacy.read_bytes())

    def _unseal(self, where: Path, blob: bytes) -> VaultRecord:
        try:
            data = _decode(where, atrest.open_sealed(self.secret, PURPOSE, blob))
        except CryptoError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return _vault_record(where, data)

    def _drop_legacy(self) -> None:
        if not self._legacy.exists():
            return
        self._legacy.unlink()
        self._legacy.with_suffix(".lock").unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # other identities' files are still there
            self._legacy.parent.rmdir()
