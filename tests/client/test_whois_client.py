"""client/whois.py against a real relay: the person's record, your vouches, names shown."""

from __future__ import annotations

from functools import partial
from typing import Any

from shieldmutual.client import whois
from shieldmutual.client.aid import require_acks
from shieldmutual.client.names import Names
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared.aid import capital
from shieldmutual.shared.aid.vouch import Vouch
from shieldmutual.shared.event import sign
from shieldmutual.shared.profile import profile_template

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_gather_finds_the_persons_history_and_your_vouches_apart(
    relay: Any, keys: Any, note: Any
) -> None:
    me, bob, stranger = keys.alice, keys.bob, keys.carol
    connect = partial(Pool, [relay.url], options=OPTIONS)
    said = note(bob, "hello")
    async with connect() as pool:
        require_acks(await pool.publish(said))
    require_acks(await whois.vouch(connect, me, Vouch(bob.public_hex, "fixed my boiler")))
    require_acks(await whois.vouch(connect, stranger, Vouch(me.public_hex)))

    record = await whois.gather(connect, bob.public_hex, {me.public_hex}, timeout=3)

    assert record.answered
    ids = {event.id for event in record.events}
    assert said.id in ids
    # the vouch comes twice: as said about bob, and as one of your identity's vouches
    mine = {e.content for e in record.events if e.pubkey == me.public_hex}
    assert mine == {"fixed my boiler"}
    assert all(e.pubkey != stranger.public_hex for e in record.events)  # not about bob


async def test_gather_says_when_no_relay_answered(keys: Any, silent_relay: Any) -> None:
    connect = partial(Pool, [silent_relay.url], options=PoolOptions(connect_timeout=1))
    record = await whois.gather(connect, keys.bob.public_hex, set(), timeout=0.2)
    assert record == whois.Record([], False)


async def test_names_shown_fetches_the_profiles_on_screen(relay: Any, keys: Any) -> None:
    bob = keys.bob
    connect = partial(Pool, [relay.url], options=OPTIONS)
    async with connect() as pool:
        require_acks(await pool.publish(sign(bob, *profile_template({"name": "Bob"}))))
    facts = capital.summarize(bob.public_hex, [], trusted=())
    names = await whois.names_shown(connect, Names(), facts)
    assert names.show(bob.public_hex).startswith("~Bob (")
