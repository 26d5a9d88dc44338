"""`mas whois` and `mas vouch`: the public record about a person, weighed by the reader.

There is no central score (docs/PROTOCOL.md §15): `mas whois` fetches what the relays
hold about one pubkey and summarizes it locally with ``shared.aid.capital.summarize``:
requests made and how they ended, spending reports, pledges made, help that recipients
confirmed, vouches received, first seen; cli/whoisview.py answers from them whether
they helped you, helped others, and are vouched for by people *you* trust. "Trust" is
local too: your own identities, your contacts (petnames, client/contacts.py) and the
people your identities vouched for. No follow list of people is published anywhere.

`mas vouch` publishes a NIP-32 label under your own key. A vouch is a public link
between two people, so the command says so before it publishes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Annotated, Any

import typer

from shieldmutual.client import aid
from shieldmutual.client.cli import common, contacts, fmt, whoisview
from shieldmutual.client.errors import RelayError
from shieldmutual.client.names import Names
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared import kinds
from shieldmutual.shared.aid import capital
from shieldmutual.shared.aid.comments import parse_confirmation
from shieldmutual.shared.aid.common import Address, labels
from shieldmutual.shared.aid.feed import REQUEST
from shieldmutual.shared.aid.vouch import VOUCH, Vouch, parse_vouch, vouch_template
from shieldmutual.shared.errors import AidError, InvalidError
from shieldmutual.shared.event import Event

app = typer.Typer()

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

WhoArg = Annotated[
    str,
    typer.Argument(
        metavar="NPUB", help="npub, nprofile, hex, one of your identity names, or a petname."
    ),
]
TimeoutOption = Annotated[
    float | None, typer.Option("--timeout", min=0.1, help="Seconds to wait for each relay.")
]


# ---- pure helpers (unit-tested) -------------------------------------------------------


def whois_filters(pubkey: str) -> list[dict[str, Any]]:
    """The person's own history and what others said about them.

    Requests published by a champion name the member with a ``p`` tag, so they come
    with the ``#p`` query; the member's attestation comes with the history.
    """
    return [
        {"authors": [pubkey], "kinds": list(HISTORY_KINDS)},
        {"kinds": [kinds.COMMENT, kinds.LABEL, kinds.CLASSIFIED], "#p": [pubkey]},
    ]


def vouches_filter(mine: str) -> dict[str, Any]:
    """The vouches one of your identities published (one identity per query)."""
    return {"kinds": [kinds.LABEL], "authors": [mine], "#l": [VOUCH]}


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
        if VOUCH not in labels(event.tags) or not event.is_valid():
            continue
        try:
            why.setdefault(parse_vouch(event).subject, "you vouched for them")
        except AidError:
            continue
    return why


def requests_to_resolve(pubkey: str, events: Iterable[Event]) -> list[Address]:
    """Requests behind confirmations that name ``pubkey`` but are signed by someone
    other than the request's author: a beneficiary's confirmation counts only if the
    request (published by a champion) says so, and that request may not be fetched yet."""
    wanted: dict[Address, None] = {}
    for event in events:
        if event.kind != kinds.COMMENT or "received" not in labels(event.tags):
            continue
        try:
            confirmation = parse_confirmation(event)
        except AidError:
            continue
        address = confirmation.request.address
        if confirmation.helper == pubkey and event.pubkey != address.pubkey:
            wanted[address] = None
    return list(wanted)


# ---- commands -------------------------------------------------------------------------


async def gather(
    connect: Callable[[], Pool], pubkey: str, mine: Collection[str], timeout: float | None
) -> tuple[list[Event], bool]:
    """Everything relays hold about ``pubkey`` (two rounds at most); whether any answered.

    The person, and each of your identities' vouches, are asked for on connections of
    their own: one REQ (or one socket) naming two of your identities, even a throwaway,
    would tell the relay they are the same person.
    """

    async def ask(filters: list[dict[str, Any]]) -> tuple[list[Event], bool]:
        async with connect() as pool, pool.subscribe(filters, eose_timeout=timeout) as sub:
            events = [event async for event in sub]
        return events, any(s.eose_after is not None for s in sub.stats.values())

    rounds = await asyncio.gather(
        ask(whois_filters(pubkey)), *(ask([vouches_filter(me)]) for me in sorted(mine))
    )
    events = [event for found, _ in rounds for event in found]
    missing = requests_to_resolve(pubkey, events)
    if missing:
        filters = [
            {"kinds": [a.kind], "authors": [a.pubkey], "#d": [a.identifier]} for a in missing
        ]
        events += (await ask(filters))[0]
    return events, rounds[0][1]


@app.command("whois")
def whois(
    ctx: typer.Context,
    who: WhoArg,
    relay: common.RelayOption = None,
    timeout: TimeoutOption = None,
    json_: common.JsonOption = False,
) -> None:
    """The public record about a person, computed here from what relays hold.

    First plain answers: have they helped you, have they helped others, do people you
    trust (your identities, your contacts, whom you vouched for) vouch for them. Then
    the evidence: requests made and how they ended, spending reports, pledges made, help
    that the people helped confirmed, vouches, first seen. No score: you decide.
    """
    state = common.state(ctx)
    pubkey = contacts.resolve(state, who)
    mine = {ident.pubkey for ident in state.keystore.list()}
    relays = state.relays(relay)

    async def go() -> tuple[list[Event], bool]:
        with state.status(f"asking {len(relays)} relays about {fmt.short_npub(pubkey)}…"):
            return await gather(lambda: state.pool(relays), pubkey, mine, timeout)

    events, answered = common.run(go())
    if not answered:
        raise RelayError("no relay answered")
    petnames = contacts.local_names(state)
    why = trusted_by(mine, events, petnames.petnames)  # identities' names are mine already
    facts = capital.summarize(pubkey, events, trusted=why.keys())
    names = common.run(profiles(state, relays, petnames, facts))
    data = whoisview.capital_dict(facts, why, names, mine, relays)
    listed = [(r.address, r.title, relays[:3]) for r in facts.requests]
    handles = common.remember(state, REQUEST, listed)
    for row in data["requests"]:
        row.update(handles[row["address"]].fields())
    if state.want_json(json_):
        state.emit_json(data)
    else:
        whoisview.render_capital(state.out, data, names)


async def profiles(
    state: common.State,
    relays: list[str],
    names: Names,
    facts: capital.SocialCapital,
) -> Names:
    """Profile names of the people shown, in one REQ on a connection of its own. The set
    comes only from public events about the person, so anyone asking about them sends the
    same query; leaving your own identities out would name them by their absence."""
    shown = {facts.pubkey, *(h.recipient for h in facts.help_confirmed)}
    shown |= {v.voucher for v in facts.vouches}
    async with state.pool(relays) as pool:
        return await contacts.lookup(pool, names, shown)


@app.command("vouch")
def vouch(
    ctx: typer.Context,
    who: WhoArg,
    reason: Annotated[
        str, typer.Option("--reason", help="Why you trust them (public, optional).")
    ] = "",
    relay: common.RelayOption = None,
    min_acks: Annotated[
        int, typer.Option("--min-acks", min=1, help="Fail unless this many relays accept it.")
    ] = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Say in public, under your key, that you know and trust this person.

    A vouch is a public link between the two of you: vouch only where being linked is
    safe. Withdraw it with `mas event -k 5 -e <id>` (a NIP-09 deletion).
    """
    state = common.state(ctx)
    subject = contacts.resolve(state, who)
    relays = state.relays(relay)
    template = vouch_template(Vouch(subject, " ".join(reason.split("\n")).strip()))
    secret = state.signer(as_)
    if secret.public_hex == subject:
        raise InvalidError("a vouch for yourself means nothing")
    state.warn(f"this publicly links you with {fmt.npub(subject)}")

    async def go() -> PublishReport:
        async with state.pool(relays) as pool:
            return await aid.publish(pool, secret, template)

    report = common.run(go())
    common.show_nevent(state, report, min_acks, json_, relays, subject=subject)
