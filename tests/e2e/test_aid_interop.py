"""Aid requests between `mas` and an independent implementation, rust-nostr (``nostr_sdk``).

A request published with `mas request new` is fetched from a real relay by nostr_sdk's
client, verified by it, and checked against NIP-99's listing tags, so marketplace apps
built on other libraries can load it. The other way round, a listing signed by
nostr_sdk (no Shield Mutual code involved) with a ``mas-`` hashtag shows up in `mas feed`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nostr_sdk
import orjson

from shieldmutual.shared import nip19

REQUEST_FILE = """\
---
title: Van repairs for the food bank run
summary: The van failed its MOT; the Saturday deliveries stop without it.
location: Bristol, UK
language: en
geohash: gcnhu
amount: 300
currency: GBP
societies: bristol-care
lightning: van@pay.example
---

## Story

The van carries food to forty households every Saturday.
"""

ISO_4217ISH = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


async def test_a_request_by_mas_is_a_verified_nip99_listing_in_rust_nostr(
    mas: Any, relays: Any, rust_nostr: Any, tmp_path: Path
) -> None:
    (relay,) = relays(1)
    assert mas("id", "new", "sam").code == 0
    request_file = tmp_path / "van.md"
    request_file.write_text(REQUEST_FILE)
    done = mas("request", "new", "--from", str(request_file), "--yes", "-r", relay.url, "--json")
    assert done.code == 0, done.stderr
    naddr = done.json_lines()[0]["naddr"]

    # rust-nostr decodes the naddr mas printed and finds the listing it points at.
    pointer = nostr_sdk.Nip19Coordinate.from_bech32(naddr)
    coordinate = pointer.coordinate()
    assert coordinate.kind().as_u16() == 30402
    assert relay.url in [str(r) for r in pointer.relays()]
    flt = (
        nostr_sdk.Filter()
        .kind(coordinate.kind())
        .author(coordinate.public_key())
        .identifier(coordinate.identifier())
    )
    (event,) = await rust_nostr.fetch(relay.url, flt)
    assert event.verify() and event.verify_id() and event.verify_signature()
    mine = nip19.naddr_decode(naddr)
    assert event.author().to_hex() == mine.pubkey

    # NIP-99: d, title, summary, published_at, location, price [number, currency], status.
    tags = orjson.loads(event.as_json())["tags"]
    named: dict[str, list[list[str]]] = {}
    for tag in tags:
        named.setdefault(tag[0], []).append(tag)
    for name in ("d", "title", "summary", "published_at", "location", "price", "status"):
        assert len(named.get(name, [])) == 1, f"NIP-99 wants one {name!r} tag: {tags}"
    assert named["d"][0][1] == mine.identifier
    assert named["title"][0][1] == "Van repairs for the food bank run"
    assert named["location"][0][1] == "Bristol, UK"
    assert abs(int(named["published_at"][0][1]) - time.time()) < 600
    price = named["price"][0]
    assert price[1:3] == ["300", "GBP"] and set(price[2]) <= ISO_4217ISH
    assert named["status"][0][1] in ("active", "sold")
    assert ["t", "mas-bristol-care"] in tags and ["g", "gcnhu"] in tags
    assert "## Story" in event.content() and "van@pay.example" in event.content()


async def test_a_listing_signed_by_rust_nostr_shows_up_in_mas_feed(
    mas: Any, relays: Any, rust_nostr: Any
) -> None:
    (relay,) = relays(1)
    keys = nostr_sdk.Keys.generate()
    tags = [
        ["d", "bike-trailer"],
        ["title", "A bike trailer for deliveries"],
        ["summary", "Borrowing one for a month would do."],
        ["published_at", str(int(time.time()))],
        ["location", "Cardiff, UK"],
        ["price", "40", "GBP"],
        ["status", "active"],
        ["t", "mas-cardiff-care"],
    ]
    listing = (
        nostr_sdk.EventBuilder(nostr_sdk.Kind(30402), "Written in another app.")
        .tags([nostr_sdk.Tag.parse(tag) for tag in tags])
        .finalize(keys)
    )
    sent = await rust_nostr.send(relay.url, listing)
    assert len(sent.success) == 1, sent.failed

    assert mas("follow", "mas-cardiff-care").code == 0
    feed = mas("feed", "--once", "--json", "-r", relay.url)
    assert feed.code == 0, feed.stderr
    (item,) = feed.json_lines()
    assert item["title"] == "A bike trailer for deliveries"
    assert item["author"] == keys.public_key().to_hex()
    assert item["id"] == listing.id().to_hex()
