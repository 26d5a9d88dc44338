"""What `mas whois` asks relays about a person, and whom the reader trusts (pure).

There is no central score (docs/PROTOCOL.md §15): the queries below fetch the person's
own history and what others said about them; "trusted" is local: the reader's own
identities, their contacts and whom their identities vouched for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.comments import Confirmation
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.parse import read_as
from shieldmutual.shared.aid.vouch import VOUCH, Vouch
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter

# Kinds that say something about a person's history; the earliest of them is "first seen".
HISTORY_KINDS = (
    kinds.METADATA,
    kinds.TEXT_NOTE,
    kinds.GENERIC_REPOST,
    kinds.COMMENT,
    kinds.LABEL,
    kinds.LONG_FORM,
    kinds.CLASSIFIED,
    kinds.COMMUNITY,
)


def whois_filters(pubkey: str) -> list[Filter]:
    """The person's own history and what others said about them.

    Requests published by a champion name the member with a ``p`` tag, so they come
    with the ``#p`` query; the member's attestation comes with the history.
    """
    return [
        Filter(authors=frozenset({pubkey}), kinds=frozenset(HISTORY_KINDS)),
        Filter(
            kinds=frozenset({kinds.COMMENT, kinds.LABEL, kinds.CLASSIFIED}),
            tags={"p": frozenset({pubkey})},
        ),
    ]


def vouches_filter(mine: str) -> Filter:
    """The vouches one of your identities published (one identity per query)."""
    return Filter(
        kinds=frozenset({kinds.LABEL}), authors=frozenset({mine}), tags={"l": frozenset({VOUCH})}
    )


def requests_filter(addresses: Iterable[Address]) -> list[Filter]:
    """The current versions of the requests at ``addresses``, one filter each."""
    return [
        Filter(
            kinds=frozenset({a.kind}),
            authors=frozenset({a.pubkey}),
            tags={"d": frozenset({a.identifier})},
        )
        for a in addresses
    ]


def trusted_by(
    mine: Collection[str], events: Iterable[Event], contacts: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Whom the reader trusts, and why: their own identities, their contacts (pubkey ->
    petname) and whom their identities vouched for."""
    why = {pubkey: "your identity" for pubkey in mine}
    for pubkey in contacts or {}:
        why.setdefault(pubkey, "your contact")
    for event in events:
        if event.pubkey not in mine or event.kind != kinds.LABEL:
            continue
        vouch = read_as(event, Vouch)
        if vouch is not None and event.is_valid():
            why.setdefault(vouch.subject, "you vouched for them")
    return why


def requests_to_resolve(pubkey: str, events: Iterable[Event]) -> list[Address]:
    """Requests behind confirmations that name ``pubkey`` but are signed by someone
    other than the request's author: a beneficiary's confirmation counts only if the
    request (published by a champion) says so, and that request may not be fetched yet."""
    wanted: dict[Address, None] = {}
    for event in events:
        confirmation = read_as(event, Confirmation)
        if confirmation is None:
            continue
        address = confirmation.request.address
        if confirmation.helper == pubkey and event.pubkey != address.pubkey:
            wanted[address] = None
    return list(wanted)
