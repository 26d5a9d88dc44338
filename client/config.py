"""Where the client keeps things, and its configuration.

Paths come from ``platformdirs`` (``~/.config/shieldmutual``, ``~/.local/share/shieldmutual``
and ``~/.local/state/shieldmutual`` on Linux). ``MAS_HOME=DIR`` puts everything under DIR
instead: ``DIR/config.toml``, ``DIR/settings.sealed``, ``DIR/home.key``, ``DIR/keys/``,
``DIR/state/`` (tests, and people who keep a separate setup on a removable drive). Every
file is 0600 and every folder 0700; :meth:`Paths.tighten` fixes homes made before that.

The configuration has two halves. What names nothing (timeouts, the metadata opt-out)
is plain TOML in ``config.toml``, so commands that need only that ask for no passphrase::

    seal_identities = true                  # false: identity names/pubkeys readable
                                            # without the passphrase (see keystore.py)
    [timeouts]                              # seconds
    connect = 5.0
    ok = 10.0
    eose = 10.0

What says who you are or where you talk (the relay list, the default identity, the
web address of request pages set with ``mas config web-base``) is kept
in ``settings.sealed`` with the home key (client/vault.py); a ``relays`` or ``identity``
still found in an old plain file is read, and moved into the sealed half on the next save.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shieldmutual.client.errors import ConfigError
from shieldmutual.shared import relayurl
from shieldmutual.shared.errors import InvalidError

APP_NAME = "shieldmutual"
HOME_ENV = "MAS_HOME"


class Paths(NamedTuple):
    config_file: Path
    keys_dir: Path
    state_dir: Path

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if environ is None else environ
        home = env.get(HOME_ENV)
        if home:
            root = Path(home).expanduser().absolute()
            return cls(root / "config.toml", root / "keys", root / "state")
        import platformdirs  # only without MAS_HOME: every command resolves its paths

        return cls(
            Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml",
            Path(platformdirs.user_data_dir(APP_NAME)) / "keys",
            Path(platformdirs.user_state_dir(APP_NAME)),
        )

    @property
    def home_key_file(self) -> Path:
        """The random home key, sealed under the passphrase (NIP-49); beside ``keys/``."""
        return self.keys_dir.parent / "home.key"

    @property
    def settings_file(self) -> Path:
        return self.config_file.with_name("settings.sealed")

    def roots(self) -> list[Path]:
        """The folders that are ours alone (one with MAS_HOME, three without)."""
        return list(dict.fromkeys((self.config_file.parent, self.keys_dir.parent, self.state_dir)))

    def tighten(self) -> None:
        """Make our folders 0700 and our files 0600, for homes made before that rule."""
        for root in self.roots():
            if not root.is_dir():
                continue
            for folder, _, files in os.walk(root):
                _chmod(Path(folder), 0o700)
                for name in files:
                    _chmod(Path(folder) / name, 0o600)


def _chmod(path: Path, mode: int) -> None:
    """Set ``mode`` on a file or folder of ours; symlinks and sockets are left alone."""
    try:
        info = path.lstat()
    except FileNotFoundError:  # a temporary file renamed meanwhile
        return
    ours = stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)
    if ours and stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)


class Timeouts(NamedTuple):
    connect: float = 5.0
    ok: float = 10.0
    eose: float = 10.0


@dataclass(slots=True)
class Config:
    relays: list[str] = field(default_factory=list)
    identity: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    seal_identities: bool = True
    # Where request pages are served (https://relay.example.org): `mas config web-base`.
    web_base: str | None = None
    # True when an old plain config.toml still names relays or the identity.
    plain_private: bool = False

    @classmethod
    def load(cls, path: Path) -> Config:
        """The config at ``path``; defaults when the file does not exist yet."""
        import tomllib  # loaded here, not by every command that merely resolves its paths

        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        config = cls.from_dict(data, str(path))
        config.plain_private = "relays" in data or "identity" in data
        return config

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> Config:
        relays = data.get("relays", [])
        if not isinstance(relays, list) or not all(isinstance(r, str) for r in relays):
            raise ConfigError(f"{where}: 'relays' must be a list of URLs")
        identity = data.get("identity")
        if identity is not None and not isinstance(identity, str):
            raise ConfigError(f"{where}: 'identity' must be a string")
        raw = data.get("timeouts", {})
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: [timeouts] must be a table")
        values: dict[str, float] = {}
        for key, value in raw.items():
            if key not in ("connect", "ok", "eose"):
                raise ConfigError(f"{where}: unknown timeout {key!r}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{where}: timeout {key!r} must be a positive number")
            values[key] = float(value)
        seal_identities = data.get("seal_identities", True)
        if not isinstance(seal_identities, bool):
            raise ConfigError(f"{where}: 'seal_identities' must be true or false")
        web_base = data.get("web_base")
        if web_base is not None:
            web_base = normalize_web_base(web_base if isinstance(web_base, str) else "", where)
        relay_list = [normalize_relay_url(r) for r in relays]
        return cls(relay_list, identity, Timeouts(**values), seal_identities, web_base)

    def private_part(self) -> dict[str, Any]:
        """What goes into the sealed settings: it names relays, an identity, a site."""
        return {"relays": self.relays, "identity": self.identity, "web_base": self.web_base}

    def apply_private(self, data: dict[str, Any], where: str) -> None:
        """Take the relays, identity and web base from the sealed settings (if any)."""
        if data:
            sealed = Config.from_dict(data, where)
            self.relays, self.identity = sealed.relays, sealed.identity
            self.web_base = sealed.web_base

    def to_toml(self) -> str:
        """The plain half only: nothing in it names a person, a relay or a society."""
        lines = ["# Shield Mutual client configuration, written by `mas`.", ""]
        lines.append(f"seal_identities = {'true' if self.seal_identities else 'false'}")
        if self.timeouts != Timeouts():
            t = self.timeouts
            lines += ["", "[timeouts]", f"connect = {t.connect}", f"ok = {t.ok}"]
            lines.append(f"eose = {t.eose}")
        return "\n".join(lines) + "\n"

    def save(self, path: Path) -> None:
        write_private(path, self.to_toml().encode("utf-8"), mode=0o600)
        self.plain_private = False


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` atomically (temp file + rename) with ``mode``; parents made 0700."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # O_CREAT's mode is only applied to new files, under umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def private_dir(path: Path) -> Path:
    """``path`` and every missing parent made 0700 (``mkdir(parents=True)`` would give the
    parents the umask's mode, e.g. a world-readable MAS_HOME)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def normalize_relay_url(url: str) -> str:
    """shared/relayurl.py's rule, failing as a :class:`ConfigError` (a user's input)."""
    try:
        return relayurl.normalize_relay_url(url)
    except InvalidError as exc:
        raise ConfigError(str(exc)) from None


# A host someone types: a DNS name of labels (letters, digits, inner hyphens) with a
# dot, or an IP literal, or localhost. Anything else ("notaurl", a word typed where the
# URL should be) is a mistake to tell at once, not a relay to dial.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def new_relay_url(url: str) -> str:
    """A relay URL someone adds to their list: :func:`normalize_relay_url`, then a host
    that can be a relay's and a port in 1-65535. :class:`ConfigError` (exit 2) otherwise."""
    relay = normalize_relay_url(url)
    parts = urlsplit(relay)
    host = parts.hostname or ""
    if parts.port == 0:
        raise ConfigError(f"relay URL {url!r}: port 0 is not a port")
    if not (host == "localhost" or _is_ip(host) or _is_dns_name(host)):
        raise ConfigError(
            f"relay URL {url!r}: {host!r} is not a host name (e.g. wss://relay.example.org)"
        )
    return relay


def _is_ip(host: str) -> bool:
    import ipaddress  # only where a relay URL is checked, not on every start

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_dns_name(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return len(labels) > 1 and all(_LABEL.fullmatch(label) for label in labels)


def normalize_web_base(url: str, where: str = "web base") -> str:
    """An http(s) address with a host and nothing after the path (no query, fragment,
    credentials, space or control character), without its trailing ``/``."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        ok = False
    if not ok or parts.query or parts.fragment or "@" in parts.netloc or not url.isprintable():
        raise ConfigError(f"{where}: not an http:// or https:// address: {url!r}")
    if any(c.isspace() for c in url):
        raise ConfigError(f"{where}: not an http:// or https:// address: {url!r}")
    return url.rstrip("/")


def normalize_relays(urls: Iterable[str]) -> list[str]:
    """Normalized and de-duplicated, first occurrence wins."""
    seen: dict[str, None] = {}
    for url in urls:
        seen.setdefault(normalize_relay_url(url), None)
    return list(seen)
