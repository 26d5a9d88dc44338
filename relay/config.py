"""Relay configuration: frozen dataclasses read from a TOML file, then command-line flags.

The file has five tables, each mapped to one dataclass below; every key is optional
and an unknown key or a value of the wrong type is an error (a typo that silently
falls back to a default would be worse). ``docker/relay.toml`` is the commented example.

    [server]       where it listens and stores, connection settings
    [limits]       sizes and counts, advertised in NIP-11 ``limitation``
    [rate_limits]  per-connection token buckets (0 turns one off)
    [policy]       who may write what: auth, aid-only mode, block and allow lists
    [info]         the NIP-11 document's descriptive fields
    [web]          request and society pages and Atom feeds on the HTTP port
    [mirror]       peer relays this one copies mutual aid traffic from (NIP-77)
    [store]        where events are stored: SQLite (the default) or PostgreSQL

Precedence: defaults < ``--config FILE`` < ``--host/--port/--db`` flags.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shieldmutual.relay.configvalues import check_base_url, check_ws_url, coerce, require_hex64
from shieldmutual.shared.errors import ConfigError, InvalidError
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.messages import MAX_SUBSCRIPTION_ID
from shieldmutual.shared.relayurl import normalize_relay_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7777


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # SQLite file; "" means platformdirs' user_data_dir("shieldmutual")/relay.db.
    db: str = ""
    # The public URL clients use (wss://relay.example.org), and any others it is known
    # by. NIP-42 AUTH events must name one of them; with none set, the listen address
    # (and localhost when listening on loopback). The Host header is never trusted: a
    # relay that took it as its own name would accept AUTH events signed for another.
    url: str = ""
    urls: frozenset[str] = frozenset()
    # permessage-deflate costs CPU and ~100 KB of zlib state per connection.
    compression: bool = False
    max_connections: int = 0  # 0: no limit
    ping_interval: float = 30.0  # seconds between keepalive pings; 0: none
    close_timeout: float = 5.0  # seconds to wait for a closing handshake
    # Seconds a client may leave the relay's frames unread while more wait for it (no
    # room freed in its socket); then it is closed (1008). 0: never.
    stall_timeout: float = 2.0
    # Bytes the relay may hold for one connection: frames waiting to be sent, live
    # events held while its stored results are sent, result pages in flight, events
    # being saved. Over it the connection is closed (1008) and all of it released.
    max_connection_memory: int = 16 * 1024 * 1024
    # The same, summed over every connection; over it the connection holding the most
    # is closed first.
    max_memory: int = 512 * 1024 * 1024
    # Worker threads for signature checks (libsecp256k1 releases the GIL); 0: inline.
    verify_threads: int = 1
    # Read-only SQLite connections. One client holds at most one at a time, so with 4
    # a client running costly queries leaves three to everybody else.
    store_readers: int = 4
    # Saves per write transaction (SQLite also ends one at 4 MiB of events): 2,000 took
    # 9% less CPU per event than 500 at ingest (issue 15).
    store_batch_max: int = 2000
    # COUNT stops counting here and answers {"approximate": true} (NIP-45).
    max_count: int = 10_000
    # A read statement running longer is interrupted: CLOSED "error: ...".
    max_query_seconds: float = 1.0
    expire_interval: float = 300.0  # seconds between NIP-40 sweeps; 0: never sweep
    shutdown_timeout: float = 10.0  # seconds to finish in-flight saves on SIGTERM
    # Run on uvloop when it is installed: a lighter event loop, less CPU per message
    # (docs/PERFORMANCE.md, "Issue 15"); false: asyncio's own loop.
    uvloop: bool = True
    log_level: str = "INFO"

    def check(self) -> None:
        """Refuse values the relay cannot run with (each table checks its own)."""
        if self.port > 65535:
            raise ConfigError("[server] port must be at most 65535")
        if self.store_readers < 1 or self.store_batch_max < 1 or self.max_count < 1:
            raise ConfigError(
                "[server] store_readers, store_batch_max and max_count must be at least 1"
            )
        if self.max_query_seconds <= 0:
            raise ConfigError("[server] max_query_seconds must be more than 0")
        for url in {self.url, *self.urls} - {""}:
            check_ws_url(url)
        if self.max_connection_memory < 1024 * 1024:
            raise ConfigError("[server] max_connection_memory must be at least 1 MiB")
        if self.max_memory < self.max_connection_memory:
            raise ConfigError("[server] max_memory must be at least max_connection_memory")


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_message_length: int = 131_072  # bytes of one websocket message
    max_event_size: int = 65_536  # bytes of one event's JSON
    max_content_length: int = 32_768  # characters of content
    max_event_tags: int = 2_000
    max_subscriptions: int = 20  # open REQs per connection
    max_filters: int = 10  # filters in one REQ or COUNT
    max_subid_length: int = MAX_SUBSCRIPTION_ID
    max_limit: int = 5_000  # a filter's limit is clamped to this
    default_limit: int = 500  # results of a filter without limit
    created_at_lower_limit: int = 94_608_000  # seconds in the past (3 years); 0: no limit
    created_at_upper_limit: int = 900  # seconds in the future; 0: no limit
    min_pow_difficulty: int = 0  # NIP-13 leading zero bits; 0: no proof of work
    # NIP-77: reconciliations open at once per connection, events one may cover (more:
    # NEG-ERR "blocked: too many query results"), seconds one may sit idle.
    max_neg_sessions: int = 4
    max_sync_events: int = 100_000
    neg_idle_timeout: float = 60.0

    def check(self) -> None:
        if not 1 <= self.max_subid_length <= MAX_SUBSCRIPTION_ID:
            raise ConfigError(f"[limits] max_subid_length must be 1 to {MAX_SUBSCRIPTION_ID}")
        if not 0 < self.default_limit <= self.max_limit:
            raise ConfigError("[limits] need 0 < default_limit <= max_limit")
        if self.max_message_length < 1024:
            raise ConfigError("[limits] max_message_length must be at least 1024")
        if self.min_pow_difficulty > 256:
            raise ConfigError("[limits] min_pow_difficulty must be at most 256")


@dataclass(frozen=True, slots=True)
class RateLimitsConfig:
    events_per_second: float = 20.0
    events_burst: int = 200
    reqs_per_second: float = 10.0  # REQ and COUNT
    reqs_burst: int = 100
    # Malformed messages; once this bucket is empty the connection is closed (1008).
    invalid_per_second: float = 1.0
    invalid_burst: int = 20
    # Seconds of store time (the statements a connection's REQs and COUNTs ran); once
    # spent, new REQ/COUNT get CLOSED "rate-limited:" until it refills.
    query_seconds_per_second: float = 0.5
    query_seconds_burst: float = 5.0

    def check(self) -> None:
        if self.query_seconds_per_second and not self.query_seconds_burst:
            raise ConfigError("[rate_limits] query_seconds_burst must be more than 0")


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    auth_required: bool = False  # NIP-42 before any REQ, COUNT or EVENT
    aid_only: bool = False  # accept only mutual aid traffic (see policy.reject_not_aid)
    blocked_pubkeys: frozenset[str] = frozenset()
    blocked_kinds: frozenset[int] = frozenset()
    # When not empty only these authors may publish (a private relay).
    allowed_pubkeys: frozenset[str] = frozenset()

    def check(self) -> None:
        require_hex64(self.blocked_pubkeys, "[policy] blocked_pubkeys")
        require_hex64(self.allowed_pubkeys, "[policy] allowed_pubkeys")
        if not all(type(k) is int and 0 <= k <= 65535 for k in self.blocked_kinds):
            raise ConfigError("[policy] blocked_kinds must list kinds from 0 to 65535")


@dataclass(frozen=True, slots=True)
class InfoConfig:
    name: str = "mas-relay"
    description: str = "A Shield Mutual relay for resilient mutual aid societies."
    pubkey: str = ""
    contact: str = ""
    icon: str = ""
    software: str = "shieldmutual mas-relay"

    def check(self) -> None:
        if self.pubkey:
            require_hex64(frozenset([self.pubkey]), "[info] pubkey")


@dataclass(frozen=True, slots=True)
class WebConfig:
    enabled: bool = True
    # The public http(s) address of the pages (https://relay.example.org), used in every
    # link they print (Atom ids, OpenGraph URLs) and advertised in NIP-11. "": from
    # [server] url (wss:// becomes https://), else the listen address.
    base_url: str = ""
    # One bucket for every visitor (no IP is kept to tell them apart): page loads a
    # second, then HTTP 429. A store query and a render each; websocket clients share
    # the store's readers fairly with all pages together.
    pages_per_second: float = 20.0
    pages_burst: int = 100
    # Requests and offers on one society page or feed, newest first.
    max_items: int = 100

    def check(self) -> None:
        check_base_url(self.base_url)
        if not 1 <= self.max_items <= 1000:
            raise ConfigError("[web] max_items must be 1 to 1000")


@dataclass(frozen=True, slots=True)
class MirrorConfig:
    # Relays to copy from (relay/mirror.py): each is reconciled with NIP-77 at start and
    # every ``interval`` seconds, and followed live in between.
    peers: frozenset[str] = frozenset()
    # NIP-01 filters of what to copy; empty: all mutual aid traffic
    # (shared/aid/traffic.py, the same default as `mas sync`).
    filters: tuple[Filter, ...] = ()
    interval: float = 300.0
    # Gift wraps are copied only when the operator opts in (and only those a peer
    # serves to this relay, which without AUTH are none of ours).
    gift_wraps: bool = False

    def check(self) -> None:
        for url in self.peers:
            try:
                if not isinstance(url, str):
                    raise InvalidError(f"{url!r} is not a string")
                normalize_relay_url(url)
            except InvalidError as exc:
                raise ConfigError(f"[mirror] peers: {exc}") from None
        if not self.interval:
            raise ConfigError("[mirror] interval must be more than 0")


@dataclass(frozen=True, slots=True)
class StoreConfig:
    # "postgresql://user:password@host:port/database": events in PostgreSQL (the
    # 'postgres' extra installs asyncpg), shared by every relay process on it; "" keeps
    # them in the SQLite file [server] db. [server] store_readers, store_batch_max,
    # max_count and max_query_seconds apply to either. Never logged (it may hold a
    # password): only its host and database are shown.
    url: str = ""

    def check(self) -> None:
        # The URL is not repeated in the message: it may hold a password.
        if self.url and urlsplit(self.url).scheme not in ("postgresql", "postgres"):
            raise ConfigError('[store] url must be a postgresql:// URL (or "" for SQLite)')


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    rate_limits: RateLimitsConfig = field(default_factory=RateLimitsConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    info: InfoConfig = field(default_factory=InfoConfig)
    web: WebConfig = field(default_factory=WebConfig)
    mirror: MirrorConfig = field(default_factory=MirrorConfig)
    store: StoreConfig = field(default_factory=StoreConfig)

    @property
    def restricted_writes(self) -> bool:
        """NIP-11: some condition beyond a valid signature decides what is accepted."""
        p = self.policy
        return bool(
            p.auth_required or p.aid_only or p.allowed_pubkeys or self.limits.min_pow_difficulty
        )

    def replace(self, section: str, **changes: Any) -> Config:
        """A copy with some keys of one table changed (validated like the file)."""
        current = getattr(self, section)
        merged = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
        merged.update(changes)
        return dataclasses.replace(self, **{section: _build(section, merged)})


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerConfig,
    "limits": LimitsConfig,
    "rate_limits": RateLimitsConfig,
    "policy": PolicyConfig,
    "info": InfoConfig,
    "web": WebConfig,
    "mirror": MirrorConfig,
    "store": StoreConfig,
}


# Settings of earlier versions, with what took their place.
_REPLACED = {
    "server": {
        "max_outgoing_bytes": "set max_connection_memory, which bounds every byte held"
        " for one connection (queued frames, held live events, result pages)",
    },
}


def _build(section: str, values: dict[str, Any]) -> Any:
    cls = _SECTIONS[section]
    defaults = cls()
    known = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in _REPLACED.get(section, {}):
            raise ConfigError(f"[{section}] {key} is no longer used: {_REPLACED[section][key]}")
        if key not in known:
            raise ConfigError(f"unknown setting [{section}] {key}")
        out[key] = coerce(section, key, value, getattr(defaults, key))
    built = cls(**out)
    built.check()
    return built


def from_dict(data: dict[str, Any]) -> Config:
    """Build a :class:`Config` from parsed TOML (tables of keys)."""
    sections: dict[str, Any] = {}
    for name, values in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"unknown table [{name}] (expected one of {', '.join(_SECTIONS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] must be a table")
        sections[name] = _build(name, values)
    return Config(**sections)


def load(path: str | Path | None) -> Config:
    """Defaults, updated from the TOML file at ``path`` when one is given."""
    if path is None:
        return Config()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return from_dict(data)


def with_flags(
    config: Config, *, host: str | None = None, port: int | None = None, db: str | None = None
) -> Config:
    """Apply the command-line flags, which win over the file."""
    changes: dict[str, Any] = {}
    if host is not None:
        changes["host"] = host
    if port is not None:
        changes["port"] = port
    if db is not None:
        changes["db"] = db
    return config.replace("server", **changes) if changes else config
