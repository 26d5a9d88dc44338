"""Pure helpers behind the commands: tags, filters from flags, stdin JSON values."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from shieldmutual.client.cli.event import parse_tag
from shieldmutual.client.cli.stdinjson import aiter_thread, read_json_values
from shieldmutual.client.flagfilter import build_filter
from shieldmutual.shared import nip19
from shieldmutual.shared.errors import FilterError, InvalidError

PK = "ab" * 32
EID = "cd" * 32


def test_parse_tag() -> None:
    assert parse_tag("t=food") == ["t", "food"]
    assert parse_tag("e=id;wss://r;root") == ["e", "id", "wss://r", "root"]
    assert parse_tag("t=") == ["t", ""]
    assert parse_tag("x=a=b") == ["x", "a=b"]
    assert parse_tag("flag") == ["flag"]
    with pytest.raises(InvalidError):
        parse_tag("=v")


def test_build_filter() -> None:
    flt = build_filter(
        kinds=[1, 1, 30402],
        authors=[nip19.npub_encode(PK)],
        ids=[EID],
        tags=["food", "t=rent", "e=" + nip19.note_encode(EID), "p=" + nip19.npub_encode(PK)],
        since="1h",
        until="now",
        limit=5,
        search="bail fund",
        now=10_000,
    )
    assert flt.to_dict() == {
        "ids": [EID],
        "authors": [PK],
        "kinds": [1, 30402],
        "#e": [EID],
        "#p": [PK],
        "#t": ["food", "rent"],
        "since": 6400,
        "until": 10_000,
        "limit": 5,
        "search": "bail fund",
    }
    assert build_filter().to_dict() == {}
    with pytest.raises(InvalidError):
        build_filter(tags=["tt=x"])
    with pytest.raises(FilterError):
        build_filter(limit=-1)


def test_read_json_values_lines_and_pretty_printed() -> None:
    text = '{"a": 1}\n\n[1,\n 2]\n"s"\n{\n "b":\n  2\n}\n'
    assert list(read_json_values(io.StringIO(text))) == [
        (1, {"a": 1}),
        (3, [1, 2]),
        (5, "s"),
        (6, {"b": 2}),
    ]
    with pytest.raises(InvalidError, match="line 2"):
        list(read_json_values(io.StringIO('{"a": 1}\n{"b": \n')))


async def test_aiter_thread_delivers_in_order_and_raises() -> None:
    assert [x async for x in aiter_thread(iter(range(3000)))] == list(range(3000))

    def failing() -> Iterator[int]:
        yield 1
        raise InvalidError("boom")

    with pytest.raises(InvalidError, match="boom"):
        [x async for x in aiter_thread(failing())]
