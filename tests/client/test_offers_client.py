"""client/offers.py without the CLI, against a real relay: a reply under an offer is found
by reading the offer, with the replier's and the author's names looked up."""

from __future__ import annotations

from typing import Any

from shieldmutual.client.aid import parse_pointer, require_acks
from shieldmutual.client.offers import read_offer, reply_to_offer
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared.aid.offer import Offer, offer_event_template
from shieldmutual.shared.event import sign

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)
LAWNMOWER = Offer(
    title="Lawnmower to lend",
    summary="A petrol lawnmower, free to borrow for a weekend.",
    description="Bring it back clean.",
    location="Leeds, UK",
    categories=("lend",),
    availability="weekends",
    contact=("comment",),
    societies=("leeds-care",),
    identifier="mower",
)


async def test_reply_then_read_the_offer(relay: Any, keys: Any) -> None:
    event = sign(keys.alice, *offer_event_template(LAWNMOWER))
    async with Pool([relay.url], options=OPTIONS) as pool:
        require_acks(await pool.publish(event))
        pointer = parse_pointer(LAWNMOWER.address(event.pubkey).naddr((relay.url,)))
        before = await read_offer(pool, pointer)
        assert before.offer.title == LAWNMOWER.title and before.thread.replies == ()

        require_acks(await reply_to_offer(pool, keys.bob, pointer, "Could I have it Sunday?"))
        after = await read_offer(pool, pointer)
        (reply,) = after.thread.replies
        assert reply.text == "Could I have it Sunday?"
        assert reply.origin is not None and reply.origin.pubkey == keys.bob.public_hex
