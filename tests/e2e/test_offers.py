"""Offers of help over a real relay and the real `mas` (issue 11 §D).

Bob offers to lend his lawnmower in Leeds; Sam asks for help with a garden in the same
society. The offer is listed and shown, appears in `mas feed` beside the request
(marked as an offer, and filterable), Bob answers Sam's request by pointing at his
offer, which `request show` and `offer show` both say, and Bob closes the offer. An
ordinary NIP-99 reader (rust-nostr) sees a free listing with a title and an `alt`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nostr_sdk
import orjson
import pytest

from shieldmutual.shared import nip19

OFFER_FILE = """\
---
title: Lawnmower to lend
summary: A petrol lawnmower, free to borrow for a weekend.
location: Leeds, UK
language: en
geohash: gcwcv
categories: lend
availability: weekends
contact: comment, dm
societies: leeds-care
---

It is **heavy**: I can bring it round in the van.
"""


@pytest.fixture
def garden(relays: Callable[..., list[Any]], person: Callable[..., Any]) -> Callable[..., Any]:
    """``garden(config)``: a relay (with that TOML config), Sam and Bob following
    mas-leeds-care, and Sam's request there."""

    def make(config: str | None = None) -> Any:
        (relay,) = relays(1, config=config)
        sam, bob = person("sam", relay.url), person("bob", relay.url)
        for who in (sam, bob):
            who("follow", "mas-leeds-care")
        request = sam(
            "request", "new", "--yes", "--no-announce", "--title", "The garden is a jungle",
            "--summary", "Sam broke an arm and cannot cut the grass.", "--location", "Leeds, UK",
            "--society", "leeds-care", "--story", "Anyone with a mower?",
        ).stdout.strip()  # fmt: skip
        return relay, sam, bob, request

    return make


async def test_offer_new_list_show_feed_pledge_close(garden: Any, rust_nostr: Any) -> None:
    relay, sam, bob, request = garden()
    (made,) = bob("--json", "offer", "new", "--from", "-", "--yes", input=OFFER_FILE).json_lines()
    offer = made["naddr"]
    assert made["acks"] == 1 and nip19.decode(offer)[1].kind == 30402
    tags = made["event"]["tags"]
    assert ["l", "offer", "mas"] in tags and not [t for t in tags if t[0] == "price"]

    # Listed (and only offers: Sam's request is not in the list), and shown.
    (listed,) = sam("--json", "offer", "list").json_lines()
    assert listed["type"] == "offer" and listed["title"] == "Lawnmower to lend"
    assert listed["categories"] == ["lend"] and listed["author"] == bob.pubkey
    assert sam("offer", "list", "--society", "york").stderr.strip().endswith("no offers found")
    (shown,) = sam("--json", "offer", "show", offer).json_lines()
    assert shown["availability"] == "weekends" and shown["answered"] == []
    # Sam takes it up in public: a NIP-22 comment under the offer, shown with it.
    sam("offer", "reply", offer, "Could I borrow it on Saturday?")
    human = sam("offer", "show", offer).stdout
    assert "OFFER" in human and "Lawnmower to lend" in human and "heavy" in human
    assert "Could I borrow it on Saturday?" in human

    # The feed shows it beside the request, marked as an offer, and filters by type.
    feed = {item["type"]: item for item in sam("--json", "feed", "--once").json_lines()}
    assert feed["offer"]["title"] == "Lawnmower to lend" and feed["offer"]["naddr"]
    assert feed["request"]["title"] == "The garden is a jungle"
    assert [i["type"] for i in sam("--json", "feed", "--once", "--offers").json_lines()] == [
        "offer"
    ]
    only = sam("--json", "feed", "--once", "--requests").json_lines()
    assert [i["type"] for i in only] == ["request"]
    piped = sam("feed", "--once").stdout.splitlines()
    assert any(" offer  open   Lawnmower to lend — lend — Leeds, UK" in line for line in piped)

    # `request list` stays a list of requests.
    assert [r["title"] for r in sam("--json", "request", "list").json_lines()] == [
        "The garden is a jungle"
    ]

    # Bob answers Sam's request with his offer: a pledge citing it, in his own words.
    words = "Happy to bring it round."
    (pledged,) = bob("--json", "pledge", request, "--offer", offer, "-m", words).json_lines()
    q = [t for t in pledged["event"]["tags"] if t[0] == "q"]
    assert q and q[0][1] == f"30402:{bob.pubkey}:{listed['identifier']}"
    assert pledged["event"]["content"].startswith(f"{words}\n\nnostr:naddr1")
    (view,) = sam("--json", "request", "show", request).json_lines()
    assert [(p["offer"], p["note"]) for p in view["pledges"]] == [(q[0][1], words)]
    table = sam("request", "show", request).stdout
    assert "offer" in table and words in table and "nostr:" in table  # the link, folded
    (shown,) = sam("--json", "offer", "show", offer).json_lines()
    assert [a["title"] for a in shown["answered"]] == ["The garden is a jungle"]
    assert [(r["author"], r["text"]) for r in shown["replies"]] == [
        (sam.pubkey, "Could I borrow it on Saturday?")
    ]
    assert "answered requests" in sam("offer", "show", offer).stdout
    # Only the offer's author may cite it.
    refused = sam("pledge", request, "--offer", offer, code=1)
    assert "one of your own offers" in refused.stderr

    # An ordinary NIP-99 reader sees a free listing that says what it is.
    flt = (
        nostr_sdk.Filter().kind(nostr_sdk.Kind(30402)).author(nostr_sdk.PublicKey.parse(bob.pubkey))
    )
    (listing,) = await rust_nostr.fetch(relay.url, flt)
    assert listing.verify()
    named = {tag[0]: tag for tag in orjson.loads(listing.as_json())["tags"]}
    assert named["alt"] == ["alt", "Offer of help (free, mutual aid): Lawnmower to lend"]
    assert named["title"][1] == "Lawnmower to lend" and named["status"][1] == "active"
    assert "price" not in named

    # Edited: a new version at the same address (template NADDR prints it as a file).
    bob("offer", "update", offer, "--when", "Sunday mornings", "--yes")
    assert "availability: Sunday mornings" in bob("offer", "template", offer).stdout
    (edited,) = sam("--json", "offer", "show", offer).json_lines()
    assert (
        edited["availability"] == "Sunday mornings"
        and edited["published_at"] == (shown["published_at"])
    )

    # Closed: republished at the same address; open lists drop it, --closed keeps it.
    (closing,) = bob("--json", "offer", "close", offer).json_lines()
    assert ["status", "sold"] in closing["event"]["tags"]
    assert sam("--json", "offer", "list").json_lines() == []
    (again,) = sam("--json", "offer", "list", "--closed").json_lines()
    assert again["status"] == "closed"


def test_on_an_aid_only_relay_and_not_a_request_to_pledge_to(garden: Any, tmp_path: Path) -> None:
    """An aid-only relay carries the offer (society tag) and the pledge citing it (its
    ``A`` names the request), and an offer is refused wherever a request is expected."""
    _, sam, bob, request = garden("[policy]\naid_only = true")
    offer = bob("offer", "new", "--from", "-", "--yes", input=OFFER_FILE).stdout.strip()
    (pledged,) = bob("--json", "pledge", request, "--offer", offer).json_lines()
    assert pledged["acks"] == 1
    assert [o["naddr"] for o in bob("--json", "offer", "list", "--mine").json_lines()] == [offer]
    assert sam("--json", "offer", "list", "--mine").json_lines() == []
    refused = sam("pledge", offer, "--amount", "5", "--currency", "GBP", code=1)
    assert "labelled 'offer'" in refused.stderr
    # Nothing is published without a yes: a declined preview, or stdin with no --yes.
    (tmp_path / "offer.md").write_text(OFFER_FILE)
    declined = bob("offer", "new", "--from", str(tmp_path / "offer.md"), input="n\n", code=1)
    assert "nothing was published" in declined.stderr and "Lawnmower" in declined.stderr
    piped = bob("offer", "new", "--from", "-", input=OFFER_FILE, code=2)
    assert "confirm with --yes" in piped.stderr
    precise = bob("offer", "new", "--from", "-", "--yes", input=OFFER_FILE.replace(
        "geohash: gcwcv", "geohash: gcwcvf7z"), code=2)  # fmt: skip
    assert "too precise" in precise.stderr
    assert bob("pledge", request, "--offer", request, code=1).stderr.startswith("error:")


def test_live_feed_in_a_terminal_marks_offers_and_shows_hostile_text_inert(
    garden: Any, terminal: Any
) -> None:
    _, sam, bob, _ = garden()
    bob("offer", "new", "--yes", "--title", "Mower \u202eevil", "--summary", "Free to borrow.",
        "--location", "Leeds", "--society", "leeds-care", "--description", "Ask me.")  # fmt: skip
    sam("contacts", "add", "bobby", bob.npub)  # Sam's own name for Bob, shown as the author
    (listed,) = sam("--json", "offer", "list").json_lines()
    assert listed["author_petname"] == "bobby"
    table = sam("offer", "list").stdout
    assert (
        "bobby" in table
        and "offers of help" in table
        and "Mower \\u202eevil" in table
        and "\u202e" not in table
    )
    env = {**sam.env, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40"}
    feed = terminal(env, "feed")
    feed.read_until(b"The garden is a jungle")  # the requests' table (stored newest first,
    screen = feed.read_until(b"offers of help")  # so either may be drawn first)
    screen = feed.read_until(b"Mower")
    assert "\u202e".encode() not in screen and b"\\u202e" in screen
    feed.proc.send_signal(signal.SIGINT)
    assert feed.proc.wait(timeout=20) == 130
