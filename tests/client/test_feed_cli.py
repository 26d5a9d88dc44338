"""`mas feed --once` against two real relays: followed tags, syndications, announcements,
a listing signed by rust-nostr, filters, de-duplication and the local "seen" state."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import nostr_sdk
import pytest

from shieldmutual.shared.aid.comments import RequestRef
from shieldmutual.shared.aid.helping import Payment
from shieldmutual.shared.aid.notes import (
    Announcement,
    Syndication,
    announcement_template,
    syndication_template,
)
from shieldmutual.shared.aid.request import AidRequest, Status, request_event_template
from shieldmutual.shared.event import sign

NOW = int(time.time())


def aid_request(title: str, society: str, **changes: Any) -> AidRequest:
    base = AidRequest(
        title=title,
        summary=f"{title}: the summary.",
        story=f"The story of {title}.",
        location="Leeds, UK",
        language="en",
        societies=(society,),
        payments=(Payment("lightning", "someone@pay.example"),),
        identifier=title.lower().replace(" ", "-"),
        published_at=NOW - 1000,
    )
    return replace(base, **changes)


async def send_with_nostr_sdk(url: str, event: nostr_sdk.Event) -> None:
    client = nostr_sdk.Client()
    await client.add_relay(nostr_sdk.RelayUrl.parse(url))
    await client.connect(timedelta(seconds=10))
    try:
        output = await client.send_event(event)
        assert len(output.success) == 1, output.failed
    finally:
        await client.shutdown()


@pytest.fixture
def world(relay_process: Any, person: Any, push: Any, keys: Any) -> Any:
    """Two relays holding requests that reach mas-north in every way a request can."""
    r1, r2 = relay_process(), relay_process()
    sam, carol = keys.alice, keys.carol
    direct = aid_request("Direct", "north", language="fr", status=Status.CLOSED)
    relayed = aid_request("Relayed", "leeds-care", geohash="gcwcv", amount=Decimal(400),
                          currency="GBP")  # fmt: skip
    fetched = aid_request("Fetched", "york")
    announced = aid_request("Announced", "hull")
    events = {
        "direct": sign(sam, *request_event_template(direct), created_at=NOW - 900),
        "relayed": sign(sam, *request_event_template(relayed), created_at=NOW - 800),
        "fetched": sign(sam, *request_event_template(fetched), created_at=NOW - 700),
        "fetched2": sign(
            sam,
            *request_event_template(replace(fetched, status=Status.FUNDED)),
            created_at=NOW - 600,
        ),
        "announced": sign(sam, *request_event_template(announced), created_at=NOW - 500),
    }
    embedded = Syndication.of(events["relayed"], ["north"], r1.url)
    bare = Syndication(RequestRef.of(events["fetched"], r2.url), ("north",))
    note = Announcement.of(announced, sam.public_hex, [r2.url])
    pointers = [
        sign(carol, *syndication_template(embedded), created_at=NOW - 400),
        sign(carol, *syndication_template(bare), created_at=NOW - 300),
        sign(sam, *announcement_template(replace(note, societies=("north",))), created_at=NOW),
    ]
    push(r1.url, events["direct"], events["relayed"], *pointers)
    push(r2.url, events["direct"], events["fetched"], events["fetched2"], events["announced"])
    foreign = (
        nostr_sdk.EventBuilder(nostr_sdk.Kind(30402), "Looking for a bike to reach night shifts.")
        .tags([nostr_sdk.Tag.parse(t) for t in (
            ["d", "bike-1"], ["title", "A bike for night shifts"], ["summary", "Any bike"],
            ["published_at", str(NOW - 100)], ["location", "Leeds"], ["price", "0", "GBP"],
            ["t", "mas-north"],
        )])
        .finalize(nostr_sdk.Keys.generate())
    )  # fmt: skip
    asyncio.run(send_with_nostr_sdk(r2.url, foreign))
    dave = person("dave", keys.dave)
    assert dave("follow", "mas-north").code == 0
    return dave, ("-r", r1.url, "-r", r2.url), foreign


def test_feed_once_resolves_everything_once(world: Any) -> None:
    dave, relays, foreign = world
    first = dave("feed", "--json", "--once", "--bell", *relays)
    assert first.code == 0, first.stderr
    items = {item["title"]: item for item in first.json_lines()}
    assert sorted(items) == ["A bike for night shifts", "Announced", "Direct", "Fetched", "Relayed"]
    assert len(first.lines) == 5  # each once, although both relays hold some of them
    assert items["Relayed"]["via"][0]["into"] == ["mas-north"]
    assert items["Relayed"]["societies"] == ["leeds-care"]
    assert items["Fetched"]["status"] == "funded"  # the latest version, fetched
    assert items["A bike for night shifts"]["event"]["id"] == foreign.id().to_hex()
    assert all(item["new"] for item in items.values())
    assert "\a" in first.stderr

    again = dave("feed", "--json", "--once", "--bell", *relays)
    assert [item["new"] for item in again.json_lines()] == [False] * 5
    assert "\a" not in again.stderr


def test_feed_filters_and_human_output(world: Any) -> None:
    dave, relays, _ = world
    french = dave("feed", "--json", "--once", "--language", "fr", *relays).json_lines()
    assert [i["title"] for i in french] == ["Direct"]
    near = dave("feed", "--json", "--once", "--place", "gcw", *relays).json_lines()
    assert [i["title"] for i in near] == ["Relayed"]
    open_ = dave("feed", "--json", "--once", "--status", "open", *relays).json_lines()
    assert {i["title"] for i in open_} == {"Relayed", "Announced", "A bike for night shifts"}
    people = dave("feed", "--once", *relays)
    assert people.code == 0 and "Relayed" in people.stdout and "via mas-north" in people.stdout
    other = dave("feed", "--json", "--once", "--society", "mas-york", *relays).json_lines()
    assert [i["title"] for i in other] == ["Fetched"]
    live = dave("feed", "--json", "--timeout", "3", *relays)  # a live feed, bounded
    assert live.code == 0 and len(live.lines) == 5 and "following new ones" in live.stderr


def test_feed_errors(person: Any, keys: Any) -> None:
    dave = person("dave", keys.dave)
    nothing = dave("feed", "--once", "-r", "ws://127.0.0.1:9")
    assert nothing.code == 2 and "not following any society" in nothing.stderr
    down = dave("feed", "--once", "--society", "x", "-r", "ws://127.0.0.1:9", "--timeout", "2")
    assert down.code == 3 and "no relay answered" in down.stderr
    bad = dave("feed", "--once", "--society", "x", "--place", "gcwcvxx", "-r", "ws://127.0.0.1:9")
    assert bad.code == 2 and "too precise" in bad.stderr
