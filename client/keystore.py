"""Identities and the passphrase: secrets at rest only as NIP-49 ``ncryptsec``.

One passphrase per home. It seals the *home key* (``home.key``, client/vault.py), which
seals everything else local, and every identity's secret as an ncryptsec (so `mas id
export` gives a standard backup). The identity list (names, public keys, ncryptsec,
the throwaway flag) is one document, ``keys/identities.sealed``, sealed with the home
key and padded, so a seized disk tells neither who the identities are nor how many.

``seal_identities = false`` in config.toml opts out: the list is then kept in plain
``keys/identities.json`` (0600) so `mas id list` and `--as` work without the passphrase
or the agent, at the price that anyone with the disk learns every identity's name and
public key (hence whose laptop this is) and which are throwaway. Secrets stay sealed.

The scrypt cost of new seals is ``log_n = 16`` (64 MiB, about a tenth of a second);
``MAS_SCRYPT_LOG_N`` lowers it for tests and very low-power devices only, since it
weakens the seal against guessing. An imported ncryptsec above ``nip49.SAFE_LOG_N`` is
refused before scrypt runs unless ``--allow-log-n`` covers it.

Where the passphrase comes from (never the environment) is client/unlock.py.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from shieldmutual.client.config import write_private
from shieldmutual.client.errors import IdentityError, PassphraseError
from shieldmutual.client.vault import Home
from shieldmutual.shared import bech32, hexid, nip19, nip49
from shieldmutual.shared.errors import CryptoError, EncodingError
from shieldmutual.shared.keys import SecretKey

LOG_N_ENV = "MAS_SCRYPT_LOG_N"
DEFAULT_LOG_N = 16
SEALED_FILE = "identities.sealed"
PLAIN_FILE = "identities.json"
PURPOSE = "identities"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


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
        value = 0
    if not 1 <= value <= nip49.SAFE_LOG_N:
        raise EncodingError(f"{LOG_N_ENV} must be an integer from 1 to {nip49.SAFE_LOG_N}")
    return value


class Identity(NamedTuple):
    name: str
    pubkey: str
    created_at: int
    throwaway: bool = False

    @property
    def npub(self) -> str:
        return nip19.npub_encode(self.pubkey)

    def nprofile(self, relays: tuple[str, ...] | list[str] = ()) -> str:
        return nip19.nprofile_encode(self.pubkey, list(relays))


class ParsedSecret(NamedTuple):
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
        hrp, _ = bech32.decode(value)
        if hrp != nip49.PREFIX:
            raise EncodingError("not an ncryptsec")
        return ParsedSecret("ncryptsec", ncryptsec=lowered)
    if (hexed := hexid.normalize(value)) is not None:
        return ParsedSecret("hex", SecretKey.from_hex(hexed))
    raise EncodingError("a secret key must be an nsec, 64 hex characters or an ncryptsec")


# ---- the store -------------------------------------------------------------------

Records = dict[str, dict[str, Any]]


class Keystore:
    """Identities in ``directory``, sealed with ``home`` (or plain when ``home`` is None:
    the ``seal_identities = false`` opt-out). Every method is synchronous."""

    def __init__(self, directory: Path, home: Home | None, *, log_n: int | None = None) -> None:
        self.directory = directory
        self.home = home
        self.log_n = scrypt_log_n() if log_n is None else log_n
        self._records: Records | None = None

    # -- the document --

    @property
    def _sealed(self) -> Path:
        return self.directory / SEALED_FILE

    @property
    def _plain(self) -> Path:
        return self.directory / PLAIN_FILE

    def _load(self) -> Records:
        """Every identity, from whichever form is on disk: sealed, the opt-out's plain
        file, or the one-TOML-per-identity files of older versions (moved on first use)."""
        if self._records is not None:
            return self._records
        records: Records = {}
        if self._sealed.exists():
            records.update(self._need_home().read(self._sealed, PURPOSE).get("identities", {}))
        if self._plain.exists():
            try:
                records.update(json.loads(self._plain.read_bytes()).get("identities", {}))
            except (ValueError, AttributeError) as exc:
                raise IdentityError(f"{self._plain} is damaged: {exc}") from None
        legacy = sorted(self.directory.glob("*.toml")) if self.directory.is_dir() else []
        for path in legacy:
            records.setdefault(path.stem, _legacy_record(path))
        self._records = records
        if legacy or (self._plain.exists() and self.home is not None):
            self._save(records)
            for path in legacy:
                path.unlink()
        return records

    def _need_home(self) -> Home:
        if self.home is None:
            raise IdentityError(
                f"{self._sealed} is sealed but seal_identities is false: set it back to true"
            )
        return self.home

    def _save(self, records: Records) -> None:
        self._records = records
        document = {"identities": records}
        if self.home is not None:
            self.home.write(self._sealed, PURPOSE, document)
            self._plain.unlink(missing_ok=True)
        else:
            write_private(self._plain, json.dumps(document, indent=2).encode(), mode=0o600)
            self._sealed.unlink(missing_ok=True)

    def _record(self, name: str) -> dict[str, Any]:
        record = self._load().get(check_name(name))
        if record is None:
            raise IdentityError(f"no identity named {name!r} (see `mas id list`)")
        return record

    # -- reading --

    def exists(self, name: str) -> bool:
        return check_name(name) in self._load()

    def list(self) -> list[Identity]:
        return sorted((self.get(name) for name in self._load()), key=lambda i: i.name)

    def get(self, name: str) -> Identity:
        record = self._record(name)
        try:
            return Identity(
                name,
                str(record["pubkey"]),
                int(record.get("created_at", 0)),
                bool(record.get("throwaway", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IdentityError(f"identity {name!r} is damaged: {exc}") from None

    def ncryptsec(self, name: str) -> str:
        return str(self._record(name)["ncryptsec"])

    # -- writing --

    def _write(self, identity: Identity, ncryptsec: str) -> None:
        records = dict(self._load())
        if identity.name in records:
            raise IdentityError(f"an identity named {identity.name!r} already exists")
        records[identity.name] = {
            "pubkey": identity.pubkey,
            "ncryptsec": ncryptsec,
            "created_at": identity.created_at,
            "throwaway": identity.throwaway,
        }
        self._save(records)

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

    def add_ncryptsec(
        self, name: str | None, ncryptsec: str, passphrase: str, *, max_log_n: int = 0
    ) -> Identity:
        """Store an existing ncryptsec unchanged, after checking ``passphrase`` opens it.

        ``name=None`` picks :meth:`suggest_name` from the public key inside. A scrypt cost
        above ``max(SAFE_LOG_N, max_log_n)`` is refused before any scrypt work.
        """
        if name is not None and self.exists(name):
            raise IdentityError(f"an identity named {name!r} already exists")
        allowed = max(nip49.SAFE_LOG_N, max_log_n)
        secret = SecretKey(nip49.decrypt(ncryptsec, passphrase, max_log_n=allowed))
        return self.add_opened_ncryptsec(name, ncryptsec, secret)

    def add_opened_ncryptsec(self, name: str | None, ncryptsec: str, secret: SecretKey) -> Identity:
        """Store ``ncryptsec`` unchanged; ``secret`` is what the caller already opened it to
        (so its scrypt is not run a second time)."""
        name = name or self.suggest_name(secret.public_hex)
        identity = Identity(name, secret.public_hex, int(time.time()))
        self._write(identity, ncryptsec.strip().lower())
        return identity

    def unlock(self, name: str, passphrase: str) -> SecretKey:
        """The secret key of ``name``; :class:`PassphraseError` when the passphrase is wrong."""
        identity = self.get(name)
        try:  # our own file: its cost was accepted when it was made or imported
            secret = SecretKey(
                nip49.decrypt(self.ncryptsec(name), passphrase, max_log_n=nip49.MAX_LOG_N)
            )
        except CryptoError:
            raise PassphraseError(f"wrong passphrase for identity {name!r}") from None
        if secret.public_hex != identity.pubkey:
            raise IdentityError(f"identity file for {name!r} does not match its public key")
        return secret

    def reseal(self, name: str, secret: SecretKey, passphrase: str) -> None:
        """Seal ``name``'s secret again under ``passphrase`` (keeping its security byte)."""
        records = dict(self._load())
        _, data = bech32.decode(self.ncryptsec(name))
        sealed = nip49.encrypt(secret.secret, passphrase, self.log_n, data[42])
        records[name] = {**records[name], "ncryptsec": sealed}
        self._save(records)

    def remove(self, name: str) -> Identity:
        identity = self.get(name)
        records = dict(self._load())
        del records[name]
        self._save(records)
        return identity

    def suggest_name(self, pubkey: str) -> str:
        """A free name for an unnamed identity: ``key-`` and the npub's first characters."""
        base = "key-" + nip19.npub_encode(pubkey)[5:13]
        name, n = base, 1
        while self.exists(name):
            n += 1
            name = f"{base}-{n}"
        return name


def _legacy_record(path: Path) -> dict[str, Any]:
    """One identity file of the older, plain layout (moved into the sealed list)."""
    import tomllib  # that layout only: today's identities are JSON

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return {
            "pubkey": str(data["pubkey"]),
            "ncryptsec": str(data["ncryptsec"]),
            "created_at": int(data.get("created_at", 0)),
            "throwaway": bool(data.get("throwaway", False)),
        }
    except (OSError, KeyError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise IdentityError(f"identity file {path} is damaged: {exc}") from None
