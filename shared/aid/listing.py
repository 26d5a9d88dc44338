"""What the two NIP-99 listings (kind 30402), requests and offers, share: the same
one-line fields, place and society tags, hashtags and publication stamp, checked, written
and read by one set of helpers so the two cannot drift apart."""

from __future__ import annotations

import time
from typing import Any, Protocol

from shieldmutual.shared.aid.common import (
    MUTUAL_AID,
    Tags,
    check_geohash,
    check_language,
    check_line,
    check_timestamp,
    one,
    parse_timestamp,
    values,
)
from shieldmutual.shared.aid.society import (
    MAS_PREFIX,
    language_of,
    language_tags,
    society_slugs,
    society_tags,
    validate_slug,
)
from shieldmutual.shared.errors import AidError


def geohash_tags(geohash: str) -> Tags:
    """Every prefix as its own ``g`` tag, so exact-match ``#g`` filters work at any size."""
    return [["g", geohash[:n]] for n in range(len(geohash), 0, -1)]


class Listing(Protocol):
    """What requests and offers (both NIP-99 listings) share in their tags (read-only, so
    the frozen dataclasses match)."""

    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def geohash(self) -> str | None: ...
    @property
    def societies(self) -> tuple[str, ...]: ...
    @property
    def hashtags(self) -> tuple[str, ...]: ...
    @property
    def identifier(self) -> str: ...
    @property
    def published_at(self) -> int | None: ...


def check_listing(listing: Listing) -> None:
    """The fields every listing has, within the same limits for offers and requests."""
    check_line(listing.title, "title", 200)
    check_line(listing.summary, "summary", 500)
    check_line(listing.location, "location", 200)
    if listing.language is not None:
        check_language(listing.language)
    if listing.geohash is not None:
        check_geohash(listing.geohash)  # coarse only: at most 5 characters
    if listing.published_at is not None:
        check_timestamp(listing.published_at, "published_at")
    for slug in listing.societies:
        validate_slug(slug)
    for tag in listing.hashtags:
        check_hashtag(tag)
    check_unique(("societies", listing.societies), ("hashtags", listing.hashtags))
    if listing.identifier:
        check_line(listing.identifier, "identifier (d)", 100)


def check_unique(*named: tuple[str, tuple[str, ...]]) -> None:
    for what, items in named:
        if len(set(items)) != len(items):
            raise AidError(f"{what} must not repeat")


def listing_head_tags(listing: Listing, what: str) -> Tags:
    """The NIP-99 tags every listing starts with; ``identifier`` and ``published_at`` set."""
    if not listing.identifier:
        raise AidError(f"{what} has no identifier (d); use new_identifier()")
    if listing.published_at is None:
        raise AidError(f"{what} has no published_at")
    return [
        ["d", listing.identifier],
        ["title", listing.title],
        ["summary", listing.summary],
        ["published_at", str(listing.published_at)],
        ["location", listing.location],
    ]


def listing_place_tags(listing: Listing) -> Tags:
    """Language, coarse geohash and societies: where and to whom a listing speaks."""
    tags: Tags = []
    if listing.language:
        tags += language_tags(listing.language)
    if listing.geohash:
        tags += geohash_tags(listing.geohash)
    return tags + society_tags(listing.societies)


def listing_fields(tags: Tags, what: str) -> dict[str, Any]:
    """The fields every listing reads from its tags alike, as keyword arguments."""
    return {
        # Outer spaces from other apps are harmless; everything else must already be right.
        "title": one(tags, "title", what).strip(),
        "summary": one(tags, "summary", what).strip(),
        "location": one(tags, "location", what).strip(),
        "language": language_of(tags),
        "geohash": geohash_of(tags),
        "societies": society_slugs(tags),
        "identifier": one(tags, "d", what),
        "published_at": parse_timestamp(one(tags, "published_at", what), "published_at"),
    }


def publish_time(published_at: int | None, now: int | None) -> int:
    """A listing's ``published_at`` once published: kept, or ``now`` on first publication."""
    if published_at is not None:
        return published_at
    return int(time.time()) if now is None else check_timestamp(now, "now")


def check_hashtag(tag: object) -> str:
    text = check_line(tag, "hashtag", 64)
    if text != text.lower() or any(c in text for c in " #,") or text.startswith(MAS_PREFIX):
        raise AidError(f"hashtag must be lowercase, without spaces, '#', ',' or 'mas-': {tag!r}")
    if text == MUTUAL_AID:
        raise AidError(f"{MUTUAL_AID!r} is added automatically")
    return text


def geohash_of(tags: Tags) -> str | None:
    """The one coarse geohash the ``g`` tags spell (each a prefix of the longest)."""
    found = values(tags, "g")
    if not found:
        return None
    longest = check_geohash(max(found, key=len))  # refuses more than MAX_GEOHASH
    if any(not longest.startswith(g) for g in found):
        raise AidError("'g' tags must all be prefixes of one coarse geohash")
    return longest


def hashtags_of(tags: Tags) -> tuple[str, ...]:
    """The free hashtags (not ``mutualaid`` or a society), lowercased, without repeats."""
    hashtags: list[str] = []
    for tag in values(tags, "t"):
        low = tag.lower()
        if low != MUTUAL_AID and not low.startswith(MAS_PREFIX) and low not in hashtags:
            try:
                hashtags.append(check_hashtag(low))
            except AidError:
                continue  # hashtags are decoration; a foreign odd one must not hide an event
    return tuple(hashtags)
