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
    DELETED,
    DUPLICATE,
    STORED,
    SUPERSEDED,
    address_of,
    deletion_targets,
    index_tags,
)
from shieldmutual.shared import nip40
from shieldmutual.shared.event import Event
from shieldmutual.shared.kinds import DELETION

# mas_save's answers, by number (postgres_schema.SAVE_FUNCTION).
ANSWERS = (STORED, DUPLICATE, SUPERSEDED, DELETED)

Row = tuple[object, ...]


def author_lock(pubkey_hex: str) -> int:
    """The advisory lock key of an author: the first 8 bytes of the key, signed."""
    return int.from_bytes(bytes.fromhex(pubkey_hex)[:8], "big", signed=True)


def row(event: Event, raw: bytes) -> Row:
    """The event as a ``mas_event``: its columns and what the rules need to know."""
    address = address_of(event)
    tags = index_tags(event)
    ids: list[bytes] = []
    addresses: list[tuple[int, str]] = []
    if event.kind == DELETION:
        ids, addresses = deletion_targets(event)
    return (
        bytes.fromhex(event.id),
        bytes.fromhex(event.pubkey),
        event.created_at,
        event.kind,
        None if address is None else index_key(address),
        nip40.expiration(event),
        words_of(event),
        raw,
        [name for name, _ in tags],
        [index_key(value) for _, value in tags],
        sorted(set(ids)),
        [kind for kind, _ in addresses],
        [index_key(d_tag) for _, d_tag in addresses],
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
