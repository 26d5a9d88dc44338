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
way round for selective tags such as ``#e`` and ``#p``.

Who may see what is part of the WHERE clause, so it applies before ``LIMIT``: a gift
wrap (kind 1059) is a row only for a reader one of whose keys is in its ``p`` tags
(:func:`~shieldmutual.relay.access.for_viewer`). Results are read a page at a time with
keyset pagination: a part can start after a ``(created_at, id)`` cursor. A page glues
the parts with ``UNION ALL``, tags each row with the filters that returned it (so every
filter's own limit can be counted down across pages), keeps the newest ``page``
distinct rows and reads the raw JSON only for those.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shieldmutual.relay.access import Visible
from shieldmutual.shared.filter import Filter, search_terms
from shieldmutual.shared.kinds import GIFT_WRAP

# SQLITE_MAX_VARIABLE_NUMBER of every build since 3.32; bigger filters are split.
MAX_VARIABLES = 32766
# Variables a part may use: one is left for the statement's page size or count cap.
_BUDGET = MAX_VARIABLES - 1
# Parts per statement, well under SQLITE_MAX_COMPOUND_SELECT (500).
MAX_PARTS = 200


@dataclass(frozen=True, slots=True)
class Part:
    """One filter's SELECT of ``created_at, id, rid`` and its bound values; ``tag``
    numbers the filter it comes from (a split filter's parts share it)."""

    sql: str
    params: list[object]
    tag: int = 0
    # The same statement reading ``raw`` instead of ``rid`` when it walks one index range
    # in time order (see :func:`page_sql`); None otherwise.
    raw_sql: str | None = None


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


def select(
    v: Visible,
    now: int,
    limit: int | None,
    before: tuple[int, bytes] | None = None,
    tag: int = 0,
) -> Part:
    """The part for one non-empty filter; unordered and unlimited when ``limit`` is
    None; only rows after ``before`` (newest first, ties lowest id) when given."""
    f = v.filter
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
        ordered = len(values) == 1
    elif f.ids is None and search is not None:
        source = "search_text CROSS JOIN events AS e ON e.rid = search_text.rowid"
        when = "e.created_at"
        params.append(search)
        where.append("search_text MATCH ?")
        search = None
        ordered = False
    else:
        source = f"events AS e INDEXED BY {_events_index(f)}"
        when = "e.created_at"
        # An ids filter's sort sees every row it names: in order only if all are kept.
        ordered = _one(f.authors) and _one(f.kinds) if f.ids is None else len(f.ids) <= (limit or 0)
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
    if before is not None:
        # The range alone walks the index; the OR only settles the ties at its edge.
        where.append(f"{when} <= ? AND ({when} < ? OR e.id > ?)")
        params += [before[0], before[0], before[1]]
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
    if v.viewer is not None:
        where.append(_wrap_rule(v.viewer, params))
    # NIP-40: an event is expired from its expiration timestamp on.
    where.append("(e.expiration IS NULL OR e.expiration > ?)")
    params.append(now)
    head = f"SELECT {distinct}{when} AS created_at, e.id, "
    body = f" FROM {source} WHERE " + " AND ".join(where)
    if limit is None:
        return Part(head + "e.rid" + body, params, tag)
    body += f" ORDER BY {when} DESC, e.id LIMIT ?"
    params.append(limit)
    raw_sql = head + "e.raw" + body if ordered else None
    return Part(head + "e.rid" + body, params, tag, raw_sql)


def _one(values: Collection[object] | None) -> bool:
    """A list the index walks in time order: absent or a single value (with more, its
    ranges are merged by a sort that sees every matching row)."""
    return values is None or len(values) == 1


def _wrap_rule(viewer: frozenset[str], params: list[object]) -> str:
    """A gift wrap is a row only when a ``p`` tag names one of the viewer's keys."""
    if not viewer:
        return f"e.kind != {GIFT_WRAP}"
    probe = (
        "EXISTS (SELECT 1 FROM tags AS w WHERE w.name = 'p' AND "
        + _in("w.value", sorted(viewer), params)
        + " AND w.created_at = e.created_at AND w.rid = e.rid)"
    )
    return f"(e.kind != {GIFT_WRAP} OR {probe})"


def _halves(v: Visible) -> list[Visible]:
    """Split the filter's longest list in two; the union of the halves is the filter."""
    f = v.filter
    # Any: the values go back into the field they came from (ids, authors, kinds or a tag).
    lists: dict[str, Collection[Any]] = {
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
        fs = [dataclasses.replace(f, tags={**f.tags, name[1:]: half}) for half in halves]
    else:
        fs = [dataclasses.replace(f, **_field(name, half)) for half in halves]
    return [Visible(half, v.viewer) for half in fs]


def _field(name: str, values: frozenset[Any]) -> dict[str, Any]:
    """``{name: values}`` for ``dataclasses.replace``, whose field is chosen at run time."""
    return {name: values}


def compile_filter(
    v: Visible,
    now: int,
    limit: int | None,
    before: tuple[int, bytes] | None = None,
    tag: int = 0,
) -> list[Part]:
    """Parts whose union is the filter: one, unless its lists exceed ``MAX_VARIABLES``,
    in which case each part keeps the whole ``limit`` and the caller cuts the merge."""
    part = select(v, now, limit, before, tag)
    if len(part.params) <= _BUDGET:
        return [part]
    return [p for half in _halves(v) for p in compile_filter(half, now, limit, before, tag)]


def batches(parts: Sequence[Part]) -> Iterator[list[Part]]:
    """Group parts into statements within SQLite's variable and compound limits."""
    batch: list[Part] = []
    used = 0
    for part in parts:
        if batch and (used + len(part.params) > _BUDGET or len(batch) == MAX_PARTS):
            yield batch
            batch, used = [], 0
        batch.append(part)
        used += len(part.params)
    if batch:
        yield batch


def page_sql(part: Part) -> tuple[str, list[object]]:
    """``created_at, id, raw`` of one part's rows, newest first: the usual REQ, whose
    page is exactly what its one part returns (its limit is at most the page). A part
    in time order reads ``raw`` as it goes (issue 15: ~20% less SQLite time on the
    bench's four shapes); any other is cut to its limit before any ``raw`` is read, as
    its sort may see every matching row."""
    if part.raw_sql is not None:
        return part.raw_sql, part.params
    sql = f"SELECT created_at, id, raw FROM events WHERE rid IN (SELECT rid FROM ({part.sql}))"
    return f"{sql} ORDER BY created_at DESC, id", part.params


def union_page_sql(parts: Sequence[Part], size: int) -> tuple[str, list[object]]:
    """``created_at, id, raw, tags`` of the newest ``size`` distinct rows of the parts,
    ``tags`` listing (comma-separated) the tags of the parts that returned the row; then,
    for each part that returned rows, a marker row ``oldest created_at, row count, NULL,
    part number`` (its place in ``parts``), which tells :func:`.paging.pages` whether the
    part has more. Unsorted: the caller merges and sorts the page, cheaper than sorting
    raw JSON."""
    union = " UNION ALL ".join(
        f"SELECT created_at, id, rid, {part.tag} AS f, {number} AS n FROM ({part.sql})"
        for number, part in enumerate(parts)
    )
    sql = (
        f"WITH a AS MATERIALIZED ({union}),"
        " u AS (SELECT created_at, id, rid, group_concat(f) AS fs FROM a"
        " GROUP BY rid ORDER BY created_at DESC, id LIMIT ?)"
        " SELECT u.created_at, u.id, e.raw, u.fs FROM u CROSS JOIN events AS e ON e.rid = u.rid"
        " UNION ALL SELECT min(created_at), count(*), NULL, n FROM a GROUP BY n"
    )
    return sql, [value for part in parts for value in part.params] + [size]


def _union(parts: Sequence[Part]) -> tuple[str, list[object]]:
    sql = " UNION ALL ".join(f"SELECT rid FROM ({part.sql})" for part in parts)
    return sql, [value for part in parts for value in part.params]


def count_sql(parts: Sequence[Part], cap: int) -> tuple[str, list[object]]:
    """How many distinct rows the parts return, counting no further than ``cap``."""
    union, params = _union(parts)
    return f"SELECT count(*) FROM (SELECT DISTINCT rid FROM ({union}) LIMIT ?)", [*params, cap]


def rids_sql(parts: Sequence[Part]) -> tuple[str, list[object]]:
    union, params = _union(parts)
    return f"SELECT DISTINCT rid FROM ({union})", params


def rows_sql(part: Part) -> tuple[str, list[object]]:
    """``created_at, id, rid`` of one part, for merging the parts of a split filter."""
    return f"SELECT created_at, id, rid FROM ({part.sql})", part.params
