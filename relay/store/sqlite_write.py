"""The rules that need atomicity, run on the writer's thread inside its open transaction.

Each function takes the writer's :class:`sqlite3.Connection` and is called between
``BEGIN IMMEDIATE`` and ``COMMIT`` by :class:`~.sqlite.SQLiteStore`, so a decision
("is there a newer version?") and the write that follows it can never interleave with
another save. They are synchronous on purpose: a whole batch of saves runs in one hop
to the writer thread instead of one hop per statement.

Nothing in the file may tell the order in which events arrived (issue 9): NIP-59 gives
gift wraps random ``created_at`` precisely so that their arrival time stays unknown,
and a sequential rowid next to public events' timestamps would pin it to the second.
So an event's ``rid`` (also the key of its tag and full-text rows) is its
``created_at`` followed by 31 random bits, for public events too: ordering rows by
rid orders them by a time every row already shows, and the gaps between public
events' rids count nothing. (Fully random rids hide as much but scatter every insert
across the table: ingest took half as much CPU again.) Gift wraps get no full-text
row at all: their content is ciphertext, and FTS5 writes each transaction's rows to a
segment of their own, which would group a wrap with the public events committed
alongside it.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import struct
from collections.abc import Sequence
from itertools import groupby

from shieldmutual.relay.store.base import SaveResult
from shieldmutual.shared import nip40
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import TAG_LETTERS, searchable_text
from shieldmutual.shared.hexid import is_hex64
from shieldmutual.shared.kinds import (
    DELETION,
    GIFT_WRAP,
    is_addressable,
    is_replaceable,
)
from shieldmutual.shared.nip01prefix import blocked, duplicate

STORED = SaveResult(True, "")
DUPLICATE = SaveResult(True, duplicate("already have this event"))
# Not stored, and harmless to the client: what it sent is obsolete here, so "duplicate".
SUPERSEDED = SaveResult(False, duplicate("a newer version of this event is already stored"))
DELETED = SaveResult(False, blocked("this event was deleted by its author"))

# A rid is created_at (clamped to 32 bits, beyond 2106 all alike) and 31 random bits.
_RID_RANDOM_BITS = 31
_MAX_RID_TIME = 2**32 - 1
_DIGITS = re.compile(r"[0-9]{1,19}\Z").match
_IN_CHUNK = 500
_INSERT_TAG = "INSERT OR IGNORE INTO tags (name, value, created_at, rid) VALUES (?, ?, ?, ?)"
_INSERT_TEXT = "INSERT INTO search_text (rowid, text) VALUES (?, ?)"


def address_of(event: Event) -> str | None:
    """The ``d`` part of the event's replaceable address ('' for replaceable kinds),
    or ``None`` for kinds that are never replaced."""
    if is_addressable(event.kind):
        return event.d_tag
    if is_replaceable(event.kind):
        return ""
    return None


def _is_index_tag(tag: list[str]) -> bool:
    return len(tag) > 1 and tag[0] in TAG_LETTERS


def index_tags(event: Event) -> list[tuple[str, str]]:
    """``(letter, value)`` of the tags a store indexes: only single-letter tags can be
    named in a filter (``#x``). Shared with the PostgreSQL store."""
    return [(t[0], t[1]) for t in event.tags if _is_index_tag(t)]


def deletion_targets(deletion: Event) -> tuple[list[bytes], list[tuple[int, str]]]:
    """What a NIP-09 request names: the ids of its ``e`` tags, and the ``(kind, d)``
    addresses of its ``a`` tags that are its own author's and replaceable or
    addressable; anything else in them is ignored. Shared with the PostgreSQL store."""
    ids = [bytes.fromhex(value) for value in deletion.tag_values("e") if is_hex64(value)]
    addresses = []
    for value in deletion.tag_values("a"):
        parts = value.split(":", 2)
        if len(parts) != 3 or parts[1] != deletion.pubkey or not _DIGITS(parts[0]):
            continue
        kind = int(parts[0])
        if is_replaceable(kind) or is_addressable(kind):
            addresses.append((kind, parts[2]))
    return ids, addresses


def save_event(db: sqlite3.Connection, event: Event, raw: bytes) -> SaveResult:
    """Store ``event`` unless it is known, deleted or superseded; apply it if a deletion."""
    event_id = bytes.fromhex(event.id)
    pubkey = bytes.fromhex(event.pubkey)
    if db.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone():
        return DUPLICATE
    # Deleting a deletion has no effect (NIP-09), so a tombstone never blocks kind 5.
    if (
        event.kind != DELETION
        and db.execute(
            "SELECT 1 FROM deleted_ids WHERE id = ? AND pubkey = ?", (event_id, pubkey)
        ).fetchone()
    ):
        return DELETED
    d_tag = address_of(event)
    if d_tag is not None:
        refusal = _make_room(db, event, event_id, pubkey, d_tag)
        if refusal is not None:
            return refusal
    row = (event_id, pubkey, event.created_at, event.kind, d_tag, nip40.expiration(event), raw)
    rid = _insert(db, row, event.created_at)
    db.executemany(
        _INSERT_TAG, [(name, value, event.created_at, rid) for name, value in index_tags(event)]
    )
    text = "" if event.kind == GIFT_WRAP else searchable_text(event)
    if text.strip():
        db.execute(_INSERT_TEXT, (rid, text))
    if event.kind == DELETION:
        _apply_deletion(db, event, pubkey)
    return STORED


def save_events(db: sqlite3.Connection, batch: Sequence[tuple[Event, bytes]]) -> list[SaveResult]:
    """:func:`save_event` for each of ``batch`` in order, with the same answers.

    Each run of plain events (regular kinds, not deletions) is written with one
    statement per table instead of about five per event: per-statement overhead was
    most of the writer's time. A replaceable event or a deletion may depend on the
    events before it and change the answer for those after, so it ends the run and is
    saved alone, after everything before it is written.
    """
    results: list[SaveResult] = []
    for plain, run in groupby(batch, key=_is_plain):
        if plain:
            results += _save_plain(db, list(run))
        else:
            results += [save_event(db, event, raw) for event, raw in run]
    return results


def _is_plain(item: tuple[Event, bytes]) -> bool:
    event = item[0]
    return event.kind != DELETION and address_of(event) is None


def _known(db: sqlite3.Connection, sql: str, ids: list[bytes]) -> set[tuple[bytes, ...]]:
    """Rows of ``sql`` (``... IN ({})``) for ``ids``, a few hundred at a time: the limit
    on a statement's parameters depends on how SQLite was built."""
    found: set[tuple[bytes, ...]] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        found.update(db.execute(sql.format(",".join("?" * len(chunk))), chunk))
    return found


def _save_plain(db: sqlite3.Connection, run: list[tuple[Event, bytes]]) -> list[SaveResult]:
    """A run of regular, non-deletion events: one lookup for known ids and tombstones,
    then one insert per table. A rid taken by a stored row fails the whole batch, which
    the store then retries one event at a time; a lone event goes through
    :func:`save_event`, which draws again instead."""
    if len(run) <= 1:
        return [save_event(db, event, raw) for event, raw in run]
    ids = [bytes.fromhex(event.id) for event, _ in run]
    known = {row[0] for row in _known(db, "SELECT id FROM events WHERE id IN ({})", ids)}
    tombstones = _known(db, "SELECT id, pubkey FROM deleted_ids WHERE id IN ({})", ids)
    results: list[SaveResult] = []
    rows: list[tuple[object, ...]] = []
    tag_rows: list[tuple[str, str, int, int]] = []
    text_rows: list[tuple[int, str]] = []
    rids: set[int] = set()
    noise = _random_bits(len(run))
    for (event, raw), event_id, bits in zip(run, ids, noise, strict=True):
        pubkey = bytes.fromhex(event.pubkey)
        if event_id in known:
            results.append(DUPLICATE)
            continue
        if (event_id, pubkey) in tombstones:
            results.append(DELETED)
            continue
        known.add(event_id)
        rid = _rid(event.created_at, bits)
        while rid in rids:
            rid = new_rid(event.created_at)
        rids.add(rid)
        created_at = event.created_at
        rows.append((rid, event_id, pubkey, created_at, event.kind, nip40.expiration(event), raw))
        tag_rows += [(name, value, created_at, rid) for name, value in index_tags(event)]
        text = "" if event.kind == GIFT_WRAP else searchable_text(event)
        if text.strip():
            text_rows.append((rid, text))
        results.append(STORED)
    db.executemany(
        "INSERT INTO events (rid, id, pubkey, created_at, kind, expiration, raw)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.executemany(_INSERT_TAG, tag_rows)
    db.executemany(_INSERT_TEXT, text_rows)
    return results


def new_rid(created_at: int) -> int:
    """A fresh rid: ``created_at`` (clamped to 32 bits) then 31 random bits."""
    return _rid(created_at, secrets.randbits(_RID_RANDOM_BITS))


def _rid(created_at: int, bits: int) -> int:
    return min(created_at, _MAX_RID_TIME) << _RID_RANDOM_BITS | bits


def _random_bits(count: int) -> tuple[int, ...]:
    """``count`` draws of 31 random bits from one read of the system's CSPRNG: one
    system call per event was 2% of ingest. Not :mod:`random`: the rids in a file would
    give its generator's state away, and with it the arrival order they hide."""
    return tuple(word >> 1 for word in struct.unpack(f">{count}I", os.urandom(4 * count)))


def _insert(db: sqlite3.Connection, row: tuple[object, ...], created_at: int) -> int:
    """Insert the event under a fresh rid; returns it. Two events of one second collide
    with probability 2^-31: then it draws again."""
    while True:
        rid = new_rid(created_at)
        try:
            db.execute(
                "INSERT INTO events (rid, id, pubkey, created_at, kind, d_tag, expiration, raw)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rid, *row),
            )
        except sqlite3.IntegrityError:
            if not db.execute("SELECT 1 FROM events WHERE rid = ?", (rid,)).fetchone():
                raise
            continue
        return rid


def _make_room(
    db: sqlite3.Connection, event: Event, event_id: bytes, pubkey: bytes, d_tag: str
) -> SaveResult | None:
    """Refuse a deleted or older version of an address, or remove the version it replaces.

    The newest ``created_at`` wins and, on a tie, the lowest id, so every relay
    converges on the same version whatever order the versions arrive in.
    """
    key = (pubkey, event.kind, d_tag)
    tombstone = db.execute(
        "SELECT deleted_at FROM deleted_addresses WHERE pubkey = ? AND kind = ? AND d_tag = ?",
        key,
    ).fetchone()
    if tombstone is not None and event.created_at <= tombstone[0]:
        return DELETED
    current = db.execute(
        "SELECT rid, created_at, id FROM events WHERE pubkey = ? AND kind = ? AND d_tag = ?",
        key,
    ).fetchone()
    if current is None:
        return None
    rid, created_at, current_id = current
    if created_at > event.created_at or (created_at == event.created_at and current_id < event_id):
        return SUPERSEDED
    db.execute("DELETE FROM events WHERE rid = ?", (rid,))
    return None


def _apply_deletion(db: sqlite3.Connection, deletion: Event, pubkey: bytes) -> None:
    """NIP-09: remove the author's own referenced events and remember the request.

    ``e`` tags name ids, which may not have arrived yet: the tombstone keeps the
    requester so it only ever binds that author's events. ``a`` tags remove every
    version of the author's address up to the deletion's ``created_at``.
    """
    ids, addresses = deletion_targets(deletion)
    for target in ids:
        db.execute(
            "DELETE FROM events WHERE id = ? AND pubkey = ? AND kind != ?",
            (target, pubkey, DELETION),
        )
        db.execute("INSERT OR IGNORE INTO deleted_ids (id, pubkey) VALUES (?, ?)", (target, pubkey))
    for kind, d_tag in addresses:
        db.execute(
            "DELETE FROM events WHERE pubkey = ? AND kind = ? AND d_tag = ? AND created_at <= ?",
            (pubkey, kind, d_tag, deletion.created_at),
        )
        db.execute(
            "INSERT INTO deleted_addresses (pubkey, kind, d_tag, deleted_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET deleted_at = max(deleted_at, excluded.deleted_at)",
            (pubkey, kind, d_tag, deletion.created_at),
        )


def delete_expired(db: sqlite3.Connection, now: int) -> int:
    """Remove events whose expiration is at or before ``now`` (NIP-40: expired *at* it)."""
    return db.execute("DELETE FROM events WHERE expiration <= ?", (now,)).rowcount


def rekey(db: sqlite3.Connection) -> None:
    """Schema 1 to 2, inside the caller's transaction: schema 1 numbered events in arrival
    order and indexed wraps for search (issue 9). Give every event a fresh rid, in its
    tag rows too, and rebuild the full-text index without wraps."""
    mapping: dict[int, int] = {}
    taken: set[int] = set()
    for old, created_at in db.execute("SELECT rid, created_at FROM events"):
        rid = new_rid(created_at)
        while rid in taken:
            rid = new_rid(created_at)
        taken.add(rid)
        mapping[old] = rid
    db.execute("CREATE TEMP TABLE rekey (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
    db.executemany("INSERT INTO rekey (old, new) VALUES (?, ?)", mapping.items())
    db.execute("DELETE FROM tags WHERE rid NOT IN (SELECT rid FROM events)")
    # Old rids go negative first, so that no new rid meets an old one not yet moved.
    for table in ("events", "tags"):
        db.execute(f"UPDATE {table} SET rid = -1 - rid")
        db.execute(f"UPDATE {table} SET rid = (SELECT new FROM rekey WHERE old = -1 - {table}.rid)")
    db.execute("DROP TABLE temp.rekey")
    db.execute("DELETE FROM search_text")
    # In rid order, so FTS5 writes one segment, then merges everything into one.
    events = db.cursor()  # read one row at a time: the file may be large
    for rid, raw in events.execute(
        f"SELECT rid, raw FROM events WHERE kind != {GIFT_WRAP} ORDER BY rid"
    ):
        text = searchable_text(Event.from_json(raw))
        if text.strip():
            db.execute("INSERT INTO search_text (rowid, text) VALUES (?, ?)", (rid, text))
    db.execute("INSERT INTO search_text (search_text) VALUES ('optimize')")
