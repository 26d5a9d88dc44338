"""Which SQLite library and PostgreSQL server the stores can run on (their page
statement materializes a CTE), refused at open with both versions named."""

from __future__ import annotations

import sqlite3

import pytest

from shieldmutual.relay.store.postgres_schema import MIN_POSTGRES, check_postgres
from shieldmutual.relay.store.sqlite_file import MIN_SQLITE, check_sqlite
from shieldmutual.shared.errors import StoreError


def test_an_sqlite_without_materialized_ctes_is_refused_with_both_versions() -> None:
    refused = r"needs SQLite 3\.35\.0 or later; this Python has 3\.34\.1"
    with pytest.raises(StoreError, match=refused):
        check_sqlite((3, 34, 1))


def test_the_minimum_and_this_pythons_sqlite_are_accepted() -> None:
    check_sqlite(MIN_SQLITE)
    check_sqlite(sqlite3.sqlite_version_info)


def test_a_postgresql_before_12_is_refused_and_12_accepted() -> None:
    with pytest.raises(StoreError, match="needs PostgreSQL 12 or later; the server is 11"):
        check_postgres(11)
    check_postgres(MIN_POSTGRES)
