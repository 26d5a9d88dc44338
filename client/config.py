"""Where the client keeps things, and its TOML configuration.

Paths come from ``platformdirs`` (``~/.config/shieldmutual``, ``~/.local/share/shieldmutual``
and ``~/.local/state/shieldmutual`` on Linux). ``MAS_HOME=DIR`` puts everything under DIR
instead: ``DIR/config.toml``, ``DIR/keys/``, ``DIR/state/`` (tests, and people who keep a
separate setup on a removable drive).

The config file is small and written by ``mas`` itself, so it is written by a tiny TOML
emitter here rather than a dependency; it is read with the standard ``tomllib``::

    identity = "alice"                      # the default for --as
    relays = ["wss://relay.example.org"]    # the default for -r

    [timeouts]                              # seconds
    connect = 5.0
    ok = 10.0
    eose = 10.0
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import platformdirs

from shieldmutual.client.errors import ConfigError

APP_NAME = "shieldmutual"
HOME_ENV = "MAS_HOME"


@dataclass(frozen=True, slots=True)
class Paths:
    config_file: Path
    keys_dir: Path
    state_dir: Path

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if environ is None else environ
        home = env.get(HOME_ENV)
        if home:
            root = Path(home).expanduser()
            return cls(root / "config.toml", root / "keys", root / "state")
        return cls(
            Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml",
            Path(platformdirs.user_data_dir(APP_NAME)) / "keys",
            Path(platformdirs.user_state_dir(APP_NAME)),
        )


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    ok: float = 10.0
    eose: float = 10.0


@dataclass(slots=True)
class Config:
    relays: list[str] = field(default_factory=list)
    identity: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)

    @classmethod
    def load(cls, path: Path) -> Config:
        """The config at ``path``; defaults when the file does not exist yet."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, str(path))

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
        return cls([normalize_relay_url(r) for r in relays], identity, Timeouts(**values))

    def to_toml(self) -> str:
        lines = ["# Shield Mutual client configuration, written by `mas`.", ""]
        if self.identity is not None:
            lines.append(f"identity = {toml_str(self.identity)}")
        lines.append("relays = [" + ", ".join(toml_str(r) for r in self.relays) + "]")
        if self.timeouts != Timeouts():
            t = self.timeouts
            lines += ["", "[timeouts]", f"connect = {t.connect}", f"ok = {t.ok}"]
            lines.append(f"eose = {t.eose}")
        return "\n".join(lines) + "\n"

    def save(self, path: Path) -> None:
        write_private(path, self.to_toml().encode("utf-8"), mode=0o644)


def toml_str(value: str) -> str:
    # JSON's escapes (with ensure_ascii) are a subset of TOML basic-string escapes.
    return json.dumps(value, ensure_ascii=True)


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` atomically (temp file + rename) with ``mode``; parents made 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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


def normalize_relay_url(url: str) -> str:
    """``ws://`` or ``wss://`` URL, lowercase scheme and host, no bare trailing slash.

    A URL without a scheme gets ``wss://``, or ``ws://`` for localhost and 127.x hosts.
    """
    text = url.strip()
    if not text:
        raise ConfigError("relay URL is empty")
    if "://" not in text:
        host = text.split("/")[0].split(":")[0].lower()
        local = host in ("localhost", "::1") or host.startswith("127.")
        text = ("ws://" if local else "wss://") + text
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"relay URL {url!r} is not valid: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ConfigError(f"relay URL {url!r} must start with ws:// or wss://")
    if not parts.hostname:
        raise ConfigError(f"relay URL {url!r} has no host")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username or parts.password:
        raise ConfigError(f"relay URL {url!r} must not contain a user name or password")
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def normalize_relays(urls: Iterable[str]) -> list[str]:
    """Normalized and de-duplicated, first occurrence wins."""
    seen: dict[str, None] = {}
    for url in urls:
        seen.setdefault(normalize_relay_url(url), None)
    return list(seen)
