"""`mas contacts add|list|remove`: petnames for people, kept only on this device, sealed.

Also what every command that shows or names a person uses: :func:`local_names` (your
petnames: contacts and identities), :func:`lookup` (plus the profiles of the people on
screen, one batched REQ) and :func:`resolve` (a person given as an npub, an identity name
or a petname). How a person is drawn on a terminal is cli/peoplerender.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated

import typer

from shieldmutual.client.cli import common, fmt
from shieldmutual.client.cli.plain import Column
from shieldmutual.client.contacts import Contacts, check_petname
from shieldmutual.client.errors import IdentityError, PassphraseError
from shieldmutual.shared.errors import InvalidError

if TYPE_CHECKING:  # types only: `contacts list` loads neither websockets, rich nor profiles
    from shieldmutual.client.names import Names
    from shieldmutual.client.pool import Pool

app = typer.Typer(
    help="Your address book: petnames for people, on this device only (never published).",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The petname you give them.")]
# A person, in any form :func:`resolve` takes.
PersonArg = Annotated[
    str,
    typer.Argument(
        metavar="NPUB", help="npub, nprofile, hex, one of your identity names, or a petname."
    ),
]


def local_names(state: common.State) -> Names:
    """Your petnames (contacts and identity names). Reading them needs the home key; when
    no passphrase can be had, people are shown by npub rather than the command failing."""
    from shieldmutual.client import names as naming

    try:
        contacts = Contacts.load(state.home).by_pubkey()
        identities = [(i.name, i.pubkey) for i in state.keystore.list()]
    except PassphraseError as exc:
        state.note(f"petnames not shown ({exc}); `mas unlock` shows them")
        return naming.Names()
    return naming.Names(naming.petnames(contacts, identities))


def resolve(state: common.State, who: str) -> str:
    """A pubkey from npub/nprofile/hex, one of your identities' names, or a petname."""
    from shieldmutual.shared.nip19 import pubkey_hex

    try:
        return pubkey_hex(who)
    except InvalidError:
        pass
    with suppress(IdentityError):  # not a valid name either: the error below says so
        if state.keystore.exists(who):
            return state.keystore.get(who).pubkey
    found = Contacts.load(state.home).names.get(who)
    if found is None:
        raise InvalidError(f"{who!r} is no npub, nprofile, hex key, identity or contact")
    return found


async def lookup(pool: Pool, names: Names, pubkeys: Iterable[str]) -> Names:
    """``names`` with the profiles of ``pubkeys`` (batched REQs, petnamed people included)."""
    from shieldmutual.client import names as naming

    return await naming.lookup(pool, names, pubkeys)


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    who: Annotated[str, typer.Argument(metavar="NPUB", help="npub, nprofile or hex.")],
    json_: common.JsonOption = False,
) -> None:
    """Give someone a petname; it is shown wherever they appear, and never published."""
    from shieldmutual.shared.nip19 import pubkey_hex

    state = common.state(ctx)
    check_petname(name)
    pubkey = pubkey_hex(who)
    if state.keystore.exists(name):
        raise IdentityError(f"{name!r} is one of your identities: choose another petname")
    mine = next((i.name for i in state.keystore.list() if i.pubkey == pubkey), None)
    if mine is not None:
        raise IdentityError(f"that is your own identity {mine!r}, already named")
    book = Contacts.load(state.home)
    book.add(name, pubkey)
    book.save()
    if state.want_json(json_):
        state.emit_json({"petname": name, "pubkey": pubkey, "npub": fmt.npub(pubkey)})
    else:
        state.note(f"{name} is {fmt.npub(pubkey)}")


CONTACT_COLUMNS = (Column("petname", style="bold"), Column("npub", overflow="fold"))


@app.command("list")
def list_(ctx: typer.Context, json_: common.JsonOption = False) -> None:
    """Your contacts, by petname."""
    state = common.state(ctx)
    book = Contacts.load(state.home)
    if state.want_json(json_):
        for name, pubkey in sorted(book.names.items()):
            npub = fmt.npub(pubkey)
            state.emit_json({"petname": name, "pubkey": pubkey, "npub": npub})
        return
    if not book.names:
        state.note("no contacts yet: `mas contacts add NAME NPUB`")
        return
    rows = [[name, fmt.npub(pubkey)] for name, pubkey in sorted(book.names.items())]
    state.print_table(CONTACT_COLUMNS, rows)


@app.command("remove")
def remove(ctx: typer.Context, name: NameArg) -> None:
    """Forget a petname (the person is shown by profile name or npub again)."""
    state = common.state(ctx)
    book = Contacts.load(state.home)
    book.remove(name)
    book.save()
    state.note(f"removed contact {name}")
