"""`mas relays`: the default relay list in the config file, and relay health checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shieldmutual.client.cli import common
from shieldmutual.client.cli.plain import Column
from shieldmutual.client.config import new_relay_url, normalize_relay_url, normalize_relays
from shieldmutual.client.errors import RelayError

if TYPE_CHECKING:  # `relays list` must not load websockets: only a check connects
    from shieldmutual.client.relayinfo import RelayCheck

app = typer.Typer(help="The relays mas uses by default, and their health.", no_args_is_help=True)

UrlsArg = Annotated[list[str], typer.Argument(metavar="URL...", help="Relay URLs.")]


def _show(state: common.State, json_: bool) -> None:
    if state.want_json(json_):
        for url in state.config.relays:
            state.emit_json({"relay": url})
    elif state.config.relays:
        state.print_table([Column("relay")], [[url] for url in state.config.relays])
    else:
        state.note("no relays configured: add one with `mas relays add URL`")


TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, max=60, help="Seconds per relay.")
]


@app.command("add")
def add(
    ctx: typer.Context,
    urls: UrlsArg,
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Add them without checking that they answer."),
    ] = False,
    timeout: TimeoutOption = 5.0,
    json_: common.JsonOption = False,
) -> None:
    """Add relays to the default list, once each has answered (its NIP-11 document or
    a websocket round trip): a mistyped address is told now, not at the first pledge.

    Exits 2 for a malformed URL, 3 when a relay does not answer (--no-check adds it
    anyway, e.g. a relay you are about to start).
    """
    state = common.state(ctx)
    add_relays(state, urls, None if no_check else timeout)
    _show(state, json_)


def add_relays(state: common.State, urls: list[str], timeout: float | None) -> None:
    """Validate ``urls``, check each answers within ``timeout`` (None: not checked), and
    add them to the configured relays. ConfigError (exit 2) or RelayError (exit 3)."""
    new = normalize_relays(new_relay_url(u) for u in urls)
    if timeout is not None:
        checks = _check(state, new, timeout)
        silent = [c for c in checks if not (c.ok or c.info)]
        if silent:
            why = "; ".join(f"{c.relay}: {c.error or c.info_error}" for c in silent)
            raise RelayError(f"not added, no answer from {why} (add it anyway with --no-check)")
    state.config.relays = normalize_relays([*state.config.relays, *new])
    state.save_config()


def _check(state: common.State, urls: list[str], timeout: float) -> list[RelayCheck]:
    """Every relay checked at once, each within ``timeout`` seconds."""
    from shieldmutual.client.relayinfo import check_relays

    with state.status(f"checking {', '.join(urls)}…"):
        return common.run(check_relays(urls, timeout, state.proxy))


@app.command("remove")
def remove(ctx: typer.Context, urls: UrlsArg, json_: common.JsonOption = False) -> None:
    """Remove relays from the default list."""
    state = common.state(ctx)
    gone = {normalize_relay_url(u) for u in urls}
    missing = gone - set(state.config.relays)
    if missing:
        raise RelayError(f"not in the relay list: {', '.join(sorted(missing))}")
    state.config.relays = [r for r in state.config.relays if r not in gone]
    state.save_config()
    _show(state, json_)


@app.command("list")
def list_(ctx: typer.Context, json_: common.JsonOption = False) -> None:
    """Show the default relays."""
    _show(common.state(ctx), json_)


@app.command("check")
def check(
    ctx: typer.Context,
    urls: Annotated[
        list[str] | None, typer.Argument(metavar="[URL...]", help="Default: your relays.")
    ] = None,
    relay: common.RelayOption = None,
    timeout: TimeoutOption = 5.0,
    json_: common.JsonOption = False,
) -> None:
    """NIP-11 document, supported NIPs and round-trip time of each relay.

    Exits 3 when any relay cannot be reached.
    """
    state = common.state(ctx)
    targets = state.relays([*(urls or []), *(relay or [])] or None)
    checks = _check(state, targets, timeout)
    if state.want_json(json_):
        for c in checks:
            state.emit_json(c.to_dict())
    else:
        from shieldmutual.client.cli import render

        state.out.print(render.relay_check_table(checks))
    failed = [c.relay for c in checks if not c.ok]
    if failed:
        raise RelayError(f"unreachable: {', '.join(failed)}")
