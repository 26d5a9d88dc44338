"""`mas req`: query relays; verified, de-duplicated events as JSON lines on stdout.

stdout carries only the events, each flushed as it arrives (so ``mas req ... | mas event
-r other-relay`` re-publishes as they come); progress and the summary go to stderr.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Annotated, Any

import typer

from shieldmutual.client import query
from shieldmutual.client.cli import common, filteropts
from shieldmutual.client.errors import RelayError
from shieldmutual.client.flagfilter import build_filter
from shieldmutual.shared.event import Event

app = typer.Typer()


@app.command("req")
def req_cmd(
    ctx: typer.Context,
    kind: filteropts.KindOpt = None,
    author: filteropts.AuthorOpt = None,
    id_: Annotated[
        list[str] | None,
        typer.Option("-i", "--id", metavar="ID", help="Event id, hex or note (repeat)."),
    ] = None,
    tag: filteropts.TagOpt = None,
    since: filteropts.SinceOpt = None,
    until: filteropts.UntilOpt = None,
    limit: Annotated[int | None, typer.Option("-l", "--limit", min=0)] = None,
    search: Annotated[str | None, typer.Option("--search", help="NIP-50 search.")] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Keep following new events after the stored ones.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, help="Seconds to wait for EOSE.")
    ] = None,
    relay: common.RelayOption = None,
    auth: common.AuthOption = False,
    as_: common.AsOption = None,
) -> None:
    """Query relays; verified, de-duplicated events as JSON lines on stdout.

    Without --stream it stops when every relay has sent its stored events (EOSE) or timed
    out, and exits 3 if none answered. With --stream it follows new events, reconnecting
    to relays that drop and resuming without loss, until interrupted.
    """
    state = common.state(ctx)
    flt = build_filter(
        kinds=kind or (),
        authors=author or (),
        ids=id_ or (),
        tags=tag or (),
        since=since,
        until=until,
        limit=limit,
        search=search,
    )
    relays = state.relays(relay)
    auth_key = state.signer(as_) if auth else None

    connect = partial(state.pool, relays, auth=auth_key)

    def emit(event: Event) -> None:
        state.emit_encoded(event.to_json())

    with contextlib.ExitStack() as shown:
        spinner: list[Any] = []

        def asked() -> None:  # only once the REQ is out: drawn while connecting, the
            # line would share the terminal with the first events
            spinner.append(shown.enter_context(state.status(f"waiting for {len(relays)} relays…")))

        def stored_end() -> None:
            if spinner and spinner[0] is not None:
                spinner[0].stop()
            if stream:
                state.note("end of stored events; following new ones")

        ran = query.run_query(
            connect, [flt], emit, stored_end, stream=stream, timeout=timeout, on_asked=asked
        )
        sub = common.run(ran)
    from shieldmutual.client.cli import render

    render.print_stderr(state.err, render.subscription_summary(sub))
    if not query.answered(sub):
        raise RelayError("no relay answered")
