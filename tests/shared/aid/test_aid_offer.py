"""Offers of help: event and file round trips, NIP-99 / NIP-31 tags, and the refusals that
keep an offer from ever being read as a request (and the other way round)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldmutual.shared.aid.comments import Pledge, RequestRef, parse_pledge, pledge_template
from shieldmutual.shared.aid.feed import ITEM_TYPES, Feed, FeedFilter, read_item, read_listing
from shieldmutual.shared.aid.offer import (
    CATEGORIES,
    Offer,
    Reply,
    is_offer,
    offer_dict,
    offer_event_template,
    parse_offer,
    parse_offer_file,
    parse_reply,
    render_offer_file,
    reply_template,
)
from shieldmutual.shared.aid.parse import parse_aid_event
from shieldmutual.shared.aid.request import AidRequest, Status, parse_request
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.event import Event

from .conftest import NOW, People

LAWNMOWER = Offer(
    title="Lawnmower to lend",
    summary="A petrol lawnmower, free to borrow for a weekend.",
    description="It is **heavy**: I can bring it round in the van.\n\nBring it back clean.",
    location="Leeds, UK",
    categories=("lend",),
    language="en",
    geohash="gcwcv",
    availability="weekends",
    until=NOW + 86_400 * 30,
    contact=("comment", "dm"),
    societies=("leeds-care",),
    hashtags=("garden",),
    identifier="mower",
)


def signed(people: People, offer: Offer = LAWNMOWER, at: int = NOW) -> Event:
    return people.sign(people.bob, offer_event_template(offer, now=at), at)


def retagged(people: People, event: Event, tags: list[list[str]]) -> Event:
    return people.sign(people.bob, (event.kind, event.content, tags), event.created_at)


def test_event_round_trip_and_what_nip99_apps_read(people: People) -> None:
    event = signed(people)
    offer = parse_offer(event)
    assert replace(offer, origin=None) == replace(LAWNMOWER, published_at=NOW)
    assert offer.origin is not None and offer.origin.pubkey == people.bob.public_hex
    tags = event.tags
    # NIP-99: title, summary, location, status; no price (help is never sold).
    assert ["status", "active"] in tags and not [t for t in tags if t[0] == "price"]
    assert ["l", "offer", "mas"] in tags and ["l", "open", "mas.status"] in tags
    assert ["alt", "Offer of help (free, mutual aid): Lawnmower to lend"] in tags
    assert ["t", "mas-leeds-care"] in tags and ["t", "mutualaid"] in tags
    assert ["t", "lend"] in tags and ["t", "garden"] in tags
    assert [t[1] for t in tags if t[0] == "g"] == ["gcwcv", "gcwc", "gcw", "gc", "g"]
    # The generated section tells people how to take it up and is ignored when parsing.
    assert "## How to take it up" in event.content and "private message" in event.content
    assert is_offer(event) and isinstance(parse_aid_event(event), Offer)


def test_closed_offer_reads_sold_for_marketplaces(people: People) -> None:
    event = signed(people, replace(LAWNMOWER, status=Status.CLOSED))
    assert ["status", "sold"] in event.tags
    assert parse_offer(event).status is Status.CLOSED


def test_an_offer_is_not_a_request(people: People) -> None:
    event = signed(people)
    with pytest.raises(AidError, match="not an aid request: a listing labelled 'offer'"):
        parse_request(event)
    # Nor does the feed's tolerant reading of foreign listings turn it into one.
    with pytest.raises(AidError, match="labelled 'offer'"):
        read_listing(event)


def test_a_request_is_not_an_offer(request_event: Event) -> None:
    assert not is_offer(request_event)
    with pytest.raises(AidError, match="without exactly the label"):
        parse_offer(request_event)
    assert isinstance(parse_aid_event(request_event), AidRequest)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: [x for x in t if x != ["t", "mutualaid"]], "without \\['t', 'mutualaid'\\]"),
        (lambda t: [*t, ["price", "20", "GBP"]], "free: it has no price"),
        (lambda t: [*t, ["g", "gcwcvf"]], "too precise"),
        (lambda t: [*t, ["g", "u10"]], "prefixes of one coarse geohash"),
        (lambda t: [x for x in t if x[0] != "title"], "'title' is missing"),
        (lambda t: [*t, ["summary", "again"]], "'summary' is repeated"),
        (lambda t: [*t, ["l", "pledge", "mas"]], "exactly the label"),
        (lambda t: [x for x in t if x[0] != "until"] + [["until", "soon"]], "until must be a unix"),
        (
            lambda t: (
                [x for x in t if x[0] != "l" or x[2] != "mas.status"]
                + [["l", "funded", "mas.status"]]
            ),
            "open or closed, not 'funded'",
        ),
    ],
)
def test_refusals(people: People, change: object, message: str) -> None:
    event = signed(people)
    bad = retagged(people, event, change(event.tags))  # type: ignore[operator]
    with pytest.raises(AidError, match=message):
        parse_offer(bad)


def test_a_zero_price_from_another_app_is_still_free(people: People) -> None:
    event = signed(people)
    assert parse_offer(retagged(people, event, [*event.tags, ["price", "0", "USD"]]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"geohash": "gcwcvf7"}, "too precise"),
        ({"categories": ()}, "at least one category"),
        ({"categories": ("massage",)}, "category must be one of"),
        ({"hashtags": ("lend",)}, "is a category"),
        ({"status": Status.FUNDED}, "open or closed"),
        ({"description": "x\n## How to take it up\ny"}, "must not contain the generated"),
        ({"contact": ("Phone Me",)}, "contact must be a short lowercase word"),
    ],
)
def test_builder_refusals(change: dict, message: str) -> None:
    with pytest.raises(AidError, match=message):
        replace(LAWNMOWER, **change)


def test_file_round_trip() -> None:
    offer = replace(LAWNMOWER, published_at=NOW)
    text = render_offer_file(offer)
    assert text.startswith("---\ntitle: Lawnmower to lend\n")
    assert parse_offer_file(text) == offer
    minimal = "---\ntitle: Dog walks\nsummary: I walk dogs.\nlocation: Leeds\n---\n\nAny day.\n"
    walk = parse_offer_file(minimal)
    assert walk.categories == ("other",) and walk.contact == ("comment",)
    with pytest.raises(AidError, match="known key"):
        parse_offer_file("---\ntitle: x\nprice: 5\n---\n\nx\n")
    with pytest.raises(AidError, match="needs summary, location"):
        parse_offer_file("---\ntitle: x\n---\n\nx\n")


def test_offer_dict_says_offer(people: People) -> None:
    data = offer_dict(parse_offer(signed(people)), "naddr1x")
    assert data["type"] == "offer" and data["categories"] == ["lend"]
    assert data["author"] == people.bob.public_hex and data["until"] == NOW + 86_400 * 30


def test_pledge_pointing_at_an_offer(people: People, ref: RequestRef) -> None:
    """A pledge answers a request with an offer: NIP-22 root and parent stay the request,
    the offer is a ``q`` citation with a readable ``nostr:naddr`` in the sentence."""
    offer_event = signed(people)
    offer_ref = RequestRef.of(offer_event, "wss://relay.example.org")
    template = pledge_template(Pledge(ref, offer=offer_ref))
    tags = template.tags
    assert [t for t in tags if t[0] in ("A", "a")] == [
        ["A", str(ref.address), ref.relay],
        ["a", str(ref.address), ref.relay],
    ]
    assert ["q", str(offer_ref.address), "wss://relay.example.org"] in tags
    assert template.content.startswith("I pledge the help I offer at nostr:naddr1")
    parsed = parse_pledge(people.sign(people.bob, template))
    assert parsed.offer is not None and parsed.offer.address == offer_ref.address
    assert parsed.note == "" and parsed.request.address == ref.address
    both = parse_pledge(
        people.sign(people.bob, pledge_template(Pledge(ref, Decimal(5), "GBP", offer=offer_ref)))
    )
    assert both.amount == Decimal(5) and both.offer == replace(offer_ref, event_id=None)
    with pytest.raises(AidError, match="an offer of help, or several"):
        Pledge(ref)


def test_reply_under_an_offer(people: People, ref: RequestRef) -> None:
    """A plain NIP-22 comment rooted at the offer; a labelled comment is never a reply."""
    offer_ref = RequestRef.of(signed(people), "wss://relay.example.org")
    event = people.sign(people.alice, reply_template(Reply(offer_ref, "Saturday, please?")))
    assert [t[:2] for t in event.tags if t[0] in ("A", "a")] == [
        ["A", str(offer_ref.address)],
        ["a", str(offer_ref.address)],
    ]
    reply = parse_reply(event)
    assert reply.text == "Saturday, please?" and reply.offer.address == offer_ref.address
    pledge = people.sign(people.bob, pledge_template(Pledge(ref, offer=offer_ref)))
    with pytest.raises(AidError, match="not a reply"):
        parse_reply(pledge)
    with pytest.raises(AidError, match="reply must not be empty"):
        Reply(offer_ref, "")


def test_feed_shows_requests_only_unless_asked(people: People, request_event: Event) -> None:
    """Lists of requests must not start showing offers; the feed asks for both."""
    offer_event = signed(people)
    assert isinstance(read_item(offer_event), Offer)
    assert isinstance(read_item(request_event), AidRequest)
    requests_only = Feed()
    assert requests_only.offer(offer_event) is None
    assert requests_only.offer(request_event) is not None
    both = Feed(FeedFilter(types=frozenset(ITEM_TYPES)))
    assert both.offer(offer_event).type == "offer"  # type: ignore[union-attr]
    assert both.offer(request_event).type == "request"  # type: ignore[union-attr]
    closed = signed(people, replace(LAWNMOWER, status=Status.CLOSED), NOW + 1)
    open_only = Feed(FeedFilter(statuses=frozenset({Status.OPEN}), types=frozenset({"offer"})))
    assert open_only.offer(offer_event) is not None
    assert open_only.offer(closed) is None and open_only.visible() == []


_LINE = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40)
    .map(str.strip)
    .filter(lambda t: bool(t) and "," not in t)
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    title=_LINE,
    location=_LINE,
    availability=_LINE,
    categories=st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True),
    geohash=st.none() | st.from_regex(r"[0-9b-hjkmnp-z]{1,5}", fullmatch=True),
    description=_LINE,
)
def test_any_offer_survives_the_event_and_the_file(
    people: People, title: str, location: str, availability: str, categories: list[str],
    geohash: str | None, description: str,
) -> None:  # fmt: skip
    offer = replace(
        LAWNMOWER, title=title, location=location, availability=availability,
        categories=tuple(categories), geohash=geohash, description=description,
        published_at=NOW,
    )  # fmt: skip
    assert replace(parse_offer(signed(people, offer)), origin=None) == offer
    assert parse_offer_file(render_offer_file(offer)) == offer
