"""The SQLite schema and connection settings of :class:`~.sqlite.SQLiteStore`.

Ids and public keys are stored as 32-byte BLOBs, not 64-char hex TEXT: every index
holding them is half the size, so more of it stays in cache, and comparing raw bytes
sorts exactly like comparing lowercase hex, so "ties by lowest id" is ``ORDER BY id``.
Each event's exact JSON is kept in ``raw`` (the last column, so reading the other
columns never touches its overflow pages) and is sent as is, never re-encoded.

Tag rows carry the event's ``created_at`` so a tag lookup walks its index in time
order, and the ``tags`` table is its own index (``WITHOUT ROWID``). Only single-letter
tags are kept because only those can be named in a filter (``#x``). The full-text table
holds what :func:`shieldmutual.shared.filter.searchable_text` returns, tokenized the
way the pure matcher splits words (see ``FTS_TOKENIZER``).

Deleting an event row (replaced, deleted by its author, expired) removes its tag and
full-text rows in a trigger, so no code path can leave them behind.
"""

from __future__ import annotations

# 2: rids carry no arrival order and wraps have no full-text rows (issue 9); a file of
# version 1 is re-keyed when opened (sqlite_write.rekey).
SCHEMA_VERSION = 2

# unicode61 folds case like the matcher's str.lower(); remove_diacritics 0 keeps "café"
# distinct from "cafe" as the matcher does; categories 'L* N*' makes letters and digits
# the only word characters, exactly Python's ``[^\W_]`` (the default would also count
# private-use characters as word characters).
FTS_TOKENIZER = "unicode61 remove_diacritics 0 categories 'L* N*'"

SCHEMA = f"""
CREATE TABLE events (
    -- created_at then 31 random bits, never a sequence: no arrival order (sqlite_write)
    rid INTEGER PRIMARY KEY,
    id BLOB NOT NULL,
    pubkey BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    -- the d tag of an addressable event, '' for a replaceable one, NULL otherwise
    d_tag TEXT,
    -- NIP-40 expiration, NULL when the event has none
    expiration INTEGER,
    raw BLOB NOT NULL
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_created ON events (created_at);
CREATE INDEX events_pubkey ON events (pubkey, created_at);
CREATE INDEX events_kind ON events (kind, created_at);
CREATE INDEX events_pubkey_kind ON events (pubkey, kind, created_at);
-- One row per replaceable/addressable address: the database itself refuses a second.
CREATE UNIQUE INDEX events_address ON events (pubkey, kind, d_tag) WHERE d_tag IS NOT NULL;
CREATE INDEX events_expiration ON events (expiration) WHERE expiration IS NOT NULL;

CREATE TABLE tags (
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    rid INTEGER NOT NULL,
    PRIMARY KEY (name, value, created_at, rid)
) WITHOUT ROWID;
CREATE INDEX tags_rid ON tags (rid);

CREATE VIRTUAL TABLE search_text USING fts5 (text, tokenize = "{FTS_TOKENIZER}", columnsize = 0);

-- NIP-09 tombstones. An id deletion only binds events by the requester, who may have
-- asked before the event arrived, so the requester is part of the key.
CREATE TABLE deleted_ids (
    id BLOB NOT NULL,
    pubkey BLOB NOT NULL,
    PRIMARY KEY (id, pubkey)
) WITHOUT ROWID;
-- Every version of an address up to deleted_at is gone and may not come back.
CREATE TABLE deleted_addresses (
    pubkey BLOB NOT NULL,
    kind INTEGER NOT NULL,
    d_tag TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (pubkey, kind, d_tag)
) WITHOUT ROWID;

CREATE TRIGGER events_cleanup AFTER DELETE ON events BEGIN
    DELETE FROM tags WHERE rid = old.rid;
    DELETE FROM search_text WHERE rowid = old.rid;
END;

PRAGMA user_version = {SCHEMA_VERSION};
"""

# synchronous=NORMAL in WAL mode: a commit is durable once its frames are written to the
# WAL file, so an acknowledged event survives a crash of this process; only an OS crash
# or power loss can lose the last few commits (never corrupting the database).
# 64 KiB pages keep every event up to ~64 KB (every padded gift wrap) inside its B-tree
# leaf, which is ordered by rid. With 4 KiB pages a wrap spilled into overflow pages that
# SQLite allocates as rows arrive, so the file's page numbers gave back the arrival order
# the random rids hide (issue 9). Measured no slower to ingest or query (bench/store.py).
# It takes effect only on a new file (and in the schema 1 migration, which rewrites it).
PAGE_SIZE = 65536

WRITER_PRAGMAS = (
    f"PRAGMA page_size = {PAGE_SIZE}",
    "PRAGMA journal_mode = WAL",
    # A deleted row's bytes are overwritten, so a seized file keeps no trace of an
    # expired or deleted event (its size, its place) in free space.
    "PRAGMA secure_delete = ON",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -65536",  # 64 MiB
    "PRAGMA mmap_size = 268435456",  # 256 MiB
    "PRAGMA journal_size_limit = 8388608",  # truncate the WAL back to 8 MiB
    # Checkpoint every 64 pages (4 MiB with 64 KiB pages, as 1,000 4 KiB pages were):
    # readers copy WAL frames into their caches, and the WAL holds recent commits in
    # arrival order, so a short WAL keeps both memory and that window small; stale
    # frames past the size limit are cut off when the WAL restarts.
    "PRAGMA wal_autocheckpoint = 64",
)

# Readers map the whole file, up to SQLite's build ceiling (2 GiB in stock builds, which
# clamp the setting), so every page is read in place. At 256 MiB a 500k-event store (~600
# MB) read everything past its first 256 MiB, where the newest events and index pages are
# (the file grows at its end), through each connection's pager: a 64 KiB copy per page
# missed (issue 15). Address space, not memory: the pages are the kernel's page cache,
# shared by every connection and the OS's to evict.
READER_MMAP_SIZE = 1 << 40

READER_PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA temp_store = MEMORY",
    # 16 MiB each: the file is read through mmap (page cache, shared), so a reader's
    # own cache holds WAL frames and temporary b-trees; 4 readers by default.
    "PRAGMA cache_size = -16384",
    f"PRAGMA mmap_size = {READER_MMAP_SIZE}",
)

# The event loop's own read connection (sqlite_readers.Inline) never waits for a lock:
# a statement that finds the file busy is run again by a reader, which may wait.
INLINE_PRAGMAS = (*READER_PRAGMAS, "PRAGMA busy_timeout = 0")
