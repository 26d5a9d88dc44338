"""The public record about a person, fetched from relays (`mas whois`), and `mas vouch`.

What is asked and how it is weighed is pure (shared/aid/whois.py, shared/aid/capital.py);
this module only talks to relays, so it is used and tested without the command line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass

from shieldmutual.client import aid
from shieldmutual.client.names import Names, lookup
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared.aid.capital import SocialCapital
from shieldmutual.shared.aid.vouch import Vouch, vouch_template
from shieldmutual.shared.aid.whois import (
    requests_filter,
    requests_to_resolve,
    vouches_filter,
    whois_filters,
)
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey


@dataclass(frozen=True, slots=True)
class Record:
    """Everything the relays hold about one person, and whether any relay answered."""

    events: list[Event]
    answered: bool


async def gather(
    connect: Callable[[], Pool], pubkey: str, mine: Collection[str], timeout: float | None
) -> Record:
    """Everything relays hold about ``pubkey`` (two rounds at most).

    The person, and each of your identities' vouches, are asked for on connections of
    their own: one REQ (or one socket) naming two of your identities, even a throwaway,
    would tell the relay they are the same person.
    """

    async def ask(filters: list[Filter]) -> Record:
        async with connect() as pool, pool.subscribe(filters, eose_timeout=timeout) as sub:
            events = [event async for event in sub]
        return Record(events, any(s.eose_after is not None for s in sub.stats.values()))

    rounds = await asyncio.gather(
        ask(whois_filters(pubkey)), *(ask([vouches_filter(me)]) for me in sorted(mine))
    )
    events = [event for found in rounds for event in found.events]
    missing = requests_to_resolve(pubkey, events)
    if missing:
        events += (await ask(requests_filter(missing))).events
    return Record(events, rounds[0].answered)


async def vouch(connect: Callable[[], Pool], secret: SecretKey, subject: Vouch) -> PublishReport:
    """Publish ``secret``'s vouch for a person (a NIP-32 label under their own key)."""
    async with connect() as pool:
        return await aid.publish(pool, secret, vouch_template(subject))


async def names_shown(connect: Callable[[], Pool], known: Names, facts: SocialCapital) -> Names:
    """Profile names of the people shown, in one REQ on a connection of its own. The set
    comes only from public events about the person, so anyone asking about them sends the
    same query; leaving your own identities out would name them by their absence."""
    shown = {facts.pubkey, *(h.recipient for h in facts.help_confirmed)}
    shown |= {v.voucher for v in facts.vouches}
    async with connect() as pool:
        return await lookup(pool, known, shown)
