"""``mas-relay``: run the relay until SIGTERM or SIGINT, then stop cleanly (exit 0).

    mas-relay                                   # ws://127.0.0.1:7777, data dir store
    mas-relay --port 0 --db /tmp/relay.db       # any free port; see the ready line
    mas-relay --host 0.0.0.0 --config /etc/mas-relay.toml

Once it accepts connections it says on stderr what it runs on (the database file, its
websocket, NIP-11 and web page URLs with the port actually bound), ending with one line
``mas-relay ready on ws://HOST:PORT`` that scripts wait for. It holds a lock on the
database for its lifetime, so a second relay on the same file refuses to start. A
``--db`` (or config ``db``) in a folder that does not exist is refused unless
``--create``: a typo would otherwise start a new, empty relay. Exit status: 0 after a
clean stop, 2 for a bad flag or configuration, 1 when it cannot start (port taken,
database in use...).

    mas-relay --workers 4 --config relay.toml   # [store] url = "postgresql://..."

``--workers N`` runs N relay processes on one port over the PostgreSQL store
(relay/workers.py: one ready block once all are ready, a dead worker logged and
restarted with backoff). SQLite has one writer, so with it ``--workers`` above 1 is
refused (exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from shieldmutual.relay import config as config_mod
from shieldmutual.relay.config import DEFAULT_HOST, DEFAULT_PORT, Config
from shieldmutual.relay.server import Relay, db_path, default_db_path
from shieldmutual.relay.store.factory import describe
from shieldmutual.relay.web import base_url
from shieldmutual.relay.workers import Supervisor, reserve_port
from shieldmutual.shared.errors import ConfigError, StoreError
from shieldmutual.shared.version import VERSION

log = logging.getLogger("shieldmutual.relay")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mas-relay",
        description="Shield Mutual's Nostr relay for resilient mutual aid societies.",
        epilog="SIGTERM or SIGINT stops it after committing every acknowledged event.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    p.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument(
        "--port", type=int, help=f"port to listen on, 0 for any free one (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--db", metavar="PATH", help=f"SQLite database file (default {default_db_path()})"
    )
    p.add_argument(
        "--create",
        action="store_true",
        help="create the folder of --db when it does not exist (else: refused, exit 2)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration: limits, policy, NIP-11 info (example: docker/relay.toml)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="relay processes sharing the port (SO_REUSEPORT); above 1 needs [store] url",
    )
    return p


def _configure_logging(level: str, worker: int | None = None) -> None:
    who = "" if worker is None else f" worker-{worker}"
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s{who} %(name)s: %(message)s",
    )
    # Libraries stay at WARNING whatever the level: websockets' INFO/DEBUG lines describe
    # every handshake and frame, and aiosqlite's DEBUG lines every query with its
    # parameters (what clients asked for) - neither belongs in a privacy-minded log.
    for name in ("websockets", "aiosqlite", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)


def ready_lines(relay: Relay) -> list[str]:
    """What the operator needs to point clients and browsers at: the relay's own
    addresses only (never a client's)."""
    config = relay.config
    listening = f"http://{relay.host}:{relay.port}"
    if config.store.url:  # never the URL itself: it may hold a password
        store = f"  database {describe(config.store.url)} (PostgreSQL)"
    else:
        store = f"  database {db_path(config).resolve()}"
    lines = [store, f"  websocket {relay.url}"]
    if config.server.url:
        lines.append(f"  public websocket {config.server.url}")
    lines.append(f"  NIP-11 {listening}/ (Accept: application/nostr+json)")
    if config.web.enabled:
        lines.append(f"  web pages {base_url(config, listening)}/")
    else:
        lines.append("  web pages off ([web] enabled = false); / explains what this is")
    return [*lines, f"mas-relay ready on {relay.url}"]


def _print_ready(lines: list[str]) -> None:
    print("\n".join(lines), file=sys.stderr, flush=True)


async def run(
    config: Config,
    worker: int | None = None,
    ready: Callable[[list[str]], None] = _print_ready,
    lifeline: Connection | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    log.debug("event loop: %s", type(loop).__module__)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if lifeline is not None:  # readable (closed) once the --workers parent is gone

        def orphaned() -> None:
            loop.remove_reader(lifeline.fileno())
            log.warning("the --workers parent is gone; stopping")
            stop.set()

        loop.add_reader(lifeline.fileno(), orphaned)
    relay = Relay(config, worker=worker)
    await relay.start()
    try:
        ready(ready_lines(relay))
        await stop.wait()
        log.info("stopping")
    finally:
        await relay.stop()
    log.info("stopped cleanly")


def _runner(config: Config) -> Callable[..., None]:
    if config.server.uvloop:
        try:
            import uvloop
        except ImportError:
            log.info("uvloop is not installed; using asyncio's event loop")
        else:
            return uvloop.run
    return asyncio.run


def _say(line: str) -> None:
    """One line on stderr in one write(): the workers share the parent's stderr, and the
    separate writes of print (the text, then the newline) interleaved two workers' lines
    into one (seen in CI). A pipe write under PIPE_BUF bytes is never split."""
    sys.stderr.flush()
    os.write(sys.stderr.fileno(), f"{line}\n".encode(errors="backslashreplace"))


def run_worker(config: Config, number: int, parent: Connection, lifeline: Connection) -> None:
    """One of ``--workers``' processes (started by relay/workers.py with spawn): a whole
    relay that tells the parent its ready lines instead of printing them, and stops when
    the parent is gone."""
    _configure_logging(config.server.log_level, number)
    try:
        _runner(config)(run(config, number, parent.send, lifeline))
    except (OSError, StoreError) as exc:
        _say(f"mas-relay: worker {number} cannot start: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        sys.exit(130)


def _serve_workers(config: Config, count: int) -> int:
    try:
        held = reserve_port(config.server.host, config.server.port)
    except OSError as exc:
        print(f"mas-relay: cannot start: {exc}", file=sys.stderr)
        return 1
    with held:
        config = config.replace("server", port=held.getsockname()[1])
        return Supervisor(config, count, run_worker).run()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = config_mod.with_flags(
            config_mod.load(args.config), host=args.host, port=args.port, db=args.db
        )
    except ConfigError as exc:
        print(f"mas-relay: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("mas-relay: --workers must be 1 or more", file=sys.stderr)
        return 2
    if args.workers > 1 and not config.store.url:
        print(
            "mas-relay: --workers above 1 needs the PostgreSQL store ([store] url): SQLite"
            " has one writer",
            file=sys.stderr,
        )
        return 2
    folder = Path(config.server.db).expanduser().parent if config.server.db else None
    if folder is not None and not folder.is_dir():
        if not args.create:
            print(
                f"mas-relay: the database folder {folder} does not exist;"
                " create it or pass --create",
                file=sys.stderr,
            )
            return 2
        folder.mkdir(parents=True, exist_ok=True)
    _configure_logging(config.server.log_level)
    if args.workers > 1:
        return _serve_workers(config, args.workers)
    try:
        _runner(config)(run(config))
    except (OSError, StoreError) as exc:
        print(f"mas-relay: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
