"""Society slugs and tags, NIP-72 definitions and syndicates."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.society import (
    Society,
    mas_tag,
    parse_society,
    slug_from_tag,
    society_event_template,
    validate_slug,
)
from shieldmutual.shared.errors import AidError

People = Any  # the conftest's People fixture (conftest modules are not importable)

SLUG = r"[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?"


@given(st.from_regex(SLUG, fullmatch=True))
def test_valid_slugs_make_tags_and_back(slug: str) -> None:
    assert validate_slug(slug) == slug
    assert mas_tag(slug) == "mas-" + slug
    assert slug_from_tag(mas_tag(slug)) == slug


@pytest.mark.parametrize(
    "slug", ["", "Leeds", "leeds care", "-leeds", "leeds-", "l" * 49, "léeds", "a_b", None]
)
def test_invalid_slugs(slug: object) -> None:
    with pytest.raises(AidError, match="slug"):
        validate_slug(slug)


def test_slug_from_other_hashtags_is_none() -> None:
    assert slug_from_tag("mutualaid") is None
    assert slug_from_tag("mas-") is None
    assert slug_from_tag("mas-Bad") is None


def test_society_round_trip(people: People) -> None:
    society = Society(
        "leeds-care",
        "Leeds Care Network",
        "Neighbours helping neighbours.\n\nNo dues, no list.",
        language="en",
        relays=("wss://relay.leeds.example", "wss://relay2.example"),
    )
    template = society_event_template(society)
    assert template.kind == 34550
    assert ["d", "leeds-care"] in template.tags and ["t", "mas-leeds-care"] in template.tags
    assert ["relay", "wss://relay.leeds.example"] in template.tags
    assert not [t for t in template.tags if t[0] == "p"], "no people: that would be a list"
    parsed = parse_society(people.sign(people.alice, template))
    assert replace(parsed, origin=None) == society
    assert not parsed.is_syndicate and parsed.follow_tags() == ("mas-leeds-care",)


def test_syndicate_lists_members_and_expands_follows(people: People) -> None:
    members = (
        Address(34550, people.alice.public_hex, "leeds-care"),
        Address(34550, people.bob.public_hex, "york-care"),
    )
    syndicate = Society("north", "The North", members=members)
    template = society_event_template(syndicate)
    assert ["a", f"34550:{people.alice.public_hex}:leeds-care"] in template.tags
    parsed = parse_society(people.sign(people.carol, template))
    assert parsed.is_syndicate and parsed.members == members
    assert parsed.follow_tags() == ("mas-north", "mas-leeds-care", "mas-york-care")
    assert parsed.address(people.carol.public_hex) == Address(
        34550, people.carol.public_hex, "north"
    )


def test_definition_without_name_uses_d(people: People) -> None:
    event = people.sign(people.alice, (34550, "", [["d", "x"], ["t", "mas-x"]]))
    assert parse_society(event).name == "x"


@pytest.mark.parametrize(
    ("kind", "tags", "message"),
    [
        (1, [["d", "x"], ["t", "mas-x"]], "kind 34550"),
        (34550, [["t", "mas-x"]], "'d' is missing"),
        (34550, [["d", "x"]], "lacks its tag"),
        (34550, [["d", "Bad"], ["t", "mas-Bad"]], "slug"),
        (34550, [["d", "x"], ["t", "mas-x"], ["a", "nonsense"]], "coordinate"),
        (34550, [["d", "x"], ["t", "mas-x"], ["relay", "https://x"]], "ws://"),
    ],
)
def test_invalid_definitions(people: People, kind: int, tags: list, message: str) -> None:
    with pytest.raises(AidError, match=message):
        parse_society(people.sign(people.alice, (kind, "", tags)))


def test_syndicate_members_must_be_societies(people: People) -> None:
    with pytest.raises(AidError, match="not a society"):
        Society("north", "North", members=(Address(30023, people.alice.public_hex, "x"),))
