"""Identities: named keypairs whose secret is kept at rest only as NIP-49 ``ncryptsec``.

One file per identity, ``<keys_dir>/<name>.toml``, mode 0600 in a 0700 directory::

    name = "alice"
    pubkey = "<64 hex>"           # public, so `mas id list` needs no passphrase
    ncryptsec = "ncryptsec1..."   # scrypt + XChaCha20-Poly1305 (NIP-49)
    created_at = 1714521600
    throwaway = false

The secret is only ever decrypted in memory, for one command. The scrypt cost is
``log_n = 16`` (64 MiB, about a tenth of a second); ``MAS_SCRYPT_LOG_N`` lowers it for
tests and very low-power devices only, since it weakens the seal against guessing.

The passphrase comes from ``MAS_PASSPHRASE`` or a prompt on the terminal (never from
stdin, which carries data such as an imported secret or events).
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shieldmutual.client.config import toml_str, write_private
from shieldmutual.client.errors import IdentityError, PassphraseError
from shieldmutual.shared import nip19, nip49
from shieldmutual.shared.errors import CryptoError, EncodingError
from shieldmutual.shared.keys import SecretKey

PASSPHRASE_ENV = "MAS_PASSPHRASE"
LOG_N_ENV = "MAS_SCRYPT_LOG_N"
DEFAULT_LOG_N = 16
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise IdentityError(
            f"identity name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def scrypt_log_n(environ: Mapping[str, str] | None = None) -> int:
    """The NIP-49 scrypt cost for new seals: ``MAS_SCRYPT_LOG_N`` (tests only) or 16."""
    env = os.environ if environ is None else environ
    raw = env.get(LOG_N_ENV)
    if not raw:
        return DEFAULT_LOG_N
    try:
        value = int(raw)
    except ValueError:
        raise EncodingError(f"{LOG_N_ENV} must be an integer from 1 to 22") from None
    if not 1 <= value <= nip49.MAX_LOG_N:
        raise EncodingError(f"{LOG_N_ENV} must be an integer from 1 to {nip49.MAX_LOG_N}")
    return value


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    pubkey: str
    created_at: int
    throwaway: bool = False

    @property
    def npub(self) -> str:
        return nip19.npub_encode(self.pubkey)

    def nprofile(self, relays: tuple[str, ...] | list[str] = ()) -> str:
        return nip19.nprofile_encode(self.pubkey, list(relays))


@dataclass(frozen=True, slots=True)
class ParsedSecret:
    """A secret as typed or pasted: either a key in clear or a still-sealed ncryptsec."""

    form: str  # "nsec", "hex" or "ncryptsec"
    secret: SecretKey | None = None
    ncryptsec: str | None = None


def parse_secret(text: str) -> ParsedSecret:
    """Recognize an nsec, 64 hex characters or an ncryptsec; :class:`EncodingError` otherwise."""
    value = text.strip()
    lowered = value.lower()
    if lowered.startswith("nsec1"):
        return ParsedSecret("nsec", SecretKey.from_hex(nip19.nsec_decode(value)))
    if lowered.startswith(nip49.PREFIX + "1"):
        hrp, _ = nip19.bech32_decode(value)
        if hrp != nip49.PREFIX:
            raise EncodingError("not an ncryptsec")
        return ParsedSecret("ncryptsec", ncryptsec=lowered)
    if _HEX64.match(value):
        return ParsedSecret("hex", SecretKey.from_hex(lowered))
    raise EncodingError("a secret key must be an nsec, 64 hex characters or an ncryptsec")


# ---- passphrases -----------------------------------------------------------------


def _terminal_available() -> bool:
    if os.name == "nt":  # pragma: no cover - getpass uses the console there
        return sys.stdin.isatty()
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def get_passphrase(
    prompt: str = "Passphrase: ",
    *,
    confirm: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:
    """``MAS_PASSPHRASE``, else a hidden prompt on the terminal (twice when ``confirm``)."""
    env = os.environ if environ is None else environ
    value = env.get(PASSPHRASE_ENV)
    if value is not None:
        if confirm and not value:
            raise PassphraseError(f"{PASSPHRASE_ENV} is empty; a new key needs a passphrase")
        return value
    if not _terminal_available():
        raise PassphraseError(
            f"a passphrase is needed: set {PASSPHRASE_ENV} or run mas in a terminal"
        )
    value = getpass.getpass(prompt)
    if confirm:
        if not value:
            raise PassphraseError("a new key needs a non-empty passphrase")
        if getpass.getpass("Repeat passphrase: ") != value:
            raise PassphraseError("the two passphrases do not match")
    return value


# ---- the store -------------------------------------------------------------------


class Keystore:
    """Identities in ``directory``; every method is synchronous and touches only that folder."""

    def __init__(self, directory: Path, *, log_n: int | None = None) -> None:
        self.directory = directory
        self.log_n = scrypt_log_n() if log_n is None else log_n

    def _path(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}.toml"

    def _read(self, path: Path) -> tuple[Identity, str]:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            identity = Identity(
                str(data["name"]),
                str(data["pubkey"]),
                int(data.get("created_at", 0)),
                bool(data.get("throwaway", False)),
            )
            ncryptsec = str(data["ncryptsec"])
        except (OSError, KeyError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
            raise IdentityError(f"identity file {path} is damaged: {exc}") from None
        return identity, ncryptsec

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def list(self) -> list[Identity]:
        if not self.directory.is_dir():
            return []
        found = [self._read(p)[0] for p in sorted(self.directory.glob("*.toml"))]
        return sorted(found, key=lambda i: i.name)

    def get(self, name: str) -> Identity:
        path = self._path(name)
        if not path.exists():
            raise IdentityError(f"no identity named {name!r} (see `mas id list`)")
        return self._read(path)[0]

    def ncryptsec(self, name: str) -> str:
        path = self._path(name)
        if not path.exists():
            raise IdentityError(f"no identity named {name!r} (see `mas id list`)")
        return self._read(path)[1]

    def _write(self, identity: Identity, ncryptsec: str, *, overwrite: bool = False) -> None:
        path = self._path(identity.name)
        if path.exists() and not overwrite:
            raise IdentityError(f"an identity named {identity.name!r} already exists")
        text = (
            "# A Shield Mutual identity. The secret key is sealed with NIP-49"
            " (scrypt + XChaCha20-Poly1305).\n"
            f"name = {toml_str(identity.name)}\n"
            f"pubkey = {toml_str(identity.pubkey)}\n"
            f"ncryptsec = {toml_str(ncryptsec)}\n"
            f"created_at = {identity.created_at}\n"
            f"throwaway = {'true' if identity.throwaway else 'false'}\n"
        )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        write_private(path, text.encode("utf-8"), mode=0o600)

    def add(
        self,
        name: str,
        secret: SecretKey,
        passphrase: str,
        *,
        throwaway: bool = False,
        handled_securely: bool = True,
    ) -> Identity:
        """Seal ``secret`` under ``passphrase`` and store it as ``name``.

        ``handled_securely`` is NIP-49's key-security byte: True for a key generated here,
        False for one that was pasted or typed in clear.
        """
        check_name(name)
        if self.exists(name):
            raise IdentityError(f"an identity named {name!r} already exists")
        security = nip49.KEY_SECURE if handled_securely else nip49.KEY_INSECURE
        sealed = nip49.encrypt(secret.secret, passphrase, self.log_n, security)
        identity = Identity(name, secret.public_hex, int(time.time()), throwaway)
        self._write(identity, sealed)
        return identity

    def add_ncryptsec(self, name: str | None, ncryptsec: str, passphrase: str) -> Identity:
        """Store an existing ncryptsec unchanged, after checking ``passphrase`` opens it.

        ``name=None`` picks :meth:`suggest_name` from the public key inside.
        """
        if name is not None and self.exists(name):
            raise IdentityError(f"an identity named {name!r} already exists")
        secret = SecretKey(nip49.decrypt(ncryptsec, passphrase))
        name = name or self.suggest_name(secret.public_hex)
        identity = Identity(name, secret.public_hex, int(time.time()))
        self._write(identity, ncryptsec.strip().lower())
        return identity

    def unlock(self, name: str, passphrase: str) -> SecretKey:
        """The secret key of ``name``; :class:`CryptoError` when the passphrase is wrong."""
        identity = self.get(name)
        try:
            secret = SecretKey(nip49.decrypt(self.ncryptsec(name), passphrase))
        except CryptoError:
            raise PassphraseError(f"wrong passphrase for identity {name!r}") from None
        if secret.public_hex != identity.pubkey:
            raise IdentityError(f"identity file for {name!r} does not match its public key")
        return secret

    def remove(self, name: str) -> Identity:
        identity = self.get(name)
        self._path(name).unlink()
        return identity

    def suggest_name(self, pubkey: str) -> str:
        """A free name for an unnamed identity: ``key-`` and the npub's first characters."""
        base = "key-" + nip19.npub_encode(pubkey)[5:13]
        name, n = base, 1
        while self.exists(name):
            n += 1
            name = f"{base}-{n}"
        return name
