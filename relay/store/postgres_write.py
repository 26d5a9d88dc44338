"""The rules that need atomicity, on PostgreSQL, inside the writer's open transaction.

The same rules and answers as :mod:`.sqlite_write` (whose pure helpers they share):
newest version of an address wins (ties: lowest id), NIP-09 deletions with tombstones,
deleted events never come back. SQLite has one writer per file; PostgreSQL may have one
per relay process on one database (``--workers``, several hosts), and under READ
COMMITTED two transactions could each check "is there a tombstone / a newer version?"
before either commits. So a batch first takes a transaction-scoped advisory lock per
author, in one sorted order (no deadlock between batches): every rule only ever relates
events of one author (a deletion binds its author's events, an address is its author's),
so saves of different authors still commit in parallel. A unique-key race the locks do
not cover (none is known) fails the batch, which the store retries one event at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from shieldmutual.relay.store.base import SaveResult
from shieldmutual.relay.store.postgres_schema import words_of
from shieldmutual.relay.store.sqlite_write import (
    _DIGITS,
    _HEX64,
    DELETED,
    DUPLICATE,
    STORED,
    SUPERSEDED,
    _is_index_tag,
    address_of,
    expiration_of,
)
from shieldmutual.shared.event import Event
from shieldmutual.shared.kinds import DELETION, is_addressable, is_ephemeral, is_replaceable

Connection = asyncpg.Connection


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def author_lock(pubkey_hex: str) -> int:
    """The advisory lock key of an author: the first 8 bytes of the key, signed."""
    return int.from_bytes(bytes.fromhex(pubkey_hex)[:8], "big", signed=True)


async def lock_authors(db: Connection, events: Sequence[Event]) -> None:
    """Hold every author's lock until COMMIT, taken in ascending order."""
    keys = sorted({author_lock(e.pubkey) for e in events if not is_ephemeral(e.kind)})
    if keys:
        await db.execute(
            "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS"
            " a(k, n) ORDER BY n",
            keys,
        )


async def save_event(db: Connection, event: Event, raw: bytes) -> SaveResult:
    """Store ``event`` unless it is known, deleted or superseded; apply it if a deletion."""
    if is_ephemeral(event.kind):
        return STORED
    event_id = bytes.fromhex(event.id)
    pubkey = bytes.fromhex(event.pubkey)
    known, tombstone = await db.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM events WHERE id = $1),"
        " EXISTS (SELECT 1 FROM deleted_ids WHERE id = $1 AND pubkey = $2)",
        event_id,
        pubkey,
    )
    if known:
        return DUPLICATE
    # Deleting a deletion has no effect (NIP-09), so a tombstone never blocks kind 5.
    if tombstone and event.kind != DELETION:
        return DELETED
    address = address_of(event)
    d_tag = None if address is None else _utf8(address)
    if d_tag is not None:
        refusal = await _make_room(db, event, event_id, pubkey, d_tag)
        if refusal is not None:
            return refusal
    words = words_of(event)
    tags = [t for t in event.tags if _is_index_tag(t)]
    await db.execute(
        "WITH e AS (INSERT INTO events (id, pubkey, created_at, kind, d_tag, expiration, words,"
        " raw) VALUES ($1, $2, $3, $4, $5, $6, array_to_tsvector($7::text[]), $8))"
        " INSERT INTO tags (name, value, created_at, id)"
        " SELECT DISTINCT n, v, $3, $1 FROM unnest($9::text[], $10::bytea[]) AS t(n, v)"
        " ON CONFLICT DO NOTHING",
        event_id,
        pubkey,
        event.created_at,
        event.kind,
        d_tag,
        expiration_of(event),
        words,
        raw,
        [t[0] for t in tags],
        [_utf8(t[1]) for t in tags],
    )
    if event.kind == DELETION:
        await _apply_deletion(db, event, pubkey)
    return STORED


async def _make_room(
    db: Connection, event: Event, event_id: bytes, pubkey: bytes, d_tag: bytes
) -> SaveResult | None:
    """Refuse a deleted or older version of an address, or remove the version it replaces
    (newest ``created_at`` wins, on a tie the lowest id, whatever the arrival order)."""
    row = await db.fetchrow(
        "SELECT (SELECT deleted_at FROM deleted_addresses"
        "        WHERE pubkey = $1 AND kind = $2 AND d_tag = $3),"
        " (SELECT ROW(created_at, id) FROM events WHERE pubkey = $1 AND kind = $2 AND d_tag = $3)",
        pubkey,
        event.kind,
        d_tag,
    )
    deleted_at, current = row
    if deleted_at is not None and event.created_at <= deleted_at:
        return DELETED
    if current is None:
        return None
    created_at, current_id = current
    if created_at > event.created_at or (created_at == event.created_at and current_id < event_id):
        return SUPERSEDED
    await db.execute("DELETE FROM events WHERE id = $1", current_id)
    return None


async def _apply_deletion(db: Connection, deletion: Event, pubkey: bytes) -> None:
    """NIP-09, as :func:`.sqlite_write._apply_deletion`: the author's own referenced
    events go, and the request is remembered for events that arrive later."""
    targets = sorted({bytes.fromhex(v) for v in deletion.tag_values("e") if _HEX64(v)})
    if targets:
        await db.execute(
            "DELETE FROM events WHERE id = ANY($1::bytea[]) AND pubkey = $2 AND kind <> $3",
            targets,
            pubkey,
            DELETION,
        )
        await db.execute(
            "INSERT INTO deleted_ids (id, pubkey) SELECT t, $2 FROM unnest($1::bytea[]) AS t"
            " ON CONFLICT DO NOTHING",
            targets,
            pubkey,
        )
    for value in deletion.tag_values("a"):
        parts = value.split(":", 2)
        if len(parts) != 3 or parts[1] != deletion.pubkey or not _DIGITS(parts[0]):
            continue
        kind, d_tag = int(parts[0]), _utf8(parts[2])
        if not (is_replaceable(kind) or is_addressable(kind)):
            continue
        await db.execute(
            "DELETE FROM events WHERE pubkey = $1 AND kind = $2 AND d_tag = $3"
            " AND created_at <= $4",
            pubkey,
            kind,
            d_tag,
            deletion.created_at,
        )
        await db.execute(
            "INSERT INTO deleted_addresses (pubkey, kind, d_tag, deleted_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (pubkey, kind, d_tag) DO UPDATE"
            " SET deleted_at = greatest(deleted_addresses.deleted_at, excluded.deleted_at)",
            pubkey,
            kind,
            d_tag,
            deletion.created_at,
        )


async def delete_expired(db: Connection, now: int) -> int:
    """Remove events whose expiration is at or before ``now`` (NIP-40: expired *at* it)."""
    status = await db.execute("DELETE FROM events WHERE expiration <= $1", now)
    return int(status.split()[-1])
