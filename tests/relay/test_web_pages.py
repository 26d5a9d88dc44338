"""relay/web.py over real HTTP on 127.0.0.1: request and society pages, Atom feeds.

Events reach the relay over a real websocket; pages are read over HTTP/1.1 (httpx) so every
status and header is what a browser would get. Feeds are checked with feedparser.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import feedparser
import orjson
import pytest

from shieldmutual.shared import nip19
from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    RequestRef,
    Update,
    confirmation_template,
    pledge_template,
    update_template,
)
from shieldmutual.shared.aid.helping import CallFlood, Payment, SignWave
from shieldmutual.shared.aid.offer import Offer, offer_event_template
from shieldmutual.shared.aid.report import Report, report_template
from shieldmutual.shared.aid.request import AidRequest, Status, request_event_template
from shieldmutual.shared.aid.society import Society, society_event_template
from shieldmutual.shared.aid.vouch import Attestation, attestation_template
from shieldmutual.shared.aid.webpage import CSP
from shieldmutual.shared.event import Event, sign

SLUG = "leeds-care"


def a_request(identifier: str, **changes: Any) -> AidRequest:
    values: dict[str, Any] = {
        "title": "Rent after the raid",
        "summary": "Two weeks of work lost.",
        "story": "The social centre was **raided** and Sam lost two weeks of work.",
        "location": "Leeds, UK",
        "amount": Decimal(400),
        "currency": "GBP",
        "societies": (SLUG,),
        "identifier": identifier,
    }
    return AidRequest(**{**values, **changes})


async def publish(connect: Any, relay: Any, *events: Event) -> None:
    client = await connect(relay.url)
    for event in events:
        ok = await client.publish(event)
        assert ok[2] is True, ok


def naddr_of(event: Event) -> str:
    return nip19.naddr_encode(event.d_tag, event.pubkey, event.kind)


async def test_request_page_shows_the_request_its_progress_and_every_way_to_help(
    relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    sam, bob = keys.alice, keys.bob
    request = a_request(
        "rent",
        language="es",
        details="Receipts on request.",
        payments=(Payment("lightning", "sam@pay.example.org"), Payment("other", "cash at SC")),
        actions=(
            CallFlood("+44 113 496 0000", "the council", "Stop the eviction"),
            SignWave("Town hall steps", datetime(2030, 5, 1, 12, 0, tzinfo=UTC)),
        ),
    )
    event = sign(sam, *request_event_template(request))
    ref = RequestRef.of(event, relay.url)
    spent = "All **30 GBP** to rent."
    await publish(
        connect,
        relay,
        event,
        sign(bob, *pledge_template(Pledge(ref, Decimal(50), "GBP"))),
        sign(sam, *confirmation_template(Confirmation(ref, Decimal(30), "GBP"))),
        sign(sam, *update_template(Update(ref, "The landlord agreed to wait a week."))),
        sign(sam, *report_template(Report("Where it went", spent, ref.address, identifier="r"))),
    )
    status, headers, body = await http(relay.url, f"/r/{naddr_of(event)}")
    page = body.decode()
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="es">' in page and 'name="viewport"' in page
    for text in (
        "<title>Rent after the raid</title>",
        "<strong>raided</strong>",
        "Receipts on request.",
        "Leeds, UK",
        "Asked: 400 GBP",
        "Confirmed received: 30 GBP (7% of 400 GBP)",
        "Pledged: 50 GBP (12% of 400 GBP)",
        "The landlord agreed to wait a week.",
        "Where it went",
        "<strong>30 GBP</strong> to rent.",
        'href="lightning:sam@pay.example.org"',
        "cash at SC",
        "+44 113 496 0000",
        "Town hall steps",
        'href="nostr:naddr1',
        'property="og:title" content="Rent after the raid"',
        'name="twitter:card"',
    ):
        assert text in page, text
    assert page.count("<svg") == 1  # one QR code: the lightning address (cash has no URI)
    naddr_shown = re.search(r'<p class="naddr">(naddr1[a-z0-9]+)</p>', page)
    assert naddr_shown and nip19.naddr_decode(naddr_shown[1]).relays == (relay.url,)
    # Good citizen: a strict policy, caching by ETag, no cookie.
    assert headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in CSP and "script-src" not in CSP and "default-src 'none'" in CSP
    assert headers["cache-control"].startswith("public") and "set-cookie" not in headers
    assert headers["x-content-type-options"] == "nosniff"
    etag = headers["etag"]
    status, again, body = await http(relay.url, f"/r/{naddr_of(event)}", If_None_Match=etag)
    assert status == 304 and body == b"" and again["etag"] == etag


async def test_a_new_pledge_changes_the_etag(
    relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    event = sign(keys.alice, *request_event_template(a_request("etag")))
    await publish(connect, relay, event)
    _, headers, _ = await http(relay.url, f"/r/{naddr_of(event)}")
    pledge = pledge_template(Pledge(RequestRef.of(event), Decimal(5), "GBP"))
    await publish(connect, relay, sign(keys.bob, *pledge))
    status, after, body = await http(
        relay.url, f"/r/{naddr_of(event)}", If_None_Match=headers["etag"]
    )
    assert status == 200 and after["etag"] != headers["etag"] and b"5 GBP" in body


async def test_champion_attestation_shown(relay: Any, connect: Any, keys: Any, http: Any) -> None:
    member, emergency = keys.carol, keys.dave
    event = sign(
        emergency, *request_event_template(a_request("held", beneficiary=member.public_hex))
    )
    await publish(connect, relay, event)
    _, _, body = await http(relay.url, f"/r/{naddr_of(event)}")
    assert b"no attestation from them was found (unverified)" in body
    await publish(
        connect, relay, sign(member, *attestation_template(Attestation(emergency.public_hex)))
    )
    _, _, body = await http(relay.url, f"/r/{naddr_of(event)}")
    assert b"published by a champion for npub1" in body and b"(attestation verified)" in body


async def test_not_found_bad_input_and_wrong_method(
    relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    offer = Offer(
        "Spare room",
        "A room for a week",
        "Quiet room.",
        "Leeds",
        societies=(SLUG,),
        identifier="room",
    )
    offer_event = sign(keys.alice, *offer_event_template(offer))
    article = sign(keys.alice, 30023, "an article", [["d", "post"], ["title", "Post"]])
    await publish(connect, relay, offer_event, article)
    unknown = nip19.naddr_encode("nothing", keys.bob.public_hex, 30402)
    wrap = nip19.naddr_encode("", keys.bob.public_hex, 1059)
    for path in (
        f"/r/{unknown}",  # no such request
        f"/r/{naddr_of(offer_event)}",  # an offer, not a request
        f"/r/{naddr_of(article)}",  # not an aid listing at all
        f"/r/{wrap}",  # a gift wrap's kind: never
        "/s/nobody-here",
        "/s/nobody-here.atom",
        "/nothing",
        "/r/a/b",
    ):
        status, headers, body = await http(relay.url, path)
        assert status == 404, path
        assert headers["content-type"].startswith("text/plain") and body.startswith(b"not found")
    for path in ("/r/naddr1qqqq", "/r/npub1abc", "/r/%00", "/s/Bad_Slug", "/s/x.atom%0a"):
        status, _, body = await http(relay.url, path)
        assert status == 400 and body.startswith(b"invalid:"), (path, body)
    for query in ("lang=english", "place=gcw!", "lang=en&lang=fr"):
        status, _, body = await http(relay.url, f"/s/{SLUG}?{query}")
        assert status == 400 and body.startswith(b"invalid:"), query
    status, _, _ = await http(relay.url, f"/r/{naddr_of(offer_event)}", method="POST")
    assert status == 405


async def test_hostile_content_is_escaped(relay: Any, connect: Any, keys: Any, http: Any) -> None:
    request = a_request(
        "hostile",
        title="<script>alert(1)</script>\u202eeman\u202c " + "x" * 150,
        summary='"><img src=x onerror=alert(1)>',
        story=(
            "<script>alert('story')</script>\n\n[click me](javascript:alert(1))\n\n"
            '<a href="javascript:alert(2)">raw</a> [pay](lightning:evil@steal.example.com)\n\n'
            "\u202egnp.exe" + " word" * 5000
        ),
        location="Leeds <b>bold</b>",
        payments=(Payment("lightning", "sam@pay.example.org"),),
    )
    event = sign(keys.alice, *request_event_template(request))
    await publish(connect, relay, event)
    status, _, body = await http(relay.url, f"/r/{naddr_of(event)}")
    page = body.decode()
    assert status == 200
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "click me" in page and "&lt;a href=&quot;javascript:alert(2)&quot;&gt;" in page
    assert not re.search(r'href="javascript:', page, re.I)
    assert 'href="lightning:evil' not in page  # only the request's own payment URIs
    assert 'href="lightning:sam@pay.example.org"' in page
    assert "\u202e" not in page and "\\u202e" in page  # shown, never obeyed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    status, _, body = await http(relay.url, f"/s/{SLUG}")
    assert status == 200 and b"<script" not in body and "\u202e".encode() not in body
    status, _, body = await http(relay.url, f"/s/{SLUG}.atom")
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.entries[0].title.startswith(
        "<script>alert(1)</script>\\u202e"
    )


async def test_society_page_lists_open_requests_and_offers_newest_first_with_filters(
    relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    definition = Society(SLUG, "Leeds Care", "Mutual aid in **Leeds**.", language="en")
    now = int(datetime.now(UTC).timestamp())
    older = a_request("older", title="Older one", language="en", geohash="gcwcv")
    newer = a_request("newer", title="Newer one", language="fr", geohash="u09tv")
    closed = a_request("closed", title="Closed one", status=Status.CLOSED)
    offer = Offer(
        "Spare room", "A room for a week", "Quiet.", "Leeds", societies=(SLUG,), identifier="o"
    )
    elsewhere = a_request("other", title="Elsewhere", societies=("bristol",))
    await publish(
        connect,
        relay,
        sign(keys.bob, *society_event_template(definition)),
        sign(keys.alice, *request_event_template(older), created_at=now - 100),
        sign(keys.alice, *request_event_template(newer), created_at=now - 50),
        sign(keys.alice, *request_event_template(closed), created_at=now - 10),
        sign(keys.carol, *offer_event_template(offer), created_at=now - 20),
        sign(keys.alice, *request_event_template(elsewhere)),
    )
    status, headers, body = await http(relay.url, f"/s/{SLUG}")
    page = body.decode()
    assert status == 200 and headers["content-security-policy"] == CSP
    assert "<title>Leeds Care</title>" in page and "Mutual aid in <strong>Leeds</strong>." in page
    assert page.index("Newer one") < page.index("Older one")
    assert "Spare room" in page and "Closed one" not in page and "Elsewhere" not in page
    assert '<html lang="en">' in page and f"/s/{SLUG}.atom" in page
    _, _, body = await http(relay.url, f"/s/{SLUG}?lang=fr")
    assert b"Newer one" in body and b"Older one" not in body
    _, _, body = await http(relay.url, f"/s/{SLUG}?place=gcw")
    assert b"Older one" in body and b"Newer one" not in body
    status, _, body = await http(relay.url, "/")
    assert status == 200 and f'/s/{SLUG}">Leeds Care</a>'.encode() in body
    assert b'/s/bristol">#mas-bristol</a>' in body


async def test_atom_feeds_are_valid_and_link_to_pages(
    relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    first = sign(keys.alice, *request_event_template(a_request("one", title="First")))
    second = sign(keys.bob, *request_event_template(a_request("two", title="Second", societies=())))
    await publish(connect, relay, first, second)
    status, headers, body = await http(relay.url, f"/s/{SLUG}.atom")
    assert status == 200 and headers["content-type"].startswith("application/atom+xml")
    society = feedparser.parse(body)
    assert not society.bozo, society.bozo_exception
    assert society.version == "atom10" and [e.title for e in society.entries] == ["First"]
    status, _, body = await http(relay.url, "/feed.atom")
    everything = feedparser.parse(body)
    assert not everything.bozo and {e.title for e in everything.entries} == {"First", "Second"}
    for entry in everything.entries:
        assert entry.id == entry.link and "/r/naddr1" in entry.link
        status, _, page = await http(relay.url, urlsplit(entry.link).path)
        assert status == 200 and entry.title.encode() in page
    assert everything.feed.links[0].href.endswith("/feed.atom")


async def test_base_url_is_used_in_every_link_and_advertised_in_nip11(
    start_relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    relay = await start_relay(web={"base_url": "https://pages.example.org/"})
    event = sign(keys.alice, *request_event_template(a_request("linked")))
    await publish(connect, relay, event)
    _, _, body = await http(relay.url, "/", Accept="application/nostr+json")
    assert orjson.loads(body)["shieldmutual"] == {"pages": "https://pages.example.org"}
    _, _, body = await http(relay.url, f"/r/{naddr_of(event)}")
    page = body.decode()
    assert 'property="og:url" content="https://pages.example.org/r/naddr1' in page
    assert f'href="https://pages.example.org/s/{SLUG}' not in page  # nothing made up
    _, _, body = await http(relay.url, "/feed.atom")
    feed = feedparser.parse(body)
    assert feed.entries[0].link.startswith("https://pages.example.org/r/naddr1")
    assert feed.feed.links[0].href == "https://pages.example.org/feed.atom"


async def test_pages_can_be_turned_off(
    start_relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    relay = await start_relay(web={"enabled": False})
    event = sign(keys.alice, *request_event_template(a_request("off")))
    await publish(connect, relay, event)
    status, _, _ = await http(relay.url, f"/r/{naddr_of(event)}")
    assert status == 404
    status, _, body = await http(relay.url, "/")
    assert status == 200 and b"Nostr</a> relay" in body
    _, _, body = await http(relay.url, "/", Accept="application/nostr+json")
    assert "shieldmutual" not in orjson.loads(body)


async def test_a_page_flood_is_refused_and_websocket_clients_are_still_served(
    start_relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    relay = await start_relay(web={"pages_per_second": 0.001, "pages_burst": 3})
    event = sign(keys.alice, *request_event_template(a_request("flood")))
    await publish(connect, relay, event)
    answers = await asyncio.gather(*(http(relay.url, f"/r/{naddr_of(event)}") for _ in range(20)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] * 3 + [429] * 17
    refused = next(a for a in answers if a[0] == 429)
    assert refused[2].startswith(b"rate-limited:") and refused[1]["retry-after"] == "1"
    client = await connect(relay.url)
    assert [e["id"] for e in await client.req("s", {"ids": [event.id]})] == [event.id]


async def test_no_visitor_is_logged(
    relay: Any, connect: Any, keys: Any, caplog: pytest.LogCaptureFixture, http: Any
) -> None:
    """THREAT-MODEL: pages keep and log nothing about who reads them."""
    event = sign(keys.alice, *request_event_template(a_request("quiet")))
    await publish(connect, relay, event)
    caplog.set_level(logging.DEBUG, logger="shieldmutual")
    for path in (f"/r/{naddr_of(event)}", f"/s/{SLUG}", "/feed.atom", "/r/bad", "/nothing"):
        status, headers, _ = await http(relay.url, path, User_Agent="Visitor/1.0")
        assert status in (200, 400, 404) and "set-cookie" not in headers
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1" not in logged and "Visitor/1.0" not in logged
    assert naddr_of(event) not in logged


async def test_deadline_and_state_on_the_page(
    relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    soon = int((datetime.now(UTC) + timedelta(days=3, hours=1)).timestamp())
    event = sign(keys.alice, *request_event_template(a_request("due", deadline=soon)))
    await publish(connect, relay, event)
    _, _, body = await http(relay.url, f"/r/{naddr_of(event)}")
    assert b"Open: help is still needed." in body and b"3 days left" in body


async def test_every_route_answers_304_to_its_etag_and_caches(
    relay: Any, connect: Any, keys: Any, http: Any
) -> None:
    event = sign(keys.alice, *request_event_template(a_request("cached")))
    await publish(connect, relay, event)
    for path in ("/", f"/s/{SLUG}", f"/s/{SLUG}.atom", "/feed.atom", f"/r/{naddr_of(event)}"):
        status, headers, body = await http(relay.url, path)
        assert status == 200 and body and headers["cache-control"] == "public, max-age=60"
        assert headers["content-security-policy"] == CSP and "set-cookie" not in headers
        status, again, body = await http(relay.url, path, If_None_Match=headers["etag"])
        assert (status, body, again["etag"]) == (304, b"", headers["etag"]), path
        status, _, _ = await http(relay.url, path, If_None_Match='"another"')
        assert status == 200, path
