"""`mas config`: client settings that have no better home (kept in the sealed settings)."""

from __future__ import annotations

from typing import Annotated

import typer

from shieldmutual.client.cli import common
from shieldmutual.client.config import normalize_web_base

app = typer.Typer(help="Client settings.", no_args_is_help=True)


@app.command("web-base")
def web_base(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Argument(metavar="[URL]", help="e.g. https://relay.example.org; none: show it."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Forget it.")] = False,
    json_: common.JsonOption = False,
) -> None:
    """Where request pages are served: `request new`, `export` and `relay-request` print
    <URL>/r/<naddr>. Without it, the request's relays are asked (their NIP-11)."""
    state = common.state(ctx)
    if url is not None and clear:
        raise typer.BadParameter("give a URL or --clear, not both")
    if url is not None or clear:
        state.config.web_base = None if clear else normalize_web_base(url or "", "URL")
        state.save_config()
    current = state.config.web_base
    if state.want_json(json_):
        state.emit_json({"web_base": current})
    elif current:
        state.emit_line(current)
    else:
        state.note("no web base set: page links come from the relays that advertise pages")
