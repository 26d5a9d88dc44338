"""NIP-01 filters compiled to PostgreSQL statements with numbered parameters.

Each filter becomes one ``SELECT created_at, id`` ("a part") over ``events``, ordered
newest first (ties by lowest id) and limited, which the ``(..., created_at DESC, id)``
indexes serve directly. Lists are bound as one array parameter each (``= ANY($n)``), so
unlike SQLite no filter is ever too big for one statement and none is split.

Who may see what is part of the WHERE clause, so it applies before ``LIMIT`` and
before counting: the gift-wrap rule is :func:`~shieldmutual.relay.access.for_viewer`'s
(shared by both stores), and a wrap it still has to check per row is a row only when one of its
``p`` tags names a viewer key. Results are read a page at a time with keyset
pagination after a ``(created_at, id)`` cursor; a page of several filters glues their
parts with ``UNION ALL`` and tags each row with the filters that returned it, as in
:mod:`.sqlite_query`, so the store's paging logic is the same for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shieldmutual.relay.access import Visible
from shieldmutual.relay.store.postgres_schema import index_key, lexeme
from shieldmutual.shared.filter import search_terms
from shieldmutual.shared.kinds import GIFT_WRAP


@dataclass(slots=True)
class Params:
    """The values bound to one statement; :meth:`add` returns the placeholder."""

    values: list[object] = field(default_factory=list)

    def add(self, value: object, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


def _hex(values: frozenset[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in sorted(values)]


def _keys(values: frozenset[str]) -> list[bytes]:
    return sorted(index_key(v) for v in values)


def tsquery(search: str) -> str | None:
    """A NIP-50 search as a tsquery of quoted lexemes, all required; None when it has no
    words. Lexemes are letters and digits (or ``#`` and hex digits), so quoting never
    meets a quote or a backslash and no input is ever read as tsquery syntax."""
    terms = sorted({lexeme(term) for term in search_terms(search)})
    if not terms:
        return None
    return " & ".join(f"'{term}'" for term in terms)


def _among(column: str, values: list[Any], cast: str, p: Params) -> str:
    """``column`` is one of ``values``. One value is compared with ``=``: PostgreSQL 15
    walks an index in order only for that, not for ``= ANY`` (it sorts instead), and
    one author's or one kind's newest events are the most common REQ."""
    if len(values) == 1:
        return f"{column} = {p.add(values[0], cast)}"
    return f"{column} = ANY({p.add(values, cast + '[]')})"


def _tag_probe(alias: str, letter: str, values: frozenset[str], p: Params) -> str:
    return (
        f"EXISTS (SELECT 1 FROM tags AS {alias} WHERE {alias}.id = e.id"
        f" AND {alias}.name = {p.add(letter, 'text')}"
        f" AND {_among(alias + '.value', _keys(values), 'bytea', p)}"
        f" AND {alias}.created_at = e.created_at)"
    )


def where(v: Visible, now: int, p: Params, before: tuple[int, bytes] | None = None) -> list[str]:
    """The conditions of one non-empty filter as ``v``'s viewer may run it."""
    f = v.filter
    out: list[str] = []
    if f.ids is not None:
        out.append(_among("e.id", _hex(f.ids), "bytea", p))
    if f.authors is not None:
        out.append(_among("e.pubkey", _hex(f.authors), "bytea", p))
    if f.kinds is not None:
        out.append(_among("e.kind", sorted(f.kinds), "int", p))
    if f.since is not None:
        out.append(f"e.created_at >= {p.add(f.since, 'bigint')}")
    if f.until is not None:
        out.append(f"e.created_at <= {p.add(f.until, 'bigint')}")
    if before is not None:
        # The range alone walks the index; the OR only settles the ties at its edge.
        at = p.add(before[0], "bigint")
        out.append(
            f"e.created_at <= {at} AND (e.created_at < {at} OR e.id > {p.add(before[1], 'bytea')})"
        )
    for n, (letter, values) in enumerate(sorted(f.tags.items())):
        out.append(_tag_probe(f"t{n}", letter, values, p))
    if f.search is not None:
        query = tsquery(f.search)
        if query is not None:
            out.append(f"e.words @@ {p.add(query, 'tsquery')}")
    if v.viewer is not None:
        if v.viewer:
            wrap = _tag_probe("w", "p", v.viewer, p)
            out.append(f"(e.kind <> {GIFT_WRAP} OR {wrap})")
        else:
            out.append(f"e.kind <> {GIFT_WRAP}")
    # NIP-40: an event is expired from its expiration timestamp on.
    out.append(f"(e.expiration IS NULL OR e.expiration > {p.add(now, 'bigint')})")
    return out


def part(
    v: Visible,
    now: int,
    p: Params,
    limit: int | None,
    before: tuple[int, bytes] | None = None,
    ordered: bool = True,
) -> str:
    """``SELECT e.created_at, e.id`` of one filter, newest first and limited when asked."""
    sql = "SELECT e.created_at, e.id FROM events AS e WHERE " + " AND ".join(
        where(v, now, p, before)
    )
    if ordered:
        sql += " ORDER BY e.created_at DESC, e.id"
    if limit is not None:
        sql += f" LIMIT {p.add(limit, 'bigint')}"
    return sql


def page_sql(
    parts: Sequence[tuple[int, Visible, int]],
    now: int,
    before: tuple[int, bytes] | None,
    size: int,
) -> tuple[str, list[object]]:
    """``created_at, id, raw, tags`` of the newest ``size`` distinct rows of the
    filters ``(tag, plan, limit)``, newest first, ``tags`` the filters that returned
    each row (an int array); of several filters, then for each one that returned rows
    a marker row ``oldest created_at, NULL, NULL, [tag, row count]``, which tells
    :func:`.paging.pages` whether the filter has more."""
    p = Params()
    if len(parts) == 1:
        tag, v, limit = parts[0]
        inner = part(v, now, p, min(limit, size), before)
        sql = (
            f"SELECT e.created_at, e.id, e.raw, ARRAY[{tag}] FROM ({inner}) AS u"
            " JOIN events AS e ON e.id = u.id ORDER BY e.created_at DESC, e.id"
        )
        return sql, p.values
    union = " UNION ALL ".join(
        f"(SELECT created_at, id, {tag} AS f FROM ({part(v, now, p, min(limit, size), before)})"
        f" AS p{tag})"
        for tag, v, limit in parts
    )
    sql = (
        f"WITH a AS MATERIALIZED ({union}),"
        " u AS (SELECT created_at, id, array_agg(f) AS fs FROM a"
        f" GROUP BY created_at, id ORDER BY created_at DESC, id LIMIT {p.add(size, 'bigint')})"
        " SELECT u.created_at, u.id, e.raw, u.fs FROM u JOIN events AS e ON e.id = u.id"
        " UNION ALL SELECT min(created_at), NULL, NULL, ARRAY[f, count(*)::int] FROM a"
        " GROUP BY f ORDER BY created_at DESC, id"
    )
    return sql, p.values


def count_sql(
    pieces: Sequence[tuple[Visible, int, bool]], now: int, cap: int
) -> tuple[str, list[object]]:
    """How many distinct rows the filters ``(plan, limit, by_limit)`` return, counting
    no further than ``cap``; a filter whose own limit bounds it (``by_limit``) counts
    its newest ``limit`` rows, the others any ``limit`` (only the cap is at stake)."""
    p = Params()
    union = " UNION ALL ".join(
        f"(SELECT id FROM ({part(v, now, p, limit, ordered=by_limit)}) AS p{n})"
        for n, (v, limit, by_limit) in enumerate(pieces)
    )
    cut = p.add(cap, "bigint")
    sql = f"SELECT count(*) FROM (SELECT DISTINCT id FROM ({union}) AS u LIMIT {cut}) AS c"
    return sql, p.values


def items_sql(
    pieces: Sequence[tuple[Visible, int | None]], now: int, cap: int
) -> tuple[str, list[object]]:
    """``created_at, id`` of the union (each filter its own newest ``limit`` when it has
    one), oldest first, at most ``cap`` + 1 rows so the caller can tell it overflowed. A
    filter without a limit reads any ``cap`` + 1 of its rows, no more: that many already
    overflow, so a huge set is refused without being read whole."""
    p = Params()
    union = " UNION ".join(
        "(SELECT created_at, id FROM"
        f" ({part(v, now, p, cap + 1 if limit is None else limit, ordered=limit is not None)})"
        f" AS p{n})"
        for n, (v, limit) in enumerate(pieces)
    )
    cut = p.add(cap + 1, "bigint")
    sql = f"SELECT created_at, id FROM ({union}) AS u ORDER BY created_at, id LIMIT {cut}"
    return sql, p.values
