"""Kind 0 profiles: strict when we write, tolerant when we read a stranger's, merged on edit."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from shieldmutual.shared import kinds
from shieldmutual.shared.errors import AidError, InvalidError
from shieldmutual.shared.event import sign
from shieldmutual.shared.profile import (
    check_lud16,
    check_picture,
    latest_profiles,
    merge,
    parse_profile,
    profile_template,
)


def _kind0(key: Any, content: str, at: int = 1_700_000_000) -> Any:
    return sign(key, kinds.METADATA, content, created_at=at)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sam@getalby.com", "sam@getalby.com"),
        ("Sam.T+aid@Walletofsatoshi.com", "sam.t+aid@walletofsatoshi.com"),  # LUD-16: lowercase
        ("x_y-z@pay.example.co.uk", "x_y-z@pay.example.co.uk"),
    ],
)
def test_lud16_accepts_lightning_addresses(given: str, expected: str) -> None:
    assert check_lud16(given) == expected


@pytest.mark.parametrize(
    "bad",
    ["sam", "sam@", "@getalby.com", "sam@localhost", "sam@getalby..com", "sa m@getalby.com",
     "lnurl1dp68gurn8ghj7", "sam@getalby.com\n", "sam@-bad.com", "a@b.c", "sam@x.com@y.com"],
)  # fmt: skip
def test_lud16_refuses_what_is_not_a_lightning_address(bad: str) -> None:
    with pytest.raises(InvalidError):
        check_lud16(bad)


def test_picture_must_be_an_http_url() -> None:
    assert check_picture("https://example.org/me.png") == "https://example.org/me.png"
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "data:image/png;base64,AA",
                "https://", "example.org/me.png", "https://exa mple.org/x"):  # fmt: skip
        with pytest.raises(InvalidError):
            check_picture(bad)


def test_merge_keeps_fields_it_does_not_set_and_removes_on_empty() -> None:
    current = {"name": "Sam", "nip05": "sam@example.org", "banner": "https://x.org/b.png"}
    merged = merge(current, {"name": None, "about": "I fix bikes", "lud16": "Sam@Getalby.com"})
    assert merged == {**current, "about": "I fix bikes", "lud16": "sam@getalby.com"}
    assert "name" not in merge(current, {"name": ""})
    for changes in ({"lud16": "nope"}, {"name": "x" * 65}, {"name": "two\nlines"}, {"npub": "x"}):
        with pytest.raises(InvalidError):
            merge(current, changes)


def test_template_round_trips_through_the_parser(keys: SimpleNamespace) -> None:
    fields = merge({}, {"name": "Sam", "about": "Bikes.\nAnd bread.", "lud16": "sam@getalby.com",
                        "picture": "https://example.org/sam.png"})  # fmt: skip
    event = sign(keys.alice, *profile_template(fields))
    assert event.kind == kinds.METADATA and event.tags == []
    profile = parse_profile(event)
    assert (profile.name, profile.about, profile.lud16, profile.picture) == (
        "Sam", "Bikes.\nAnd bread.", "sam@getalby.com", "https://example.org/sam.png",
    )  # fmt: skip
    assert profile.pubkey == keys.alice.public_hex


def test_a_strangers_profile_is_read_tolerantly(keys: SimpleNamespace) -> None:
    odd = {
        "name": 42,
        "display_name": "  Rosa  ",
        "lud16": "not an address",
        "picture": "javascript:x",
        "about": ["list"],
        "website": "https://r.example",
    }
    profile = parse_profile(_kind0(keys.bob, json.dumps(odd)))
    assert profile.name == "Rosa"  # display_name when name is unusable
    assert (profile.lud16, profile.picture, profile.about) == (None, None, None)
    assert profile.fields["website"] == "https://r.example"  # kept for a merge
    for content in ("not json", "[1, 2]", json.dumps({"name": "x" * 70_000})):
        with pytest.raises(AidError):
            parse_profile(_kind0(keys.bob, content))
    with pytest.raises(AidError):
        parse_profile(sign(keys.bob, kinds.TEXT_NOTE, "{}"))


def test_latest_profiles_keeps_the_newest_readable_one_per_author(keys: SimpleNamespace) -> None:
    old = _kind0(keys.alice, json.dumps({"name": "old"}), at=10)
    new = _kind0(keys.alice, json.dumps({"name": "new"}), at=20)
    broken = _kind0(keys.alice, "garbage", at=30)  # unreadable: the readable newest stands
    bob = _kind0(keys.bob, json.dumps({"name": "bob"}), at=5)
    note = sign(keys.carol, kinds.TEXT_NOTE, "hi")
    found = latest_profiles([old, broken, new, bob, note])
    assert {k: p.name for k, p in found.items()} == {
        keys.alice.public_hex: "new",
        keys.bob.public_hex: "bob",
    }
