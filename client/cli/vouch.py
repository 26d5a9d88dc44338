"""`mas vouch`: say in public, under your own key, that you know and trust a person.

A vouch is a NIP-32 label (shared/aid/vouch.py) and a public link between two people,
so the command says so before it publishes it; others weigh it locally (`mas whois`).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from shieldmutual.client import whois as public_record
from shieldmutual.client.cli import common, contacts, fmt
from shieldmutual.shared.aid.vouch import Vouch
from shieldmutual.shared.errors import InvalidError

app = typer.Typer()


@app.command("vouch")
def vouch(
    ctx: typer.Context,
    who: contacts.PersonArg,
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
    said = Vouch(subject, " ".join(reason.split("\n")).strip())
    secret = state.signer(as_)
    if secret.public_hex == subject:
        raise InvalidError("a vouch for yourself means nothing")
    state.warn(f"this publicly links you with {fmt.npub(subject)}")

    report = common.run(public_record.vouch(partial(state.pool, relays), secret, said))
    common.show_nevent(state, report, min_acks, json_, relays, subject=subject)
