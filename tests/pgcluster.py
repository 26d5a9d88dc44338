"""A throwaway PostgreSQL cluster for tests, from the distribution's own binaries.

One cluster per test session under a temp folder: ``initdb`` with trust authentication
for one throwaway role, a server on 127.0.0.1 (a free port) and on a unix socket in the
same folder, ``fsync`` left on (the store tests check that ``OK true`` means committed),
stopped with ``pg_ctl stop -m immediate`` and removed at the end. Each test gets its own
schema (:meth:`Cluster.new_schema`) so tests never see each other's rows.

PostgreSQL refuses to run as root, and CI runs as root: then every server-side command
runs as an unprivileged user (Debian's ``postgres`` when the package created it, else
``nobody``) that owns the temp folder. Clients (``psql``, the store) connect as the
throwaway role whatever user they run as.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROLE = "shield"
_databases = itertools.count(1)


class ClusterUnavailable(Exception):
    """No PostgreSQL server binaries on this machine (the only reason to skip)."""


def find_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian keeps them out of PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ClusterUnavailable(
        "no PostgreSQL server binaries (initdb) found in /usr/lib/postgresql/*/bin or PATH;"
        " install Debian's 'postgresql' package (.ci/run does)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """Who runs initdb/pg_ctl: None (ourselves) unless we are root, which they refuse."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ClusterUnavailable("running as root and neither 'postgres' nor 'nobody' exists")


@dataclass
class Cluster:
    """A running cluster; :meth:`url` names a database on it."""

    bindir: Path
    root: Path
    port: int
    user: pwd.struct_passwd | None
    log: Path = field(init=False)
    _tests_database: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.log = self.root / "server.log"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A server-side command, as the unprivileged user when we are root."""
        ids: dict[str, object] = {}
        if self.user is not None:
            ids = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        done = subprocess.run(
            args, capture_output=True, text=True, check=False, timeout=90, cwd=self.root, **ids
        )
        if check and done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}\n{tail}"
            )
        return done

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL command over the unix socket (no asyncpg needed by fixtures)."""
        done = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.root),
                "-p",
                str(self.port),
                "-U",
                ROLE,
                "-d",
                database,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def new_database(self) -> str:
        """A fresh empty database; returns its URL. Costs a copy of the template, which
        with fsync on takes most of a second on a busy machine: tests use new_schema."""
        name = f"t{os.getpid()}_{next(_databases)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def new_schema(self) -> str:
        """The URL of a fresh, empty schema in the shared ``tests`` database, made the
        connections' ``search_path`` (asyncpg passes unknown URL parameters on as server
        settings). As isolated as a database for a store's tables, at a twentieth of
        the cost; LISTEN/NOTIFY channels are per database, so tests that use them must
        not run at the same time (pytest runs tests one after another)."""
        if not self._tests_database:
            self.psql("CREATE DATABASE tests")
            self._tests_database = True
        name = f"t{os.getpid()}_{next(_databases)}"
        self.psql(f'CREATE SCHEMA "{name}"', "tests")
        return f"{self.url('tests')}?search_path={name}"

    def stop(self) -> None:
        self.run(
            str(self.bindir / "pg_ctl"),
            "stop",
            "-D",
            str(self.data),
            "-m",
            "immediate",
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb and start a cluster; raises ClusterUnavailable only when binaries are missing."""
    bindir = find_bindir()
    user = _server_user()
    # As root, under /tmp itself: TMPDIR may be inside a folder the server user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="pg-", dir=None if user is None else "/tmp"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(bindir, root, 0, user)
    try:
        cluster.run(
            str(bindir / "initdb"),
            "-D",
            str(cluster.data),
            "-U",
            ROLE,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        for attempt in range(5):
            cluster.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {root} -c fsync=on"
                " -c max_connections=200 -c shared_buffers=32MB"
            )
            done = cluster.run(
                str(bindir / "pg_ctl"),
                "start",
                "-D",
                str(cluster.data),
                "-w",
                "-t",
                "60",
                "-l",
                str(cluster.log),
                "-o",
                options,
                check=False,
            )
            if done.returncode == 0:
                return cluster
            if attempt == 4 or "already in use" not in cluster.log.read_text(errors="replace"):
                raise RuntimeError(
                    f"pg_ctl start failed: {done.stderr.strip()}\n"
                    f"{cluster.log.read_text(errors='replace')[-2000:]}"
                )
    except BaseException:
        cluster.stop()
        raise
    raise AssertionError("unreachable")
