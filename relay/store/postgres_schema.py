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
differently from SQLite and from the matcher its subscriptions use.

A btree entry holds at most ~2.7 kB and a lexeme 2 kB, while a tag value, a ``d`` tag or
a word may be longer. Such a value is indexed as its SHA-256 (:func:`index_key`,
:func:`lexeme`), on writing and in filters alike, so it is still stored and found by
equality exactly as on SQLite; the digest is marked so it can equal no real value.

Every index is ``(..., created_at DESC, id)``: the order results are returned in, so a
filter with a limit reads exactly its rows from the index without sorting.
"""

from __future__ import annotations

import hashlib
import re

from shieldmutual.shared.errors import StoreError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import searchable_text
from shieldmutual.shared.kinds import GIFT_WRAP

SCHEMA_VERSION = 1

# Longer values are indexed by digest: a btree entry holds ~2.7 kB, a lexeme 2 kB.
MAX_KEY_BYTES = 1024
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
    id bytea NOT NULL REFERENCES events (id) ON DELETE CASCADE
);
-- Its key, in the order results are returned: a hashtag's newest first.
CREATE UNIQUE INDEX IF NOT EXISTS tags_key ON tags (name, value, created_at DESC, id);
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

# A whole batch of saves is one call of mas_save: one round trip instead of four or
# five per event. The rules are those of .sqlite_write (and return its answers by
# number: 0 stored, 1 duplicate, 2 superseded, 3 deleted), applied event after event in
# the batch's order, each seeing what the ones before it wrote. Everything the rules
# need is worked out in Python (postgres_write.row): the address, the expiration, the
# words, the indexed tags, what a deletion names.
SAVE_FUNCTION = """
DO $$ BEGIN
    CREATE TYPE mas_event AS (
        id bytea, pubkey bytea, created_at bigint, kind integer, d_tag bytea,
        expiration bigint, words text[], raw bytea, tag_names text[], tag_values bytea[],
        deletes_ids bytea[], deletes_kinds integer[], deletes_d_tags bytea[]
    );
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE OR REPLACE FUNCTION mas_save(batch mas_event[], authors bigint[])
RETURNS smallint[] LANGUAGE plpgsql AS $fn$
DECLARE
    x mas_event;
    lock_key bigint;
    results smallint[] := ARRAY[]::smallint[];
    tombstone bigint;
    current_id bytea;
    current_at bigint;
BEGIN
    -- Every rule relates events of one author: their locks, in ascending order.
    FOREACH lock_key IN ARRAY authors LOOP
        PERFORM pg_advisory_xact_lock(lock_key);
    END LOOP;
    FOREACH x IN ARRAY batch LOOP
        IF EXISTS (SELECT 1 FROM events WHERE id = x.id) THEN
            results := results || 1::smallint;
            CONTINUE;
        END IF;
        -- Deleting a deletion has no effect (NIP-09): a tombstone never blocks kind 5.
        IF x.kind <> 5 AND EXISTS (
            SELECT 1 FROM deleted_ids WHERE id = x.id AND pubkey = x.pubkey
        ) THEN
            results := results || 3::smallint;
            CONTINUE;
        END IF;
        IF x.d_tag IS NOT NULL THEN
            SELECT deleted_at INTO tombstone FROM deleted_addresses
                WHERE pubkey = x.pubkey AND kind = x.kind AND d_tag = x.d_tag;
            IF tombstone IS NOT NULL AND x.created_at <= tombstone THEN
                results := results || 3::smallint;
                CONTINUE;
            END IF;
            SELECT id, created_at INTO current_id, current_at FROM events
                WHERE pubkey = x.pubkey AND kind = x.kind AND d_tag = x.d_tag;
            IF FOUND THEN
                -- The newest wins, on a tie the lowest id, whatever the arrival order.
                IF current_at > x.created_at
                    OR (current_at = x.created_at AND current_id < x.id) THEN
                    results := results || 2::smallint;
                    CONTINUE;
                END IF;
                DELETE FROM events WHERE id = current_id;
            END IF;
        END IF;
        INSERT INTO events (id, pubkey, created_at, kind, d_tag, expiration, words, raw)
            VALUES (x.id, x.pubkey, x.created_at, x.kind, x.d_tag, x.expiration,
                    array_to_tsvector(x.words), x.raw);
        INSERT INTO tags (name, value, created_at, id)
            SELECT DISTINCT n, v, x.created_at, x.id FROM unnest(x.tag_names, x.tag_values)
                AS t(n, v)
            ON CONFLICT DO NOTHING;
        IF cardinality(x.deletes_ids) > 0 THEN
            DELETE FROM events
                WHERE id = ANY(x.deletes_ids) AND pubkey = x.pubkey AND kind <> 5;
            INSERT INTO deleted_ids (id, pubkey)
                SELECT t, x.pubkey FROM unnest(x.deletes_ids) AS t ON CONFLICT DO NOTHING;
        END IF;
        FOR i IN 1 .. coalesce(cardinality(x.deletes_kinds), 0) LOOP
            DELETE FROM events WHERE pubkey = x.pubkey AND kind = x.deletes_kinds[i]
                AND d_tag = x.deletes_d_tags[i] AND created_at <= x.created_at;
            INSERT INTO deleted_addresses (pubkey, kind, d_tag, deleted_at)
                VALUES (x.pubkey, x.deletes_kinds[i], x.deletes_d_tags[i], x.created_at)
                ON CONFLICT (pubkey, kind, d_tag) DO UPDATE
                SET deleted_at = greatest(deleted_addresses.deleted_at, excluded.deleted_at);
        END LOOP;
        results := results || 0::smallint;
    END LOOP;
    RETURN results;
END $fn$;
"""

# Two relays (or workers) opening one new database at once would both run CREATE TABLE
# IF NOT EXISTS and one could fail on the catalog's unique index: one lock serializes it.
SCHEMA_LOCK = 0x5348_4D55  # "SHMU"


# The page statement materializes its union (``WITH ... AS MATERIALIZED``, PostgreSQL 12).
MIN_POSTGRES = 12


def check_postgres(major: int) -> None:
    """Refuse, with the versions, a server too old for the store's statements."""
    if major < MIN_POSTGRES:
        raise StoreError(
            f"the PostgreSQL store needs PostgreSQL {MIN_POSTGRES} or later; the server is {major}"
        )


def index_key(text: str) -> bytes:
    """How a tag value or ``d`` tag is stored and looked up: its UTF-8, or past
    MAX_KEY_BYTES 0xFF and its SHA-256 (0xFF never occurs in UTF-8, so no real value
    can equal a digest)."""
    data = text.encode("utf-8", "surrogatepass")
    return data if len(data) <= MAX_KEY_BYTES else b"\xff" + hashlib.sha256(data).digest()


def lexeme(word: str) -> str:
    """How a (lower-cased) word is indexed and searched: itself, or past MAX_KEY_BYTES
    ``#`` and its SHA-256 in hex (a word is letters and digits only, never ``#``)."""
    data = word.encode("utf-8", "surrogatepass")
    return word if len(data) <= MAX_KEY_BYTES else "#" + hashlib.sha256(data).hexdigest()


def words_of(event: Event) -> list[str] | None:
    """The lexemes search matches against: the matcher's words (lower-cased runs of
    letters and digits) of :func:`searchable_text`; None for gift wraps and no words."""
    if event.kind == GIFT_WRAP:
        return None
    words = {lexeme(w.lower()) for w in _WORD.findall(searchable_text(event))}
    return sorted(words) or None
