"""The PostgreSQL schema of :class:`~.postgres.PostgresStore`.

The same tables as the SQLite store (:mod:`.sqlite_schema`), keyed by the event id
instead of a rowid: ids and public keys as 32-byte ``bytea`` (memcmp order is lowercase
hex order, so "ties by lowest id" is ``ORDER BY id``), the exact JSON in ``raw``.

Tag values and ``d`` tags are ``bytea`` (their UTF-8), not ``text``: PostgreSQL text
cannot hold U+0000, which a valid event's tags may contain. Tag rows carry the event's
``created_at`` so a tag lookup walks its index in time order, and are removed with their
event by ``ON DELETE CASCADE``, so no code path can leave them behind.

NIP-50 search is PostgreSQL full-text: ``words`` is a ``tsvector`` with a GIN index,
built by ``array_to_tsvector`` from the words the pure matcher sees
(:func:`words_of`), not by a text search configuration. A configuration would stem
("running" finding "run") and split words its own way, so the relay would answer
differently from SQLite and from the matcher its subscriptions use. Lexemes are limited
to 2047 bytes: a longer word is left out of the index, and a search for one finds
nothing (the matcher and SQLite would find it; no real word is that long).

Every index is ``(..., created_at DESC, id)``: the order results are returned in, so a
filter with a limit reads exactly its rows from the index without sorting.
"""

from __future__ import annotations

import re

from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import searchable_text
from shieldmutual.shared.kinds import GIFT_WRAP

SCHEMA_VERSION = 1

# PostgreSQL refuses a lexeme of 2 KiB or more ("word is too long to be indexed").
MAX_LEXEME_BYTES = 2047
_WORD = re.compile(r"[^\W_]+")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS store_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id bytea PRIMARY KEY,
    pubkey bytea NOT NULL,
    created_at bigint NOT NULL,
    kind integer NOT NULL,
    -- the d tag of an addressable event, '' for a replaceable one, NULL otherwise
    d_tag bytea,
    -- NIP-40 expiration, NULL when the event has none
    expiration bigint,
    -- NIP-50: the matcher's words; NULL for gift wraps (ciphertext) and wordless events
    words tsvector,
    raw bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS events_created ON events (created_at DESC, id);
CREATE INDEX IF NOT EXISTS events_pubkey ON events (pubkey, created_at DESC, id);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, created_at DESC, id);
CREATE INDEX IF NOT EXISTS events_pubkey_kind ON events (pubkey, kind, created_at DESC, id);
-- One row per replaceable/addressable address: the database itself refuses a second.
CREATE UNIQUE INDEX IF NOT EXISTS events_address ON events (pubkey, kind, d_tag)
    WHERE d_tag IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_expiration ON events (expiration)
    WHERE expiration IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_words ON events USING gin (words)
    WHERE words IS NOT NULL;

CREATE TABLE IF NOT EXISTS tags (
    name text NOT NULL,
    value bytea NOT NULL,
    created_at bigint NOT NULL,
    id bytea NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    PRIMARY KEY (name, value, created_at, id)
);
CREATE INDEX IF NOT EXISTS tags_newest ON tags (name, value, created_at DESC, id);
CREATE INDEX IF NOT EXISTS tags_id ON tags (id);

-- NIP-09 tombstones, as in the SQLite store: an id deletion binds only the requester's
-- events, every version of an address up to deleted_at is gone for good.
CREATE TABLE IF NOT EXISTS deleted_ids (
    id bytea NOT NULL,
    pubkey bytea NOT NULL,
    PRIMARY KEY (id, pubkey)
);
CREATE TABLE IF NOT EXISTS deleted_addresses (
    pubkey bytea NOT NULL,
    kind integer NOT NULL,
    d_tag bytea NOT NULL,
    deleted_at bigint NOT NULL,
    PRIMARY KEY (pubkey, kind, d_tag)
);
INSERT INTO store_meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}')
    ON CONFLICT (key) DO NOTHING;
"""

# Two relays (or workers) opening one new database at once would both run CREATE TABLE
# IF NOT EXISTS and one could fail on the catalog's unique index: one lock serializes it.
SCHEMA_LOCK = 0x5348_4D55  # "SHMU"


def words_of(event: Event) -> list[str] | None:
    """The lexemes search matches against: the matcher's words (lower-cased runs of
    letters and digits) of :func:`searchable_text`; None for gift wraps and no words."""
    if event.kind == GIFT_WRAP:
        return None
    words = {
        w.lower()
        for w in _WORD.findall(searchable_text(event))
        if len(w.lower().encode()) <= MAX_LEXEME_BYTES
    }
    return sorted(words) or None
