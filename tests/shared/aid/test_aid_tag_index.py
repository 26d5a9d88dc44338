"""The tag index (common.IndexedTags) answers every tag helper as the plain scan does.

The parsers index an event's tags once (issue 15: the feed asked some fifteen names per
request, each a scan of every tag); the helpers must not tell an indexed list from a bare
one, including the odd tags a foreign event may carry.
"""

from __future__ import annotations

import pytest

from shieldmutual.shared.aid.common import (
    IndexedTags,
    Tags,
    first,
    first_full,
    indexed,
    labels,
    one,
    values,
)
from shieldmutual.shared.errors import AidError

ODD: Tags = [
    ["t"],
    [],
    ["t", "mutualaid"],
    ["L", "mas"],
    ["l", "offer"],
    ["l", "offer", "mas"],
    ["title", "first", "extra"],
    ["t", "mas-leeds"],
    ["title", "second"],
    ["l", "open", "mas.status"],
    ["L", "mas.status"],
    ["d"],
    ["d", ""],
]
NAMES = ["t", "l", "L", "title", "d", "missing", ""]


@pytest.mark.parametrize("name", NAMES)
def test_lookups_are_those_of_the_plain_scan(name: str) -> None:
    index = IndexedTags(ODD)
    assert values(index, name) == values(ODD, name)
    assert first(index, name) == first(ODD, name)
    assert first_full(index, name) == first_full(ODD, name)


@pytest.mark.parametrize("namespace", ["mas", "mas.status", "ISO-639-1"])
def test_labels_are_those_of_the_plain_scan(namespace: str) -> None:
    assert labels(IndexedTags(ODD), namespace) == labels(ODD, namespace)


@pytest.mark.parametrize("name", NAMES)
def test_one_answers_or_refuses_alike(name: str) -> None:
    def outcome(tags: Tags) -> str:
        try:
            return one(tags, name, "listing")
        except AidError as exc:
            return f"error: {exc}"

    assert outcome(IndexedTags(ODD)) == outcome(ODD)


def test_an_indexed_list_is_the_same_list_and_is_indexed_once() -> None:
    index = indexed(ODD)
    assert index == ODD
    assert indexed(index) is index
