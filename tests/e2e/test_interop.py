"""Interoperability with an independent implementation, rust-nostr (``nostr_sdk``).

Events `mas` publishes are fetched from our relay by nostr_sdk's client and verified by
it; events nostr_sdk signs and publishes are read, verified and re-published by `mas`.
"""

from __future__ import annotations

from typing import Any

import nostr_sdk
import orjson

from shieldmutual.shared.event import Event


async def test_nostr_sdk_reads_and_verifies_what_mas_publishes(
    mas: Any, relays: Any, rust_nostr: Any
) -> None:
    (relay,) = relays(1)
    assert mas("id", "new", "alice").code == 0
    content = 'aid: "rent" \\ café 🙏\nline two\ttab'
    published = mas(
        "event", "-r", relay.url, "-k", "1", "-c", content, "-t", "t=mas-interop",
        "-t", "summary=one;two", "--json",
    )  # fmt: skip
    assert published.code == 0, published.stderr
    event_id = published.json_lines()[0]["id"]

    theirs = await rust_nostr.fetch(relay.url, nostr_sdk.Filter().hashtag("mas-interop"))
    assert len(theirs) == 1
    event = theirs[0]
    assert event.verify() and event.verify_id() and event.verify_signature()
    assert event.id().to_hex() == event_id
    assert event.content() == content
    tags = orjson.loads(event.as_json())["tags"]
    assert tags == [["t", "mas-interop"], ["summary", "one", "two"]]


async def test_mas_reads_verifies_and_republishes_what_nostr_sdk_signs(
    mas: Any, relays: Any, rust_nostr: Any
) -> None:
    source, target = relays(2)
    keys = nostr_sdk.Keys.generate()
    theirs = (
        nostr_sdk.EventBuilder(nostr_sdk.Kind(1), "signed by rust-nostr ✓")
        .tags([nostr_sdk.Tag.hashtag("mas-interop")])
        .finalize(keys)
    )
    output = await rust_nostr.send(source.url, theirs)
    assert len(output.success) == 1, output.failed

    read = mas("req", "-r", source.url, "-t", "mas-interop")
    assert read.code == 0, read.stderr
    assert len(read.lines) == 1
    ours = Event.from_json(read.lines[0])
    assert ours.id == theirs.id().to_hex()
    assert ours.pubkey == keys.public_key().to_hex()

    verified = mas("verify", input=read.stdout)
    assert verified.code == 0 and verified.lines == read.lines

    republished = mas("event", "-r", target.url, "--json", input=theirs.as_json())
    assert republished.code == 0, republished.stderr
    assert republished.json_lines()[0]["id"] == ours.id  # passed on unchanged
    copy = await rust_nostr.fetch(target.url, nostr_sdk.Filter().id(theirs.id()))
    assert [e.id().to_hex() for e in copy] == [ours.id]
