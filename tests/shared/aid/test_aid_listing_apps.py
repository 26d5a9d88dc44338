"""What ordinary Nostr apps need to list a request (docs/PROTOCOL.md §5, "What other apps
show"): each app's rule for showing a kind 30402 listing in its marketplace feed, written
as a predicate over the event's tags, with the source it was read from. The example
request (``mas request template``) passes every app's rule; a request without an amount
gets no invented price, and a funded one says ``sold``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from shieldmutual.shared.aid.draft import example_request
from shieldmutual.shared.aid.markdown import parse_template, render_template
from shieldmutual.shared.aid.request import Status, new_identifier, request_event_template
from shieldmutual.shared.errors import AidError

Tags = list[list[str]]
NOW = 1767225600


def amethyst(tags: Tags) -> bool:
    """vitorpamplona/amethyst@10149d7, quartz/.../nip99Classifieds/ClassifiedsEvent.kt:
    ``isWellFormed() = tags.containsAllTagNamesWithValues(setOf("title", "price", "image"))``
    (nip01Core/core/TagArray.kt: each name on a tag with a value), the filter of
    DiscoverMarketplaceFeedFilter.kt. The status is not read."""
    return {"title", "price", "image"} <= {t[0] for t in tags if len(t) > 1}


def shopstr(tags: Tags) -> bool:
    """shopstr-eng/shopstr@32e3316, components/display-products.tsx: a product is listed
    only with a currency (utils/parsers/canonical-product-parser.ts: ``price`` tag [2],
    trimmed), at least one ``image`` with a URL, and no content warning
    (``content-warning`` tag or label)."""
    price = next((t for t in tags if t[0] == "price"), None)
    currency = price is not None and len(price) > 2 and bool(price[2].strip())
    image = any(t[0] == "image" and len(t) > 1 and t[1] for t in tags)
    warned = any(
        t[0] == "content-warning"
        or (t[0] == "L" and t[1:2] == ["content-warning"])
        or (t[0] == "l" and t[2:3] == ["content-warning"])
        for t in tags
    )
    return currency and image and not warned


def coracle(_tags: Tags) -> bool:
    """coracle-social/coracle@ed85a43, src/app/shared/NoteContent.svelte renders every
    kind 30402 through NoteContentKind30402.svelte (title, Sold/Available chip from
    ``status``, price, location, summary, content): no tag is required."""
    return True


def iris(_tags: Tags) -> bool:
    """irislib/iris-client@30afb07, src/pages/market/utils.ts: the market feed asks for
    ``kinds: [30402]`` (from people within follow distance 3, or by ``#g`` / search);
    src/shared/components/market/MarketListing.tsx shows title, price when present, the
    first image and the summary: no tag is required."""
    return True


LISTING_RULES: dict[str, Callable[[Tags], bool]] = {
    "amethyst": amethyst,
    "shopstr": shopstr,
    "coracle": coracle,
    "iris": iris,
}


def example_tags() -> Tags:
    """The example of ``mas request template``, read back from its file as `new` does."""
    request = parse_template(render_template(example_request(NOW), hints=True))
    return request_event_template(replace(request, identifier=new_identifier()), now=NOW).tags


@pytest.mark.parametrize("app", list(LISTING_RULES))
def test_the_template_request_is_listed_by_every_app(app: str) -> None:
    assert LISTING_RULES[app](example_tags())


def test_the_template_request_carries_what_the_apps_show() -> None:
    tags = example_tags()
    get = {t[0]: t[1:] for t in tags}
    assert get["title"] == ["Rent after the raid"] and get["summary"]
    assert get["price"] == ["400", "GBP"] and get["status"] == ["active"]
    assert get["location"] == ["Leeds, UK"] and ["g", "gcwcv"] in tags
    assert get["image"] == ["https://images.example/rent-after-the-raid.jpg"]
    assert get["published_at"] == [str(NOW)] and ["t", "mutualaid"] in tags
    assert get["alt"] == ["Mutual aid request: Rent after the raid"]  # NIP-31


def test_no_amount_means_no_invented_price() -> None:
    """Coracle shows a listing without a price as "0 SAT" and a price of 0 would read as
    free everywhere, so nothing is invented: the marketplaces that need a price (Amethyst,
    Shopstr) do not list the request, and the announcement note (kind 1) still carries it."""
    request = replace(example_request(NOW), amount=None, currency=None, identifier="x")
    tags = request_event_template(request, now=NOW).tags
    assert not [t for t in tags if t[0] == "price"]
    assert not amethyst(tags) and not shopstr(tags) and coracle(tags) and iris(tags)


@pytest.mark.parametrize("status", [Status.FUNDED, Status.CLOSED])
def test_funded_and_closed_say_sold_and_so_in_alt(status: Status) -> None:
    """NIP-99's ``sold``: Coracle shows a "Sold" chip, Shopstr a "Sold" badge and refuses
    checkout (utils/payments/listing-pricing.ts); the alt text says it for everyone else."""
    request = replace(example_request(NOW), status=status, identifier="x")
    tags = request_event_template(request, now=NOW).tags
    assert ["status", "sold"] in tags
    assert ["alt", f"Mutual aid request ({status.value}): Rent after the raid"] in tags


def test_a_picture_must_be_a_plain_http_url() -> None:
    base = render_template(example_request(NOW))
    for bad in ("javascript:alert(1)", "https://x.example/a b.jpg", 'https://x.example/"a'):
        with pytest.raises(AidError, match="image must be an http"):
            parse_template(base.replace("https://images.example/rent-after-the-raid.jpg", bad))
