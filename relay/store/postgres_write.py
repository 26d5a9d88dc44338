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

The rules themselves run on the server, in ``mas_save`` (postgres_schema), one call per
batch; this module prepares each event's row for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from shieldmutual.relay.store.base import SaveResult
from shieldmutual.relay.store.postgres_schema import index_key, words_of
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
from shieldmutual.shared.kinds import DELETION, is_addressable, is_replaceable

# mas_save's answers, by number (postgres_schema.SAVE_FUNCTION).
ANSWERS = (STORED, DUPLICATE, SUPERSEDED, DELETED)

Row = tuple[object, ...]


def author_lock(pubkey_hex: str) -> int:
    """The advisory lock key of an author: the first 8 bytes of the key, signed."""
    return int.from_bytes(bytes.fromhex(pubkey_hex)[:8], "big", signed=True)


def row(event: Event, raw: bytes) -> Row:
    """The event as a ``mas_event``: its columns and what the rules need to know."""
    address = address_of(event)
    tags = [t for t in event.tags if _is_index_tag(t)]
    deletes_ids: list[bytes] = []
    deletes_kinds: list[int] = []
    deletes_d_tags: list[bytes] = []
    if event.kind == DELETION:
        # NIP-09, as sqlite_write._apply_deletion: e tags name ids (bound to this author
        # only, even before they arrive); a tags name this author's own addresses.
        deletes_ids = sorted({bytes.fromhex(v) for v in event.tag_values("e") if _HEX64(v)})
        for value in event.tag_values("a"):
            parts = value.split(":", 2)
            if len(parts) != 3 or parts[1] != event.pubkey or not _DIGITS(parts[0]):
                continue
            kind = int(parts[0])
            if is_replaceable(kind) or is_addressable(kind):
                deletes_kinds.append(kind)
                deletes_d_tags.append(index_key(parts[2]))
    return (
        bytes.fromhex(event.id),
        bytes.fromhex(event.pubkey),
        event.created_at,
        event.kind,
        None if address is None else index_key(address),
        expiration_of(event),
        words_of(event),
        raw,
        [t[0] for t in tags],
        [index_key(t[1]) for t in tags],
        deletes_ids,
        deletes_kinds,
        deletes_d_tags,
    )


async def save_rows(
    db: asyncpg.Connection, rows: Sequence[Row], events: Sequence[Event]
) -> list[SaveResult]:
    """Apply the saves in order, in the caller's transaction, holding their authors'
    locks until it commits; one answer per row."""
    authors = sorted({author_lock(e.pubkey) for e in events})
    answers = await db.fetchval("SELECT mas_save($1::mas_event[], $2::bigint[])", rows, authors)
    return [ANSWERS[answer] for answer in answers]


async def delete_expired(db: asyncpg.Connection, now: int) -> int:
    """Remove events whose expiration is at or before ``now`` (NIP-40: expired *at* it)."""
    status = await db.execute("DELETE FROM events WHERE expiration <= $1", now)
    return int(status.split()[-1])
