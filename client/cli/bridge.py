"""`mas bridge smtp` and `mas bridge email`: requests of chosen societies to mailing lists.

    mas bridge smtp --host smtp.example.org --user desk --from desk@example.org --password-stdin
    mas bridge email add north-aid@lists.example --society north -r wss://relay.example \\
        --extras update,report,status            # or --digest for one message a day
    mas bridge email                              # runs until stopped (a service)
    mas bridge email --once                       # one pass (cron, tests)

The SMTP settings and the lists are sealed (client/mailer.py, client/bridge_state.py);
the password is read from stdin or kept in a 0600 file, never taken from the command
line or the environment. A service gets the home key from the agent (`mas unlock`).
"""

from __future__ import annotations

import asyncio
import getpass
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer

from shieldmutual.client import bridge as bridge_mod
from shieldmutual.client import mailer
from shieldmutual.client.bridge_state import (
    DEFAULT_RATE,
    DIGEST,
    EACH,
    EXTRAS,
    BridgeRecord,
    ListEntry,
)
from shieldmutual.client.cli import common, textin
from shieldmutual.client.errors import ConfigError
from shieldmutual.client.pool import Pool
from shieldmutual.client.timeparse import parse_time

app = typer.Typer(help="Bridge requests to outside Nostr: mailing lists.", no_args_is_help=True)
email_app = typer.Typer(help="Mail new requests of chosen societies to mailing lists.")
app.add_typer(email_app, name="email")


@app.command("smtp")
def smtp(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="SMTP server.")] = None,
    sender: Annotated[
        str | None, typer.Option("--from", metavar="ADDR", help="From address.")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default 587, 465 or 25.")] = None,
    security: Annotated[
        str, typer.Option("--security", help="starttls (default), tls, or plain (loopback only).")
    ] = "starttls",
    user: Annotated[str | None, typer.Option("--user", help="Login name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password (one line) from stdin.")
    ] = False,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="A 0600 file holding the password.")
    ] = None,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="Trust this CA for the server's cert.")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per SMTP step.")] = 30.0,
) -> None:
    """Set the SMTP server the bridge (and alarms) send through; without --host, show it."""
    state = common.state(ctx)
    if host is None:
        settings = mailer.load_settings(state.home)
        if state.json:
            state.emit_json({**settings.to_dict(), "password": bool(settings.password)})
        else:
            state.emit_line(settings.described())
        return
    if sender is None:
        raise typer.BadParameter("--from is required with --host")
    password = None
    if password_stdin:
        if textin.stdin_is_terminal():  # a person typing: no echo
            password = getpass.getpass("SMTP password: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ConfigError("--password-stdin: stdin held no password")
    settings = mailer.MailSettings(
        host=host,
        sender=sender,
        port=port,
        security=security,
        username=user,
        password=password,
        password_file=str(password_file.absolute()) if password_file else None,
        ca_file=str(ca_file.absolute()) if ca_file else None,
        timeout=timeout,
    )
    mailer.save_settings(state.home, settings)
    state.note(f"mail goes through {settings.described()}")


def _extras(text: str) -> tuple[str, ...]:
    chosen = tuple(e.strip() for e in text.split(",") if e.strip())
    return EXTRAS if chosen == ("all",) else chosen


@email_app.command("add")
def add(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(metavar="LIST", help="The list's address.")],
    society: Annotated[
        list[str], typer.Option("--society", "-s", metavar="SLUG", help="Society (repeatable).")
    ],
    relay: common.RelayOption = None,
    digest: Annotated[
        bool, typer.Option("--digest", help="One message a day (UTC) instead of one per request.")
    ] = False,
    extras: Annotated[
        str,
        typer.Option("--extras", metavar="LIST", help="Also mail: update,report,status or all."),
    ] = "",
    list_id: Annotated[
        str, typer.Option("--list-id", help="List-Id header (default: from the address).")
    ] = "",
    rate: Annotated[
        int, typer.Option("--rate", min=1, help="At most this many messages an hour.")
    ] = DEFAULT_RATE,
    since: Annotated[
        str, typer.Option("--since", help="Mail requests from this time on (default: now).")
    ] = "now",
) -> None:
    """Mail a society's new requests to a list (replaces the list's settings, keeps its
    record of what was sent)."""
    state = common.state(ctx)
    entry = ListEntry(
        address,
        tuple(society),
        tuple(state.relays(relay)),
        DIGEST if digest else EACH,
        _extras(extras),
        list_id,
        rate,
        parse_time(since),
    )
    record = BridgeRecord(state.home)
    with record.edit() as lists:
        old = lists.get(address)
        if old is not None:
            entry.since, entry.sent, entry.known = old.since, old.sent, old.known
            entry.recent, entry.digest_day = old.recent, old.digest_day
            entry.digest_items = old.digest_items
        lists[address] = entry
    state.note(f"{address}: {entry.mode} for {', '.join(entry.societies)}")


@email_app.command("remove")
def remove(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(metavar="LIST", help="The list's address.")],
) -> None:
    """Stop mailing a list and forget its record."""
    state = common.state(ctx)
    record = BridgeRecord(state.home)
    with record.edit() as lists:
        if lists.pop(address, None) is None:
            raise ConfigError(f"no list {address!r} in the bridge")
    state.note(f"{address}: removed")


@email_app.command("list")
def list_(ctx: typer.Context, json_: common.JsonOption = False) -> None:
    """The lists the bridge mails, with what each gets."""
    state = common.state(ctx)
    record = BridgeRecord.load(state.home)
    for entry in record.lists.values():
        if state.want_json(json_):
            state.emit_json(entry.public_dict())
        else:
            extras = ",".join(entry.extras) or "-"
            state.emit_line(
                f"{entry.address}  {entry.mode}  societies={','.join(entry.societies)}  "
                f"extras={extras}  sent={len(entry.sent)}  waiting={len(entry.digest_items)}"
            )
    if not record.lists:
        state.note("no lists: add one with `mas bridge email add LIST --society SLUG`")


@email_app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (cron).")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.01, help="Seconds between passes.")
    ] = 60.0,
    retry_after: Annotated[
        float,
        typer.Option("--retry-after", min=0.0, help="First wait (s) when the server fails."),
    ] = 2.0,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIME",
            hidden=True,  # tests only
            help="Judge the time (digest day) as this; --once only.",
        ),
    ] = None,
) -> None:
    """Run the bridge: mail each list what is new (without a subcommand).

    Exits non-zero after --once when a list failed (SMTP refused or down, no relay
    answered); whatever was not sent is sent by the next run, never twice.
    """
    if ctx.invoked_subcommand is not None:
        return
    if now is not None and not once:
        raise typer.BadParameter("--now is for --once")
    state = common.state(ctx)
    fixed = parse_time(now) if now else None
    record = BridgeRecord.load(state.home)
    if not record.lists:
        raise ConfigError("no lists: add one with `mas bridge email add LIST --society SLUG`")
    settings = mailer.load_settings(state.home)

    def connect(relays: Sequence[str]) -> Pool:
        return state.pool(list(relays))

    def report(outcome: bridge_mod.Outcome) -> None:
        if outcome.sent or outcome.gathered or outcome.held:
            state.note(
                f"sent {outcome.sent}, kept for a digest {outcome.gathered}, "
                f"held by the rate limit {outcome.held}"
            )
        for error in outcome.errors:
            state.warn(error)

    bridge = bridge_mod.Bridge(
        record,
        settings,
        connect,
        clock=lambda: int(time.time()) if fixed is None else fixed,
        retry=mailer.Retry(first=retry_after),
        notify=state.warn,
    )
    outcome = common.run(_until_stopped(bridge, once, interval, report))
    if outcome is not None and outcome.errors:
        raise typer.Exit(common.EXIT_FAILURE)


async def _until_stopped(
    bridge: bridge_mod.Bridge,
    once: bool,
    interval: float,
    report: Callable[[bridge_mod.Outcome], None],
) -> bridge_mod.Outcome | None:
    """The bridge's cycles; SIGTERM (systemd's stop) ends them like Ctrl-C does, letting
    a message being sent finish and be recorded, and exits 0 (None)."""
    task = asyncio.current_task()
    assert task is not None
    stopped = asyncio.Event()

    def stop() -> None:
        stopped.set()
        task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
    try:
        return await bridge_mod.run(bridge, once=once, interval=interval, report=report)
    except asyncio.CancelledError:
        if stopped.is_set():
            return None
        raise
