"""`mas encode` / `mas decode`: every NIP-19 form (npub, nsec, note, nprofile, nevent, naddr)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from shieldmutual.client.cli import common, textin
from shieldmutual.client.config import normalize_relays
from shieldmutual.shared import nip19
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.nip19 import event_id_hex, pubkey_hex

app = typer.Typer()
encode_app = typer.Typer(
    help="Encode hex keys, ids and pointers as NIP-19 (npub, nsec, note, nprofile, nevent, naddr).",
    no_args_is_help=True,
)
app.add_typer(encode_app, name="encode")

RelayHints = Annotated[
    list[str] | None, typer.Option("-r", "--relay", metavar="URL", help="Relay hint (repeat).")
]


def _hints(relays: list[str] | None) -> list[str]:
    return normalize_relays(relays or [])


def _values(args: list[str] | None) -> Iterator[str]:
    """The arguments, or else one value per non-empty stdin line."""
    if args:
        yield from args
        return
    if textin.stdin_is_terminal():
        raise InvalidError("give a value, or pipe values on stdin")
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


ValuesArg = Annotated[list[str] | None, typer.Argument(metavar="[HEX...]", help="Default: stdin.")]


@encode_app.command("npub")
def npub(ctx: typer.Context, values: ValuesArg = None) -> None:
    """Public key (hex) -> npub."""
    state = common.state(ctx)
    for value in _values(values):
        state.emit_line(nip19.npub_encode(pubkey_hex(value)))


@encode_app.command("nsec")
def nsec(ctx: typer.Context, values: ValuesArg = None) -> None:
    """Secret key (hex, from stdin preferably) -> nsec."""
    state = common.state(ctx)
    if values:
        state.warn("a secret on the command line can leak through shell history; use stdin")
    for value in _values(values):
        state.emit_line(nip19.nsec_encode(value.strip().lower()))


@encode_app.command("note")
def note(ctx: typer.Context, values: ValuesArg = None) -> None:
    """Event id (hex) -> note."""
    state = common.state(ctx)
    for value in _values(values):
        state.emit_line(nip19.note_encode(event_id_hex(value)))


@encode_app.command("nprofile")
def nprofile(ctx: typer.Context, values: ValuesArg = None, relay: RelayHints = None) -> None:
    """Public key (hex or npub) and relay hints -> nprofile."""
    state = common.state(ctx)
    for value in _values(values):
        state.emit_line(nip19.nprofile_encode(pubkey_hex(value), _hints(relay)))


@encode_app.command("nevent")
def nevent(
    ctx: typer.Context,
    values: ValuesArg = None,
    relay: RelayHints = None,
    author: Annotated[str | None, typer.Option("-a", "--author", metavar="PUBKEY")] = None,
    kind: Annotated[int | None, typer.Option("-k", "--kind", min=0)] = None,
) -> None:
    """Event id (hex or note), relay hints, author and kind -> nevent."""
    state = common.state(ctx)
    who = pubkey_hex(author) if author else None
    for value in _values(values):
        state.emit_line(nip19.nevent_encode(event_id_hex(value), _hints(relay), who, kind))


@encode_app.command("naddr")
def naddr(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Option("-d", "--identifier", help="The d tag.")],
    author: Annotated[str, typer.Option("-a", "--author", metavar="PUBKEY")],
    kind: Annotated[int, typer.Option("-k", "--kind", min=0)],
    relay: RelayHints = None,
) -> None:
    """Address of an addressable event (kind, author, d tag) -> naddr."""
    state = common.state(ctx)
    state.emit_line(nip19.naddr_encode(identifier, pubkey_hex(author), kind, _hints(relay)))


def decoded_dict(prefix: str, value: Any) -> dict[str, Any]:
    """JSON-ready form of :func:`nip19.decode`'s result."""
    if isinstance(value, str):
        return {"type": prefix, "hex": value}
    if isinstance(value, nip19.Profile):
        return {"type": prefix, "pubkey": value.pubkey, "relays": list(value.relays)}
    if isinstance(value, nip19.EventPointer):
        return {
            "type": prefix,
            "id": value.id,
            "relays": list(value.relays),
            "author": value.author,
            "kind": value.kind,
        }
    return {
        "type": prefix,
        "identifier": value.identifier,
        "pubkey": value.pubkey,
        "kind": value.kind,
        "relays": list(value.relays),
    }


@app.command("decode")
def decode(
    ctx: typer.Context,
    values: Annotated[
        list[str] | None, typer.Argument(metavar="[NIP19...]", help="Default: stdin.")
    ] = None,
    json_: common.JsonOption = False,
) -> None:
    """NIP-19 (npub, nsec, note, nprofile, nevent, naddr, with or without nostr:) -> hex/JSON.

    npub, nsec and note print as hex; the pointer forms as a JSON object. --json prints a
    JSON object for every form.
    """
    state = common.state(ctx)
    for value in _values(values):
        prefix, decoded = nip19.decode(value)
        if isinstance(decoded, str) and not state.want_json(json_):
            state.emit_line(decoded)
        else:
            state.emit_json(decoded_dict(prefix, decoded))
