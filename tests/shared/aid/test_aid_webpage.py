"""shared/aid/webpage.py and atom.py without a relay: the CSP's hash is the stylesheet's,
and text that could reorder or hide itself is shown, never obeyed, in pages and feeds."""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from xml.dom import minidom

from shieldmutual.shared.aid import atom, webpage
from shieldmutual.shared.aid.common import Address, Origin
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.society import Society

SITE = webpage.Site("https://pages.example.org", "Leeds relay", "wss://relay.example.org")
PUBKEY = "ab" * 32
ADDRESS = Address(30402, PUBKEY, "rent")
ORIGIN = Origin("cd" * 32, PUBKEY, 1_800_000_000)
HOSTILE = AidRequest(
    title="Rent \u202egnp.exe\u202c after the raid",
    summary="Lost work\u200b\u2066 hidden",
    story="Story",
    location="Leeds",
    amount=Decimal(400),
    currency="GBP",
    identifier="rent",
    origin=ORIGIN,
)


def test_the_csp_allows_exactly_the_stylesheet_in_the_page() -> None:
    digest = base64.b64encode(hashlib.sha256(webpage.STYLE.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in webpage.CSP
    page = webpage.index_page(SITE, "A relay", [("leeds", "Leeds Care")])
    assert f"<style>{webpage.STYLE}</style>" in page and page.count("<style") == 1
    assert (
        "<script" not in page and " style=" not in page
    )  # inline style attributes need unsafe-inline


def test_bidi_and_invisible_characters_are_shown_in_pages_and_feeds() -> None:
    listing = webpage.Listing(ADDRESS, HOSTILE)
    society = Society("leeds", "Leeds \u202eCare", "About \u2067us")
    page = webpage.society_page(SITE, "leeds", [society], [listing])
    feed = atom.feed(
        SITE, "Feed \u202e", "https://pages.example.org/feed.atom", SITE.base_url, [listing]
    )
    for text in (page, feed):
        assert not any(c in text for c in "\u202e\u202c\u200b\u2066\u2067")
        assert "\\u202e" in text
    minidom.parseString(feed.encode())  # well-formed XML
    assert f'<link rel="alternate" type="text/html" href="{SITE.request_url(ADDRESS)}"/>' in feed
