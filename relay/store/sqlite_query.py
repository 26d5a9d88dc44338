"""NIP-01 filters compiled to parameterized SQL, each shaped for the index that serves it.

Every filter becomes one ``SELECT created_at, id, rid`` ("a part") that walks a single
index in time order and stops at its own ``LIMIT``:

* ``ids``                 -> ``events_id`` (at most one row per id)
* a tag (``#x``)          -> the ``tags`` table (its primary key is name, value, time),
  joined to the event; further tag letters are primary-key probes (``EXISTS``)
* ``search`` (no tags)    -> the full-text table, joined to the event
* ``authors`` + ``kinds`` -> ``events_pubkey_kind``; ``authors`` -> ``events_pubkey``;
  ``kinds`` -> ``events_kind``; nothing -> ``events_created``

The order is pinned (``CROSS JOIN``, ``INDEXED BY``) rather than left to the planner,
which without statistics likes to scan by time and test the tag afterwards, the slow
way round for selective tags such as ``#e`` and ``#p``. Parts are glued with
``UNION ALL`` under one ``rid IN (...)``, which removes duplicates, and the raw JSON
is read only for the rows that survive every limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from shieldmutual.shared.filter import Filter, search_terms

# SQLITE_MAX_VARIABLE_NUMBER of every build since 3.32; bigger filters are split.
MAX_VARIABLES = 32766
# Parts per statement, well under SQLITE_MAX_COMPOUND_SELECT (500).
MAX_PARTS = 200


@dataclass(frozen=True, slots=True)
class Part:
    """One filter's SELECT of ``created_at, id, rid`` and its bound values."""

    sql: str
    params: list[object]


def fts_query(search: str) -> str | None:
    """The FTS5 query for a NIP-50 search: every word as a quoted string, implicitly
    ANDed, so no user input is ever read as FTS5 syntax. ``None`` when no words."""
    terms = search_terms(search)
    if not terms:
        return None
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _in(column: str, values: Collection[object], params: list[object]) -> str:
    params.extend(values)
    return f"{column} IN ({','.join('?' * len(values))})"


def _events_index(f: Filter) -> str:
    if f.ids is not None:
        return "events_id"
    if f.authors is not None:
        return "events_pubkey_kind" if f.kinds is not None else "events_pubkey"
    return "events_kind" if f.kinds is not None else "events_created"


def select(f: Filter, now: int, limit: int | None) -> Part:
    """The part for one non-empty filter; unordered and unlimited when ``limit`` is None."""
    where: list[str] = []
    params: list[object] = []
    tags = sorted(f.tags.items(), key=lambda item: (len(item[1]), item[0]))
    search = None if f.search is None else fts_query(f.search)
    distinct = ""
    if f.ids is None and tags:
        (letter, values), tags = tags[0], tags[1:]
        source = "tags AS t CROSS JOIN events AS e ON e.rid = t.rid"
        when = "t.created_at"
        params.append(letter)
        where += ["t.name = ?", _in("t.value", values, params)]
        # One event can carry several of the values; one value names an event once.
        distinct = "DISTINCT " if len(values) > 1 and limit is not None else ""
    elif f.ids is None and search is not None:
        source = "search_text CROSS JOIN events AS e ON e.rid = search_text.rowid"
        when = "e.created_at"
        params.append(search)
        where.append("search_text MATCH ?")
        search = None
    else:
        source = f"events AS e INDEXED BY {_events_index(f)}"
        when = "e.created_at"
    if f.ids is not None:
        where.append(_in("e.id", [bytes.fromhex(i) for i in f.ids], params))
    if f.authors is not None:
        where.append(_in("e.pubkey", [bytes.fromhex(a) for a in f.authors], params))
    if f.kinds is not None:
        where.append(_in("e.kind", f.kinds, params))
    if f.since is not None:
        where.append(f"{when} >= ?")
        params.append(f.since)
    if f.until is not None:
        where.append(f"{when} <= ?")
        params.append(f.until)
    for letter, values in tags:
        params.append(letter)
        where.append(
            "EXISTS (SELECT 1 FROM tags AS x WHERE x.name = ? AND "
            + _in("x.value", values, params)
            + " AND x.created_at = e.created_at AND x.rid = e.rid)"
        )
    if search is not None:
        where.append("e.rid IN (SELECT rowid FROM search_text WHERE search_text MATCH ?)")
        params.append(search)
    # NIP-40: an event is expired from its expiration timestamp on.
    where.append("(e.expiration IS NULL OR e.expiration > ?)")
    params.append(now)
    sql = f"SELECT {distinct}{when} AS created_at, e.id, e.rid FROM {source} WHERE "
    sql += " AND ".join(where)
    if limit is not None:
        sql += f" ORDER BY {when} DESC, e.id LIMIT ?"
        params.append(limit)
    return Part(sql, params)


def _halves(f: Filter) -> list[Filter]:
    """Split the filter's longest list in two; the union of the halves is the filter."""
    lists: dict[str, Collection[object]] = {
        name: values
        for name, values in (("ids", f.ids), ("authors", f.authors), ("kinds", f.kinds))
        if values is not None
    }
    lists.update({"#" + letter: values for letter, values in f.tags.items()})
    name = max(lists, key=lambda key: len(lists[key]))
    values = list(lists[name])
    middle = len(values) // 2
    halves = (frozenset(values[:middle]), frozenset(values[middle:]))
    if name.startswith("#"):
        return [dataclasses.replace(f, tags={**f.tags, name[1:]: half}) for half in halves]
    return [dataclasses.replace(f, **{name: half}) for half in halves]


def compile_filter(f: Filter, now: int, limit: int | None) -> list[Part]:
    """Parts whose union is the filter: one, unless its lists exceed ``MAX_VARIABLES``,
    in which case each part keeps the whole ``limit`` and the caller cuts the merge."""
    part = select(f, now, limit)
    if len(part.params) <= MAX_VARIABLES:
        return [part]
    return [p for half in _halves(f) for p in compile_filter(half, now, limit)]


def batches(parts: Sequence[Part]) -> Iterator[list[Part]]:
    """Group parts into statements within SQLite's variable and compound limits."""
    batch: list[Part] = []
    used = 0
    for part in parts:
        if batch and (used + len(part.params) > MAX_VARIABLES or len(batch) == MAX_PARTS):
            yield batch
            batch, used = [], 0
        batch.append(part)
        used += len(part.params)
    if batch:
        yield batch


def _union(parts: Sequence[Part]) -> tuple[str, list[object]]:
    sql = " UNION ALL ".join(f"SELECT rid FROM ({part.sql})" for part in parts)
    return sql, [value for part in parts for value in part.params]


def rows_sql(parts: Sequence[Part]) -> tuple[str, list[object]]:
    """``created_at, id, raw`` of the union of ``parts``, newest first, ties lowest id."""
    union, params = _union(parts)
    sql = (
        f"SELECT created_at, id, raw FROM events WHERE rid IN ({union})"
        " ORDER BY created_at DESC, id"
    )
    return sql, params


def count_sql(parts: Sequence[Part]) -> tuple[str, list[object]]:
    union, params = _union(parts)
    return f"SELECT count(DISTINCT rid) FROM ({union})", params


def rids_sql(parts: Sequence[Part]) -> tuple[str, list[object]]:
    union, params = _union(parts)
    return f"SELECT DISTINCT rid FROM ({union})", params
