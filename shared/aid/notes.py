"""Spreading a request: the kind 1 announcement and the kind 16 syndication.

Most Nostr apps only show kind 1 notes, so an *announcement* is a short note with the
title, summary, a ``nostr:naddr`` link (NIP-21/NIP-19) that apps turn into a preview
of the request, and hashtags that make the society tags clickable.

A *syndication* is a NIP-18 generic repost (kind 16) of the request into other
societies: the target societies' ``t`` tags put the request in their followers' local
filters. Anyone may syndicate: there is no society key and no membership to check.
The repost embeds the signed request (NIP-18 recommends it), so a reader who never
reaches the original relay still sees the exact, verifiable version that was shared.
Optional NIP-72 ``a`` tags also cross-post into community apps (NIP-72 "Cross-posting").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shieldmutual.shared import kinds, nip19
from shieldmutual.shared.aid.comments import RequestRef
from shieldmutual.shared.aid.common import (
    MUTUAL_AID,
    Address,
    Origin,
    check_relay,
    check_text,
    first,
    hinted,
    one,
    require_kind,
    values,
)
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.society import society_slugs, society_tags, validate_slug
from shieldmutual.shared.errors import AidError, InvalidError
from shieldmutual.shared.event import Event, EventTemplate, Rumor

_NADDR = re.compile(r"nostr:(naddr1[02-9ac-hj-np-z]+)")


@dataclass(frozen=True, slots=True)
class Announcement:
    """A kind 1 note pointing at a request: ``text``, then the link, then hashtags."""

    request: Address
    text: str
    societies: tuple[str, ...] = ()
    relays: tuple[str, ...] = ()
    origin: Origin | None = None

    def __post_init__(self) -> None:
        if self.request.kind != kinds.CLASSIFIED:
            raise AidError("an announcement points at an aid request (kind 30402)")
        check_text(self.text, "announcement text", 2000, empty=False)
        if "nostr:naddr1" in self.text:
            raise AidError("announcement text must not contain its own naddr link")
        for slug in self.societies:
            validate_slug(slug)
        for relay in self.relays:
            check_relay(relay)

    @classmethod
    def of(cls, request: AidRequest, author: str, relays: Sequence[str] = ()) -> Announcement:
        """The usual announcement: title and summary, in the request's societies."""
        text = f"{request.title}\n\n{request.summary}"
        return cls(request.address(author), text, request.societies, tuple(relays))

    @property
    def link(self) -> str:
        return "nostr:" + self.request.naddr(self.relays)


def announcement_template(announcement: Announcement) -> EventTemplate:
    tags = society_tags(announcement.societies)
    hashtags = " ".join("#" + tag[1] for tag in tags)
    relay = announcement.relays[0] if announcement.relays else ""
    # NIP-18: a nostr: mention in content is mirrored by a q tag (address form).
    tags.insert(0, hinted("q", str(announcement.request), relay))
    content = f"{announcement.text}\n\n{announcement.link}\n\n{hashtags}"
    return EventTemplate(kinds.TEXT_NOTE, content, tags)


def parse_announcement(event: Rumor) -> Announcement:
    require_kind(event, kinds.TEXT_NOTE, "announcement")
    if MUTUAL_AID not in values(event.tags, "t"):
        raise AidError("announcement must carry ['t', 'mutualaid']")
    match = _NADDR.search(event.content)
    if match is None:
        raise AidError("announcement content has no nostr:naddr link to the request")
    try:
        pointer = nip19.naddr_decode(match.group(1))
    except InvalidError as exc:
        raise AidError(f"announcement link does not decode: {exc}") from None
    address = Address(pointer.kind, pointer.pubkey, pointer.identifier)
    if address.kind != kinds.CLASSIFIED:
        raise AidError("announcement link does not point at an aid request (kind 30402)")
    if str(address) not in values(event.tags, "q"):
        raise AidError("announcement link has no matching 'q' tag (NIP-18)")
    text = event.content[: match.start()].strip()
    return Announcement(address, text, society_slugs(event.tags), pointer.relays, Origin.of(event))


@dataclass(frozen=True, slots=True)
class Syndication:
    """A repost of one request version into ``targets`` (society slugs)."""

    request: RequestRef
    targets: tuple[str, ...]
    communities: tuple[Address, ...] = ()
    embedded: str = ""
    origin: Origin | None = None

    def __post_init__(self) -> None:
        if self.request.event_id is None:
            raise AidError("a syndication reposts one version: the request's event id is needed")
        if not self.targets:
            raise AidError("a syndication names at least one target society")
        for slug in self.targets:
            validate_slug(slug)
        for community in self.communities:
            if community.kind != kinds.COMMUNITY:
                raise AidError(f"{community} is not a NIP-72 community (kind 34550)")
        if self.embedded:
            self.embedded_event()

    @classmethod
    def of(
        cls,
        request_event: Event,
        targets: Sequence[str],
        relay: str = "",
        communities: Sequence[Address] = (),
    ) -> Syndication:
        ref = RequestRef.of(request_event, relay)
        return cls(ref, tuple(targets), tuple(communities), request_event.to_json().decode())

    def embedded_event(self) -> Event | None:
        """The reposted request, checked: it verifies and is the version the tags name."""
        if not self.embedded:
            return None
        try:
            event = Event.from_json(self.embedded)
            event.verify()
        except InvalidError as exc:
            raise AidError(f"embedded request is not a valid event: {exc}") from None
        if event.id != self.request.event_id or Address.of(event) != self.request.address:
            raise AidError("embedded request is not the version the tags point at")
        return event


def syndication_template(syndication: Syndication) -> EventTemplate:
    ref = syndication.request
    tags = [
        ["k", str(kinds.CLASSIFIED)],
        hinted("a", str(ref.address), ref.relay),
        ["e", ref.event_id or "", ref.relay],  # NIP-18: the e tag MUST carry a relay URL
        hinted("p", ref.author, ref.relay),
        *society_tags(syndication.targets),
        *(hinted("a", str(c), ref.relay) for c in syndication.communities),
    ]
    return EventTemplate(kinds.GENERIC_REPOST, syndication.embedded, tags)


def parse_syndication(event: Rumor) -> Syndication:
    require_kind(event, kinds.GENERIC_REPOST, "syndication")
    if first(event.tags, "k") != str(kinds.CLASSIFIED):
        raise AidError("syndication must carry ['k', '30402']")
    addresses = [Address.parse(a) for a in values(event.tags, "a")]
    requests = [a for a in addresses if a.kind == kinds.CLASSIFIED]
    if len(requests) != 1:
        raise AidError("syndication must point at exactly one aid request with an 'a' tag")
    if one(event.tags, "p", "syndication") != requests[0].pubkey:
        raise AidError("syndication 'p' must be the request's author")
    a_tag = next(t for t in event.tags if t[0] == "a" and t[1] == str(requests[0]))
    relay = a_tag[2] if len(a_tag) > 2 else ""
    ref = RequestRef(requests[0], one(event.tags, "e", "syndication"), relay)
    communities = tuple(a for a in addresses if a.kind == kinds.COMMUNITY)
    return Syndication(ref, society_slugs(event.tags), communities, event.content, Origin.of(event))
