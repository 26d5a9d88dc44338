"""Opening the SQLite file: the lock that keeps it to one relay, and the writer
connection, which creates a new file's schema or migrates an old one."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

from shieldmutual.relay.store import sqlite_write
from shieldmutual.relay.store.sqlite_schema import (
    PAGE_SIZE,
    SCHEMA,
    SCHEMA_VERSION,
    WRITER_PRAGMAS,
)
from shieldmutual.shared.errors import StoreError

# The page statement materializes its union (``WITH ... AS MATERIALIZED``, SQLite 3.35) to
# tell which filters are exhausted; FTS5 and the JSON functions are older than that.
MIN_SQLITE = (3, 35, 0)


def check_sqlite(version: tuple[int, int, int]) -> None:
    """Refuse, with the versions, an SQLite library too old for the store's statements
    (Python links the system's; an old distribution's would fail on the first REQ)."""
    if version < MIN_SQLITE:
        have = ".".join(map(str, version))
        need = ".".join(map(str, MIN_SQLITE))
        raise StoreError(f"the SQLite store needs SQLite {need} or later; this Python has {have}")


def lock(path: Path) -> int:
    """An exclusive ``flock`` on ``<db>.lock`` for as long as the store is open: two relays
    on one file would each batch and checkpoint as if alone. A lock file beside the
    database rather than the database itself: SQLite's own locks are POSIX record locks,
    which flock emulates on NFS, so locking the database could block SQLite itself. The
    file holds the holder's pid for the error message; the kernel drops the lock when
    the process dies, however it dies."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        by = f" (pid {holder})" if holder.isdigit() else ""
        raise StoreError(f"{path.resolve()} is in use by another relay{by}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def open_writer(path: Path) -> sqlite3.Connection:
    """The writer connection: pragmas, then a new file's schema or an old one migrated."""
    check_sqlite(sqlite3.sqlite_version_info)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    for pragma in WRITER_PRAGMAS:
        db.execute(pragma)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        db.executescript(f"BEGIN; {SCHEMA} COMMIT;")
    elif version == 1:
        _migrate_from_1(db)
    elif version != SCHEMA_VERSION:
        db.close()
        raise StoreError(f"{path} has schema version {version}, expected {SCHEMA_VERSION}")
    return db


def _migrate_from_1(db: sqlite3.Connection) -> None:
    """Re-key a schema 1 file (see :func:`sqlite_write.rekey`), then rewrite the whole
    file (VACUUM) with 64 KiB pages and empty the WAL, so no page or frame keeps the
    old numbering or the overflow pages laid out in arrival order."""
    db.execute("BEGIN IMMEDIATE")
    try:
        sqlite_write.rekey(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        db.close()
        raise
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode = DELETE")  # a WAL file's page size is fixed
    db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    db.execute("VACUUM")
    db.execute("PRAGMA journal_mode = WAL")
