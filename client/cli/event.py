"""`mas event`: sign an event from flags, or events from JSON on stdin, and publish them.

One of nak's generic commands with `mas req` and `mas verify`: stdout carries only JSON
lines (events, or results with --json), each flushed as it is written, so
``mas req ... | mas event -r other-relay`` re-publishes as events arrive. Everything for
people (tables, progress) goes to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shieldmutual.client.cli import common, stdinjson, textin
from shieldmutual.client.errors import RelayError
from shieldmutual.client.timeparse import parse_time
from shieldmutual.shared import event as event_mod
from shieldmutual.shared import nip19
from shieldmutual.shared.errors import EventError, InvalidError
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey

if TYPE_CHECKING:
    from shieldmutual.client.pool import PublishReport

app = typer.Typer()


def parse_tag(text: str) -> list[str]:
    """``key=value`` -> ``[key, value]``; ``key=v1;v2;v3`` -> ``[key, v1, v2, v3]`` (nak)."""
    key, sep, rest = text.partition("=")
    if not key:
        raise InvalidError(f"tag {text!r} must look like key=value")
    return [key, *rest.split(";")] if sep else [key]


TEMPLATE_FIELDS = frozenset({"kind", "content", "tags", "created_at"})


def event_from_stdin(
    value: Any,
    *,
    signer: Any,
    kind: int | None,
    tags: list[list[str]],
    created_at: int | None,
) -> Event:
    """A signed event from one stdin JSON value.

    A complete signed event is passed on unchanged (after checking it) unless flags change
    it; anything else is a template (kind, content, tags, created_at) that flags extend
    and ``signer()`` signs.
    """
    if not isinstance(value, dict):
        raise EventError("each stdin value must be a JSON object (an event or a template)")
    changes = kind is not None or bool(tags) or created_at is not None
    if "sig" in value and "id" in value and not changes:
        event = Event.from_dict(value)
        event.verify()
        return event
    base_tags = value.get("tags", [])
    if not isinstance(base_tags, list):
        raise EventError("event tags must be an array")
    the_kind = kind if kind is not None else value.get("kind", 1)
    when = created_at if created_at is not None else value.get("created_at")
    content = value.get("content", "")
    return event_mod.sign(signer(), the_kind, content, [*base_tags, *tags], when)


# ---- mas event ----------------------------------------------------------------------------

KindOpt = Annotated[int | None, typer.Option("-k", "--kind", help="Event kind (default 1).")]
MinAcksOpt = Annotated[
    int,
    typer.Option("--min-acks", min=0, help="Exit 0 only if this many relays accept each event."),
]


@app.command("event")
def event_cmd(
    ctx: typer.Context,
    kind: KindOpt = None,
    content: Annotated[str | None, typer.Option("-c", "--content", help="Content.")] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("-t", "--tag", metavar="KEY=VALUE", help="Tag; KEY=v1;v2 for more values."),
    ] = None,
    e: Annotated[
        list[str] | None, typer.Option("-e", metavar="ID", help="Shortcut for -t e=ID.")
    ] = None,
    p: Annotated[
        list[str] | None, typer.Option("-p", metavar="PUBKEY", help="Shortcut for -t p=PUBKEY.")
    ] = None,
    d: Annotated[str | None, typer.Option("-d", help="Shortcut for -t d=VALUE.")] = None,
    created_at: Annotated[
        str | None, typer.Option("--created-at", help="Time, e.g. 'now', '1h ago', unix.")
    ] = None,
    relay: common.RelayOption = None,
    min_acks: MinAcksOpt = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Sign and print, do not publish.")
    ] = False,
    throwaway: Annotated[
        bool, typer.Option("--throwaway", help="Sign with a fresh key that is not stored.")
    ] = False,
    auth: common.AuthOption = False,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Sign an event from flags, or events from JSON on stdin, and publish to every relay.

    stdout: the signed event JSON (one line each); with --json, one result line per relay.
    stderr: a table of what each relay said. Events on stdin are read when stdin is not a
    terminal and -c is not given: complete signed events are passed on unchanged (unless
    -k/-t/--created-at change them), templates are signed.
    """
    state = common.state(ctx)
    json_out = state.want_json(json_)
    extra_tags = [parse_tag(t) for t in tag or []]
    extra_tags += [["e", nip19.event_id_hex(x)] for x in e or []]
    extra_tags += [["p", nip19.pubkey_hex(x)] for x in p or []]
    if d is not None:
        extra_tags.append(["d", d])
    when = parse_time(created_at) if created_at is not None else None
    if content is not None and not throwaway:
        state.check_identity(as_)
    relays = None if dry_run else state.relays(relay)

    secret: list[SecretKey] = []

    def signer() -> SecretKey:
        if not secret:
            secret.append(state.signer(as_, throwaway))
        return secret[0]

    from_stdin = content is None and not textin.stdin_is_terminal()
    if from_stdin:
        events = _from_stdin(signer, kind, extra_tags, when)
    else:  # signed now: a passphrase prompt must not share the terminal with a spinner
        signed = event_mod.sign(
            signer(), 1 if kind is None else kind, content or "", extra_tags, when
        )
        events = _just(signed)
    if relays is None:  # --dry-run
        common.run(_print_all(state, events))
        return
    from shieldmutual.client.publish import publish_each  # the pool: not for --dry-run

    shown = _Shown(state, min_acks, json_out, many=from_stdin)
    connect = partial(state.pool, relays, auth=signer() if auth else None)
    if from_stdin:
        count = common.run(publish_each(connect, events, shown.report))
    else:
        with state.status(f"publishing to {len(relays)} relays…"):
            count = common.run(publish_each(connect, events, shown.report))
    if not count:
        raise InvalidError("no events on stdin (or pass -c CONTENT)")
    if shown.failures:
        raise RelayError(
            f"{shown.failures} event(s) reached fewer than {min_acks} relay(s)"
            if shown.failures > 1 or from_stdin
            else f"fewer than {min_acks} relay(s) accepted the event"
        )


async def _from_stdin(
    signer: Callable[[], SecretKey], kind: int | None, tags: list[list[str]], when: int | None
) -> AsyncIterator[Event]:
    """Each JSON value on stdin as a signed event, read as it arrives."""
    async for line, value in stdinjson.aiter_thread(stdinjson.read_json_values(sys.stdin)):
        try:
            yield event_from_stdin(value, signer=signer, kind=kind, tags=tags, created_at=when)
        except InvalidError as exc:
            raise type(exc)(f"stdin line {line}: {exc}") from None


async def _just(event: Event) -> AsyncIterator[Event]:
    yield event


async def _print_all(state: common.State, events: AsyncIterator[Event]) -> None:
    """--dry-run: the signed events on stdout, nothing published."""
    count = 0
    async for event in events:
        state.emit_encoded(event.to_json())
        count += 1
    if not count:
        raise InvalidError("no events on stdin")


class _Shown:
    """What `mas event` shows of each report: per-relay results on stderr, and on stdout
    only what the relays hold (the event, or with --json its per-relay rows)."""

    def __init__(self, state: common.State, min_acks: int, json_out: bool, many: bool) -> None:
        self.state, self.min_acks, self.json_out, self.many = state, min_acks, json_out, many
        self.failures = 0

    def report(self, report: PublishReport) -> None:
        from shieldmutual.client.cli import render

        state = self.state
        held = report.ok(self.min_acks)
        self.failures += not held
        if self.json_out and held:
            for r in report.results:
                state.emit_json(r.to_dict())
        elif self.many:
            render.print_stderr(state.err, render.publish_line(report, self.min_acks))
        else:
            render.print_stderr(state.err, render.publish_table(report, self.min_acks))
        if held and not self.json_out:
            state.emit_encoded(report.event.to_json())
