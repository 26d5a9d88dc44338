"""`mas init`: the first setup as questions, for people who prefer them to commands.

It asks, in order, for what `mas id new`, `mas relays add` and `mas config web-base` set,
and uses those commands' own rules. The default relay set below is offered in the
question and used only when the answer says so: public relays see who talks there, so
which ones carry a society's traffic is the person's choice, never made for them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shieldmutual.client.cli import common
from shieldmutual.client.cli.identity import made_default_if_first, store_identity
from shieldmutual.client.cli.relays import add_relays
from shieldmutual.client.config import normalize_web_base
from shieldmutual.client.errors import ClientError
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.keys import SecretKey

app = typer.Typer()

# Large, long-running public relays that take any kind (README "Install" lists them too).
DEFAULT_RELAYS = ("wss://relay.damus.io", "wss://nos.lol", "wss://relay.primal.net")
DEFAULT_WORD = "default"


@app.command("init")
def init(
    ctx: typer.Context,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Add relays without checking that they answer.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=60, help="Seconds per relay check.")
    ] = 5.0,
) -> None:
    """Set up step by step: an identity, relays, and where request pages are.

    Questions go to stderr and answers come from stdin, so it can be scripted too. A
    wrong answer is explained and asked again; an empty one keeps what you have.
    """
    state = common.state(ctx)
    _identity(state)
    _relays(state, None if no_check else timeout)
    _web_base(state)
    name = state.identity_name()
    relays = ", ".join(state.config.relays) or "none"
    state.note(f"ready: identity {name}, relays {relays}; try `mas request list`")


def _ask(question: str, default: str = "") -> str:
    answer: str = typer.prompt(question, default=default, show_default=bool(default), err=True)
    return answer.strip()


def _identity(state: common.State) -> None:
    if state.paths.home_key_file.exists() and state.keystore.list():
        state.note(f"identity: keeping {state.identity_name()} (`mas id new` makes another)")
        return
    while True:
        name = _ask("A name for your identity (only you see it)", "me")
        try:
            ident = store_identity(state, name, SecretKey.generate(), handled_securely=True)
        except (InvalidError, ClientError) as exc:
            state.warn(str(exc))
            continue
        made_default_if_first(state, ident)
        state.note(f"identity {ident.name} created: {ident.npub}")
        return


def _relays(state: common.State, timeout: float | None) -> None:
    current = state.config.relays
    if current:
        state.note(f"relays: {', '.join(current)}")
    question = (
        f"Relays to add, separated by spaces; '{DEFAULT_WORD}' for {' '.join(DEFAULT_RELAYS)}"
    )
    while True:
        answer = _ask(question + (" (empty: keep yours)" if current else ""))
        if not answer and current:
            return
        urls = list(DEFAULT_RELAYS) if answer == DEFAULT_WORD else answer.split()
        if not urls:
            state.warn("mas needs at least one relay to talk to")
            continue
        try:
            add_relays(state, urls, timeout)
        except (InvalidError, ClientError) as exc:
            state.warn(str(exc))
            continue
        return


def _web_base(state: common.State) -> None:
    question = "Web address of your relay's request pages, e.g. https://relay.example.org"
    while True:
        answer = _ask(question + " (empty: none, ask the relays)")
        if not answer:
            return
        try:
            state.config.web_base = normalize_web_base(answer, "web address")
        except InvalidError as exc:
            state.warn(str(exc))
            continue
        state.save_config()
        return
