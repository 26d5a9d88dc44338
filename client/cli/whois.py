"""`mas whois`: the public record about a person, weighed by the reader.

There is no central score (docs/PROTOCOL.md §15): `mas whois` fetches what the relays
hold about one pubkey (client/whois.py) and summarizes it locally with
``shared.aid.capital.summarize``: requests made and how they ended, spending reports,
pledges made, help that recipients confirmed, vouches received, first seen;
cli/whoisview.py answers from them whether they helped you, helped others, and are
vouched for by people *you* trust. "Trust" is local too (shared/aid/whois.py): your own
identities, your contacts (petnames, client/contacts.py) and the people your identities
vouched for. No follow list of people is published anywhere.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from shieldmutual.client import whois as public_record
from shieldmutual.client.cli import common, contacts, fmt, whoisview
from shieldmutual.client.errors import RelayError
from shieldmutual.shared.aid import capital
from shieldmutual.shared.aid.feed import REQUEST
from shieldmutual.shared.aid.whois import trusted_by

app = typer.Typer()

TimeoutOption = Annotated[
    float | None, typer.Option("--timeout", min=0.1, help="Seconds to wait for each relay.")
]


@app.command("whois")
def whois(
    ctx: typer.Context,
    who: contacts.PersonArg,
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

    connect = partial(state.pool, relays)
    with state.status(f"asking {len(relays)} relays about {fmt.short_npub(pubkey)}…"):
        record = common.run(public_record.gather(connect, pubkey, mine, timeout))
    if not record.answered:
        raise RelayError("no relay answered")
    petnames = contacts.local_names(state)
    why = trusted_by(mine, record.events, petnames.petnames)  # identities' names are mine
    facts = capital.summarize(pubkey, record.events, trusted=why.keys())
    names = common.run(public_record.names_shown(connect, petnames, facts))
    listed = [(r.address, r.title, relays[:3]) for r in facts.requests]
    handles = common.remember(state, REQUEST, listed)
    view = whoisview.WhoisView(facts, why, names, mine, relays, handles)
    if state.want_json(json_):
        state.emit_json(whoisview.capital_dict(view))
    else:
        whoisview.render_capital(state.out, view)
