"""The relays the benchmarks run, each a fresh subprocess on 127.0.0.1 through
bench.harness: mas-relay ("ours"), strfry and the PyPI nostr-relay, with the configs
that make the comparison fair (rate limits off, authentication off, WARNING logs)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import HOST, RelayProcess, free_port

NOSTR_RELAY_CONFIG = """\
# Written by bench.relay. Fairness: no rate limits (no rate_limits key, so the
# NullRateLimiter), authentication and NIP-05 verification off, logging at WARNING (the
# default logs one INFO line per stored event). The default validators are kept: size,
# signature, recency, hellthread, as our relay checks the same things.
DEBUG: false
storage:
  sqlalchemy.url: sqlite+aiosqlite:///{db}
  num_concurrent_reqs: 10
  num_concurrent_adds: 2
  validators:
    - nostr_relay.validators.is_not_too_large
    - nostr_relay.validators.is_signed
    - nostr_relay.validators.is_recent
    - nostr_relay.validators.is_not_hellthread
gunicorn:
  bind: {host}:{port}
  workers: 1
  loglevel: warning
authentication:
  enabled: false
verification:
  nip05_verification: disabled
message_timeout: 1800
subscription_limit: 32
max_limit: 6000
logging:
  version: 1
  root: {{level: WARNING}}
  loggers:
    nostr_relay: {{level: WARNING}}
"""


MAS_RELAY_CONFIG = """\
# Written by bench.relay. Fairness: the per-connection rate limits are off (nostr-relay
# runs without any); everything else is mas-relay's default.
[rate_limits]
events_per_second = 0
reqs_per_second = 0

[server]
log_level = "WARNING"
{uvloop}"""


# strfry (issue 15): the same fairness as above. NIP-42 off (neither other relay asks the
# bench to authenticate); nofiles = 0, as its default asks the kernel for more open files
# than this machine allows and it exits (the bench raises RLIMIT_NOFILE itself, inherited);
# strfry has no rate limits to turn off. Log level via --verbosity; the rest is its default.
STRFRY_CONFIG = """\
# Written by bench.relay.
db = "{db}/"
relay {{
    bind = "{host}"
    port = {port}
    nofiles = 0
    auth {{
        enabled = false
    }}
}}
"""


def strfry_config(workdir: Path, port: int) -> Path:
    """A strfry config and an empty LMDB folder in ``workdir``; the config's path."""
    db = workdir / "strfry-db"
    db.mkdir(exist_ok=True)
    cfg = workdir / "strfry.conf"
    cfg.write_text(STRFRY_CONFIG.format(db=db, host=HOST, port=port))
    return cfg


class Relay:
    """One relay under test, started afresh (new temporary folder, new database unless
    ``db`` names one) by each :meth:`start`: ``ours`` (mas-relay; ``pythonpath`` runs
    another copy of its code, as ``--before DIR`` does), ``strfry`` or ``nostr-relay``."""

    def __init__(
        self,
        name: str,
        exe: str,
        config: str | None = None,
        uvloop: bool = False,
        pythonpath: str | None = None,
        db: Path | None = None,
    ) -> None:
        self.name = name
        self.exe = exe
        self.config = config
        self.uvloop = uvloop
        self.pythonpath = pythonpath
        self.given_db = db
        # mas-relay says when it is ready (every worker up); another relay is ready when
        # its port accepts connections.
        self.is_mas_relay = name.startswith("ours")
        self.process: RelayProcess | None = None
        self.port = 0
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        # A folder holding a store filled by an earlier run, copied in by start (``seed``),
        # or the folder where stop keeps a copy of this run's store (``keep``):
        # bench.scenarios_scale --stores, so a 500k store is prefilled once, not every run.
        self.seed: Path | None = None
        self.keep: Path | None = None

    def argv(self, workdir: Path) -> list[str]:
        if self.is_mas_relay:
            argv = [self.exe, "--host", HOST, "--port", str(self.port)]
            argv += ["--db", str(self.db)]
            config = self.config
            if config is None:
                config = str(workdir / "mas-relay.toml")
                # uvloop forced on by --ours-uvloop, else the relay's own default
                forced = "uvloop = true\n" if self.uvloop else ""
                Path(config).write_text(MAS_RELAY_CONFIG.format(uvloop=forced))
            return [*argv, "--config", config]
        if self.name == "strfry":
            cfg = strfry_config(workdir, self.port)
            return [self.exe, f"--config={cfg}", "--verbosity=WARNING", "relay"]
        cfg = workdir / "nostr-relay.yaml"
        cfg.write_text(
            NOSTR_RELAY_CONFIG.format(db=workdir / "nostr.sqlite3", host=HOST, port=self.port)
        )
        # --use-uvicorn: the same falcon + uvicorn stack the default gunicorn (1 worker) runs,
        # in one process, so RSS and CPU are one process's.
        return [self.exe, "-c", str(cfg), "serve", "--use-uvicorn"]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.proc.poll() is None

    @property
    def workdir(self) -> Path:
        assert self.tmp is not None
        return Path(self.tmp.name)

    @property
    def db(self) -> Path:
        """mas-relay's database: the one given, else relay.db in its temporary folder."""
        return self.given_db or self.workdir / "relay.db"

    @property
    def store(self) -> Path:
        """Where the relay keeps its events: mas-relay's file, strfry's LMDB folder."""
        return self.db if self.is_mas_relay else self.workdir / "strfry-db"

    async def start(self, timeout: float = 60.0) -> None:
        """Ready when mas-relay prints its ready line (every worker is up), or when
        another relay accepts connections on its port."""
        self.tmp = tempfile.TemporaryDirectory(prefix=f"bench-{self.name}-")
        if self.seed is not None:
            copy_store(self.seed / self.store.name, self.store)
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": self.pythonpath} if self.pythonpath else None
        self.process = RelayProcess(self.argv(self.workdir), cwd=self.workdir, env=env)
        try:
            if self.is_mas_relay:
                await asyncio.to_thread(self.process.wait_ready, timeout)
            else:
                await asyncio.to_thread(self.process.wait_listening, self.port, timeout)
        except BaseException:
            self.stop()
            raise

    def log_tail(self, lines: int = 30) -> str:
        return self.process.log_tail(lines) if self.process else "(no log)"

    def stop(self) -> None:
        """SIGTERM to the relay and its workers, SIGKILL after 10 s; the folder removed."""
        if self.process is not None:
            self.process.close(grace=10.0)
        self.process = None
        if self.tmp is not None and self.keep is not None and self.store.exists():
            partial = self.keep.with_name(self.keep.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run
            partial.mkdir(parents=True)
            copy_store(self.store, partial / self.store.name)
            partial.rename(self.keep)  # whole or absent: a later run never seeds a half
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


def copy_store(src: Path, dst: Path) -> None:
    """Copy a stopped relay's store: a folder (strfry) or a SQLite file, with its WAL if
    one was left."""
    if src.is_dir():
        shutil.copytree(src, dst)
        return
    shutil.copyfile(src, dst)
    wal = src.with_name(src.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, dst.with_name(dst.name + "-wal"))


def find_exe(given: str | None, name: str) -> str | None:
    """``given`` if it exists, else ``name`` beside this python, else on PATH."""
    if given:
        return given if Path(given).exists() else None
    sibling = Path(sys.executable).with_name(name)
    if sibling.exists():
        return str(sibling)
    return shutil.which(name)


def mas_relay_exe(given: str | None) -> str | None:
    """The mas-relay to run (``--mas-relay``, else next to this python); None, said, if none."""
    exe = find_exe(given, "mas-relay")
    if not exe:
        print("mas-relay not found (pass --mas-relay PATH)")
    return exe


def runs_help(exe: str) -> str:
    """'' when ``exe --help`` works, else why not (the relay may not be installed yet)."""
    try:
        done = subprocess.run([exe, "--help"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return repr(exc)
    if done.returncode:
        return (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-1]
    return ""
