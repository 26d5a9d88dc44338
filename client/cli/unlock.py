"""`mas unlock` / `mas lock`: an agent (client/agent.py) keeps this home's keys for a while.

The passphrase is asked once; later commands get the keys from the agent, so scripts and
cron jobs need no passphrase on a command line or in a file.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from shieldmutual.client import agent
from shieldmutual.client.cli import common, fmt
from shieldmutual.client.errors import IdentityError, PassphraseError
from shieldmutual.client.timeparse import parse_duration

app = typer.Typer()


@app.command("unlock")
def unlock(
    ctx: typer.Context,
    for_: Annotated[
        str,
        typer.Option("--for", metavar="DURATION", help="How long to stay unlocked, e.g. 8h."),
    ] = "8h",
    json_: common.JsonOption = False,
) -> None:
    """Ask the passphrase once; an agent keeps this home unlocked for later commands."""
    state = common.state(ctx)
    seconds = parse_duration(for_)
    path = state.paths.home_key_file
    if not path.exists():
        raise IdentityError("nothing to unlock yet: create an identity with `mas id new NAME`")
    state.unlocker.passphrase()  # asked and checked even when an agent already runs
    secrets = []
    for ident in state.keystore.list():
        try:
            secrets.append(state.unlocker.secret(state.keystore, ident.name))
        except PassphraseError:
            state.warn(f"identity {ident.name} has another passphrase; it stays locked")
    expires_at = int(time.time()) + seconds
    pid = agent.start(state.paths, state.home.key(), secrets, expires_at)
    if state.want_json(json_):
        state.emit_json({"pid": pid, "expires_at": expires_at, "identities": len(secrets)})
        return
    until = fmt.moment(expires_at)
    state.note(f"unlocked until {until} (agent pid {pid}); `mas lock` forgets the keys sooner")


@app.command("lock")
def lock(ctx: typer.Context) -> None:
    """Make the agent forget this home's keys and exit."""
    state = common.state(ctx)
    if agent.lock(state.paths):
        state.note("locked: the agent forgot the keys")
    else:
        state.note("no agent was running for this home")
