"""`mas verify`: check the id and signature of each event on stdin, passing valid ones on."""

from __future__ import annotations

import sys

import typer

from shieldmutual.client.cli import common, stdinjson
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.event import Event
from shieldmutual.shared.untrusted import one_line

app = typer.Typer()


@app.command("verify")
def verify_cmd(ctx: typer.Context, json_: common.JsonOption = False) -> None:
    """Check the id and signature of each event on stdin.

    Valid events are passed through to stdout unchanged, so it can sit in a pipe; each
    invalid one is reported on stderr. With --json: one result line per event instead.
    Exits 1 if any event is invalid.
    """
    state = common.state(ctx)
    json_out = state.want_json(json_)
    total = bad = 0
    for line, value in stdinjson.read_json_values(sys.stdin):
        total += 1
        event_id = value.get("id") if isinstance(value, dict) else None
        try:
            event = Event.from_dict(value)
            event.verify()
        except InvalidError as exc:
            bad += 1
            if json_out:
                state.emit_json({"id": event_id, "valid": False, "error": str(exc)})
            else:
                state.err.print(
                    one_line(f"invalid (stdin line {line}) {event_id or ''}: {exc}"),
                    style="red",
                    markup=False,
                    highlight=False,
                )
            continue
        if json_out:
            state.emit_json({"id": event.id, "valid": True, "error": None})
        else:
            state.emit_encoded(event.to_json())
    if not total:
        raise InvalidError("no events on stdin")
    state.note(f"{total - bad} valid, {bad} invalid")
    if bad:
        raise typer.Exit(common.EXIT_FAILURE)
