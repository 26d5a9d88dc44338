"""Offers of help over the relay pool: find an offer, and what was said about it.

shared/aid/offer.py turns events into objects; this is the I/O edge, as client/aid.py is
for requests (whose ``fetch_request`` finds an offer too, with ``read=parse_offer``)::

    found = await fetch_offer(pool, "naddr1...")     # aid.RequestRecord, .request: Offer
    thread = await fetch_offer_thread(pool, found)   # OfferThread: answers, replies
    view = await read_offer(pool, pointer, names)    # OfferView: both, and people's names
    report = await reply_to_offer(pool, secret, pointer, "I can help on Sunday")

*Answers* are the requests the offer's author answered with it (their pledges citing it
with ``q``; anyone else's citation promises nothing of the author's, so it is ignored).
*Replies* are plain NIP-22 comments under the offer: people taking it up in public.
"""

from __future__ import annotations

from dataclasses import dataclass

from shieldmutual.client import aid
from shieldmutual.client.names import NO_NAMES, Names, lookup
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared import kinds
from shieldmutual.shared.aid.comments import RequestRef, parse_pledge
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.feed import read_listing
from shieldmutual.shared.aid.offer import Offer, Reply, parse_offer, parse_reply, reply_template
from shieldmutual.shared.aid.thread import current_versions
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

MAX_ANSWERS = 50  # answered requests looked up (one filter each) for one offer


@dataclass(frozen=True, slots=True)
class Answer:
    """A request the offer's author answered by pointing at the offer (a pledge)."""

    request: Address
    naddr: str
    title: str | None  # None when no relay had a readable version of the request
    created_at: int
    note: str

    def to_dict(self) -> dict[str, object]:
        return {"request": str(self.request), "naddr": self.naddr, "title": self.title,
                "created_at": self.created_at, "note": self.note}  # fmt: skip


@dataclass(frozen=True, slots=True)
class OfferThread:
    answers: tuple[Answer, ...] = ()
    replies: tuple[Reply, ...] = ()


async def fetch_offer(pool: Pool, naddr: str | aid.RequestPointer) -> aid.RequestRecord:
    """The latest valid version of the offer at ``naddr`` (an naddr or coordinate, or a
    pointer already resolved)."""
    pointer = naddr if isinstance(naddr, aid.RequestPointer) else aid.parse_pointer(naddr)
    return await aid.fetch_request(pool, pointer, read=parse_offer)


async def fetch_offer_thread(pool: Pool, found: aid.RequestRecord) -> OfferThread:
    coordinate, author = str(found.address), found.address.pubkey
    comments = frozenset({kinds.COMMENT})
    filters = [
        Filter(kinds=comments, authors=frozenset({author}), tags={"q": frozenset({coordinate})}),
        Filter(kinds=comments, tags={"A": frozenset({coordinate})}),
    ]
    pledges, replies = [], []
    for event in sorted(await pool.fetch(filters), key=lambda e: (e.created_at, e.id)):
        try:
            if event.pubkey == author and any(t[:2] == ["q", coordinate] for t in event.tags):
                pledge = parse_pledge(event)
                if pledge.offer is not None and pledge.offer.address == found.address:
                    pledges.append((event.created_at, pledge))
            else:
                reply = parse_reply(event)
                if reply.offer.address == found.address:
                    replies.append(reply)
        except AidError:
            continue  # labelled comments under the offer, malformed pledges
    pledges = pledges[-MAX_ANSWERS:]
    titles = await _titles(pool, {p.request.address for _, p in pledges})
    answers = [
        Answer(
            request=p.request.address,
            naddr=p.request.address.naddr((p.request.relay,) if p.request.relay else ()),
            title=titles.get(p.request.address),
            created_at=created_at,
            note=p.note or p.default_note(),
        )
        for created_at, p in pledges
    ]
    return OfferThread(tuple(answers), tuple(replies))


async def _titles(pool: Pool, addresses: set[Address]) -> dict[Address, str]:
    """The current title of each request, in one query."""
    if not addresses:
        return {}
    lookups = [aid.address_filter(a) for a in addresses]
    titles = {}
    for event in current_versions(await pool.fetch(lookups)):
        try:
            titles[Address.of(event)] = read_listing(event).title
        except AidError:
            continue
    return titles


@dataclass(frozen=True, slots=True)
class OfferView:
    """An offer as `mas offer show` shows it: the offer, its thread, and the names of its
    author and of those who replied."""

    found: aid.RequestRecord
    offer: Offer
    thread: OfferThread
    names: Names


async def read_offer(pool: Pool, pointer: aid.RequestPointer, names: Names = NO_NAMES) -> OfferView:
    found = await fetch_offer(pool, pointer)
    assert isinstance(found.request, Offer)  # read with parse_offer
    thread = await fetch_offer_thread(pool, found)
    people = {found.event.pubkey, *(r.origin.pubkey for r in thread.replies if r.origin)}
    return OfferView(found, found.request, thread, await lookup(pool, names, people))


async def reply_to_offer(
    pool: Pool, secret: SecretKey, pointer: aid.RequestPointer, words: str
) -> PublishReport:
    """A public NIP-22 comment under the offer, signed by ``secret``."""
    found = await fetch_offer(pool, pointer)
    ref = RequestRef.of(found.event, found.relays[0] if found.relays else "")
    return await aid.publish(pool, secret, reply_template(Reply(ref, words)))
