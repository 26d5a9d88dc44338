"""`mas dm send|read|relays`: NIP-17 private messages, gift-wrapped so relays learn nothing.

* ``send`` wraps one kind 14 message per recipient plus one for yourself (so you can
  read what you sent), and publishes each apart (client/private_send.py): its own
  connection, its own random delay, AUTH with a throwaway key (never yours, which would
  tie you to the recipient), and its recipient's kind 10050 relays looked up there. The
  text comes from stdin or $EDITOR, never the command line (`ps`, shell history).
* ``read`` authenticates as you (NIP-42), because relays serve gift wraps only to the
  person they are addressed to, and shows the messages that open and verify.
  Champion check-ins, hand-overs and stand-downs are hidden unless ``--all``;
  `mas champion watch` is where they matter. Private pledges show as the messages they are.
* ``relays`` publishes (with URLs) or shows (without) your kind 10050 DM relay list.

stdout: one JSON line per message with ``--json``, else a table; stderr: relay results.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from shieldmutual.client import dms
from shieldmutual.client.cli import common, contacts, dmrender, fmt, render, textin
from shieldmutual.client.config import normalize_relays
from shieldmutual.client.errors import RelayError
from shieldmutual.client.private_send import Outgoing
from shieldmutual.shared import nip17
from shieldmutual.shared.aid.common import normalize_text
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.untrusted import visible

app = typer.Typer(
    help="Private messages (NIP-17): send, read, and where to receive them.", no_args_is_help=True
)


@app.command("send")
def send_cmd(
    ctx: typer.Context,
    to: Annotated[
        str, typer.Argument(metavar="NPUB", help="The recipient (npub, hex or a petname).")
    ],
    message: Annotated[
        str,
        typer.Argument(
            metavar="[-]",
            help="The text comes from stdin, or $EDITOR in a terminal; never the command line.",
        ),
    ] = "-",
    subject: Annotated[str | None, typer.Option("--subject", help="A subject line.")] = None,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Send a private message. Relays see only a one-time key and the recipient."""
    state = common.state(ctx)
    recipient = contacts.resolve(state, to)
    text = normalize_text(textin.private_text(message, "a private message"))
    if not text:
        raise InvalidError("the message is empty")
    relays, secret = state.relays_and_signer(relay, as_)
    rumor = nip17.dm_rumor(secret.public_hex, [recipient], text, subject=subject)
    # The recipient's wrap and your self-copy go apart, each asking for its own
    # recipient's DM relays on its own connection: together they would show who wrote
    # to whom, and with the self-copy even in which direction.
    items = [
        Outgoing(wrap, "message" if owner == recipient else "your copy", owner, lookup=True)
        for owner, wrap in nip17.wrap_dm(secret, rumor).items()
    ]
    results = dict(zip([item.to for item in items], state.send_private(relays, items), strict=True))
    delivered = results[recipient]
    if state.want_json(json_):
        state.emit_json(
            {
                "id": rumor.id,
                "to": fmt.npub(recipient),
                "results": [r.to_dict() for rep in results.values() for r in rep.results],
            }
        )
    else:
        render.print_stderr(state.err, render.publish_table(delivered, 1))
        state.emit_line(rumor.id)
    if not delivered.ok():
        raise RelayError("no relay accepted the message for the recipient")


@app.command("read")
def read_cmd(
    ctx: typer.Context,
    from_: Annotated[
        str | None,
        typer.Option("--from", metavar="NPUB", help="Only messages from this person (or petname)."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include Shield Mutual check-ins and hand-overs.")
    ] = False,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Your private messages, oldest first (authenticates to relays as you)."""
    state = common.state(ctx)
    only = contacts.resolve(state, from_) if from_ else None
    relays, secret = state.relays_and_signer(relay, as_)

    connect = partial(state.pool, relays, auth=secret)
    messages = common.run(dms.read_messages(connect, secret, only, champion_traffic=all_))
    # Petnames only: asking relays for your correspondents' profiles would tell them
    # who writes to you, which the gift wraps exist to hide.
    names = contacts.local_names(state)
    if state.want_json(json_):
        for m in messages:
            state.emit_json(
                {
                    "id": m.id,
                    "from": fmt.npub(m.sender),
                    "from_petname": names.petnames.get(m.sender),
                    "to": [fmt.npub(p) for p in m.recipients],
                    "created_at": m.created_at,
                    "subject": m.subject,
                    "content": m.content,
                }
            )
        return
    table = dmrender.messages_table(messages, names, secret.public_hex)
    state.out.print(table, markup=False, highlight=False)
    state.note(f"{len(messages)} messages")


@app.command("relays")
def relays_cmd(
    ctx: typer.Context,
    urls: Annotated[
        list[str] | None, typer.Argument(metavar="[URL]...", help="Publish this list.")
    ] = None,
    relay: common.RelayOption = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Publish where you want DMs delivered (kind 10050), or show the current list."""
    state = common.state(ctx)
    relays, secret = state.relays_and_signer(relay, as_)
    if urls:
        event = nip17.dm_relay_list(secret, normalize_relays(urls))

        report = common.run(dms.publish_relay_list(partial(state.pool, relays), event))
        render.print_stderr(state.err, render.publish_table(report, 1))
        if not report.ok():
            raise RelayError("no relay accepted the DM relay list")
        found = nip17.parse_dm_relay_list(event)
    else:
        found = common.run(dms.relay_list(partial(state.pool, relays), secret.public_hex))
    if state.want_json(json_):
        state.emit_json({"relays": found})
    else:
        for url in found:
            state.emit_line(visible(url))
        if not found:
            state.note("no DM relay list published (`mas dm relays URL...` to publish one)")
