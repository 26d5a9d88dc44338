"""Where one command's secrets come from: the agent, else the passphrase, read once.

The passphrase never comes from the environment: ``MAS_PASSPHRASE`` is readable in
``/proc/PID/environ`` by every process of the user (and sits in crontabs), so it is
refused. It comes from the agent (`mas unlock`, client/agent.py), a file descriptor
(``--passphrase-fd N`` or ``MAS_PASSPHRASE_FD=N``, like gpg, for scripts and tests), or a
hidden prompt on the terminal (never stdin, which carries data such as an imported
secret or events).

The passphrase opens the *home key* (``home.key``: 32 random bytes sealed as a NIP-49
ncryptsec) that seals every other local file (client/vault.py), and each identity's own
ncryptsec (client/keystore.py).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from shieldmutual.client.config import Paths, write_private
from shieldmutual.client.errors import ConfigError, PassphraseError
from shieldmutual.shared.errors import CryptoError, EncodingError

if TYPE_CHECKING:  # the refusals run before every command, which must not pay for scrypt
    from shieldmutual.client.keystore import Keystore
    from shieldmutual.shared.keys import SecretKey

PASSPHRASE_ENV = "MAS_PASSPHRASE"
PASSPHRASE_FD_ENV = "MAS_PASSPHRASE_FD"
MAX_PASSPHRASE = 4096


def refuse_passphrase_env(environ: Mapping[str, str] | None = None) -> None:
    """Stop when ``MAS_PASSPHRASE`` is set: a secret in the environment is not a secret."""
    env = os.environ if environ is None else environ
    if PASSPHRASE_ENV in env:
        raise PassphraseError(
            f"{PASSPHRASE_ENV} is refused: any process of yours can read it in "
            f"/proc/PID/environ; unset it and use `mas unlock` (the agent), "
            f"--passphrase-fd N or {PASSPHRASE_FD_ENV}=N, or the prompt"
        )


# nak's and other Nostr tools' convention for a secret key in the environment.
SECRET_KEY_ENV = "NOSTR_SECRET_KEY"


def refuse_secret_key_env(environ: Mapping[str, str] | None = None) -> None:
    """Stop when ``NOSTR_SECRET_KEY`` is set, for the reason MAS_PASSPHRASE is refused:
    a key there is readable in /proc/PID/environ and inherited by every child process."""
    env = os.environ if environ is None else environ
    if SECRET_KEY_ENV in env:
        raise ConfigError(
            f"{SECRET_KEY_ENV} is refused: a key in the environment shows in /proc/PID/environ "
            f"and goes to every program started from here; unset it and bring the key in "
            f"once with `mas id import NAME` (it is then kept sealed, as NIP-49)"
        )


def _terminal_available() -> bool:
    if os.name == "nt":  # pragma: no cover - getpass uses the console there
        return sys.stdin.isatty()
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def read_fd(fd: int) -> str:
    """One line from file descriptor ``fd`` (a pipe or file the caller opened for us)."""
    data = b""
    try:
        while len(data) <= MAX_PASSPHRASE and not data.endswith(b"\n"):
            chunk = os.read(fd, 1)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise PassphraseError(f"cannot read the passphrase from fd {fd}: {exc.strerror}") from None
    if len(data) > MAX_PASSPHRASE:
        raise PassphraseError(f"the passphrase on fd {fd} is longer than {MAX_PASSPHRASE} bytes")
    try:
        return data.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise PassphraseError(f"the passphrase on fd {fd} is not UTF-8") from None


class Passphrases:
    """Where this command's passphrase comes from; asked for at most once."""

    def __init__(self, fd: int | None = None, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get(PASSPHRASE_FD_ENV)
        if fd is None and raw:
            if not raw.isdigit():
                raise PassphraseError(f"{PASSPHRASE_FD_ENV} must be a file descriptor number")
            fd = int(raw)
        self.fd = fd
        self._value: str | None = None

    def get(self, prompt: str = "Passphrase: ", *, confirm: bool = False) -> str:
        """The passphrase: from the fd, else a hidden prompt (twice when ``confirm``)."""
        if self._value is None:
            self._value = self._ask(prompt, confirm)
        if confirm and not self._value:
            raise PassphraseError("a new passphrase must not be empty")
        return self._value

    def _ask(self, prompt: str, confirm: bool) -> str:
        if self.fd is not None:
            return read_fd(self.fd)
        if not _terminal_available():
            raise PassphraseError(
                "a passphrase is needed: run `mas unlock` first (the agent), pass "
                f"--passphrase-fd N or {PASSPHRASE_FD_ENV}=N, or run mas in a terminal"
            )
        value = getpass.getpass(prompt)
        if confirm and value and getpass.getpass("Repeat passphrase: ") != value:
            raise PassphraseError("the two passphrases do not match")
        return value

    def another(self, prompt: str) -> str | None:
        """A second, different passphrase, from a person at the terminal only (a script's
        fd holds one); None when nobody can be asked."""
        if self.fd is not None or not _terminal_available():
            return None
        return getpass.getpass(prompt)


# ---- the home key ----------------------------------------------------------------


def new_home_key(path: Path, passphrase: str, log_n: int) -> bytes:
    """Make the random home key and keep it only sealed under ``passphrase``."""
    from shieldmutual.shared import nip49
    from shieldmutual.shared.keys import SecretKey

    key = SecretKey.generate().secret  # any valid scalar is 32 random bytes NIP-49 accepts
    sealed = nip49.encrypt(key, passphrase, log_n, nip49.KEY_SECURE)
    write_private(path, sealed.encode("ascii") + b"\n", mode=0o600)
    return key


def open_home_key(path: Path, passphrase: str) -> bytes:
    """The home key; :class:`PassphraseError` when ``passphrase`` is not this home's."""
    from shieldmutual.shared import nip49

    try:
        sealed = path.read_text(encoding="ascii")
        return nip49.decrypt(sealed, passphrase, max_log_n=nip49.MAX_LOG_N)
    except CryptoError:
        raise PassphraseError("wrong passphrase") from None
    except (EncodingError, ValueError) as exc:
        raise ConfigError(f"{path} is damaged: {exc}") from None


class Unlocked(NamedTuple):
    """What the agent holds: the home key and the secrets (by pubkey) it was given."""

    home_key: bytes
    secrets: dict[str, SecretKey]


class Unlocker:
    """Where one command's secrets come from: the agent if it runs, else the passphrase."""

    def __init__(
        self,
        paths: Paths,
        passphrases: Passphrases,
        agent: Callable[[], Unlocked | None],
        log_n: int | None = None,
    ) -> None:
        self.paths = paths
        self.passphrases = passphrases
        self._agent = agent
        self._asked = False
        self._agent_answer: Unlocked | None = None
        self._verified: str | None = None
        self._log_n = log_n

    @property
    def log_n(self) -> int:
        """The scrypt cost of a new home key, read (and checked) only when one is made."""
        if self._log_n is None:
            from shieldmutual.client.keystore import scrypt_log_n

            self._log_n = scrypt_log_n()
        return self._log_n

    def agent(self) -> Unlocked | None:
        if not self._asked:
            self._asked = True
            self._agent_answer = self._agent()
        return self._agent_answer

    def home_key(self, create: bool = False) -> bytes:
        """The home key: the agent's, or opened (or, with ``create``, made) with the passphrase."""
        path = self.paths.home_key_file
        if path.exists():
            unlocked = self.agent()
            return unlocked.home_key if unlocked is not None else self._open_home_key()
        if not create:
            raise ConfigError(f"{path} is missing, so the sealed files here cannot be opened")
        passphrase = self.passphrases.get(
            "New passphrase (it seals everything mas keeps here): ", confirm=True
        )
        self._verified = passphrase
        return new_home_key(path, passphrase, self.log_n)

    def passphrase(self) -> str:
        """The home's passphrase, checked against ``home.key`` (made if there is none)."""
        if self._verified is None:
            if self.paths.home_key_file.exists():
                self._open_home_key()
            else:
                self.home_key(create=True)
        assert self._verified is not None
        return self._verified

    def _open_home_key(self) -> bytes:
        """``home.key`` opened with the passphrase, which is then known to be this home's."""
        passphrase = self.passphrases.get()
        key = open_home_key(self.paths.home_key_file, passphrase)
        self._verified = passphrase
        return key

    def secret(self, store: Keystore, name: str) -> SecretKey:
        """The secret key of identity ``name``, from the agent or with the passphrase."""
        identity = store.get(name)
        unlocked = self.agent()
        if unlocked is not None and identity.pubkey in unlocked.secrets:
            return unlocked.secrets[identity.pubkey]
        try:
            return store.unlock(name, self.passphrases.get(f"Passphrase for {name}: "))
        except PassphraseError:
            # A key from before the one-passphrase home keeps its own passphrase: open it
            # with that once, then seal it again under the home's.
            old = self.passphrases.another(f"Passphrase for {name} (it is not this home's): ")
            if old is None:
                raise
        secret = store.unlock(name, old)
        store.reseal(name, secret, self.passphrase())
        return secret
