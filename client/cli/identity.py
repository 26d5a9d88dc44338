"""`mas id`: identities are keypairs, kept only as NIP-49 ncryptsec; `mas unlock`/`lock`."""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shieldmutual.client import agent
from shieldmutual.client.cli import common, fmt, textin
from shieldmutual.client.cli.plain import Column
from shieldmutual.client.errors import IdentityError, PassphraseError
from shieldmutual.client.keystore import Identity, parse_secret
from shieldmutual.shared import nip19, nip49
from shieldmutual.shared.errors import CryptoError, InvalidError
from shieldmutual.shared.keys import SecretKey

if TYPE_CHECKING:  # types only: `id list` must load neither websockets nor profiles
    from shieldmutual.shared.profile import Profile

app = typer.Typer(
    help="Identities: create, import, list, choose, show, profile, export, remove.",
    no_args_is_help=True,
)

NameArg = Annotated[str | None, typer.Argument(metavar="NAME", help="Identity name.")]


def _describe(state: common.State, ident: Identity) -> dict[str, object]:
    return {
        "name": ident.name,
        "npub": ident.npub,
        "pubkey": ident.pubkey,
        "default": ident.name == state.config.identity,
        "throwaway": ident.throwaway,
        "created_at": ident.created_at,
    }


def store_identity(
    state: common.State, name: str | None, secret: SecretKey, **kw: bool
) -> Identity:
    """Seal ``secret`` as a new identity (`id new`, `id import`, `mas init`)."""
    name = name or state.keystore.suggest_name(secret.public_hex)
    if state.keystore.exists(name):  # before the passphrase prompt, not after
        raise IdentityError(f"an identity named {name!r} already exists")
    ident = state.keystore.add(name, secret, state.unlocker.passphrase(), **kw)
    agent.add(state.paths, secret)  # while unlocked, a new identity is unlocked too
    return ident


def made_default_if_first(state: common.State, ident: Identity) -> None:
    """A first identity becomes the one commands use, so nobody has to `mas id use` it."""
    if state.config.identity is None or not state.keystore.exists(state.config.identity):
        state.config.identity = ident.name
        state.save_config()


def _report(state: common.State, ident: Identity, verb: str, json_: bool) -> None:
    if state.want_json(json_):
        state.emit_json(_describe(state, ident))
        return
    default = " (default)" if ident.name == state.config.identity else ""
    state.out.print(f"{verb} identity {ident.name}{default}", markup=False)
    state.out.print(ident.npub, markup=False)


@app.command("new")
def new(
    ctx: typer.Context,
    name: NameArg = None,
    throwaway: Annotated[
        bool,
        typer.Option(
            "--throwaway",
            help="A one-off key: not stored unless NAME is given (then marked throwaway).",
        ),
    ] = False,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="With --throwaway and no NAME: print the nsec too.")
    ] = False,
    json_: common.JsonOption = False,
) -> None:
    """Create a new keypair. The secret is sealed with this home's passphrase."""
    state = common.state(ctx)
    secret = SecretKey.generate()
    if throwaway and name is None:
        npub = fmt.npub(secret.public_hex)
        nsec = nip19.nsec_encode(secret.secret) if reveal else None
        if state.want_json(json_):
            state.emit_json({"npub": npub, "pubkey": secret.public_hex, "nsec": nsec})
        else:
            state.out.print(npub, markup=False)
            if nsec:
                state.out.print(nsec, markup=False)
        state.note("throwaway key: not stored" + ("" if reveal else "; --reveal prints its nsec"))
        return
    ident = store_identity(state, name, secret, throwaway=throwaway, handled_securely=True)
    made_default_if_first(state, ident)
    _report(state, ident, "created", json_)


@app.command("import")
def import_(
    ctx: typer.Context,
    name: NameArg = None,
    secret: Annotated[str | None, typer.Argument(hidden=True)] = None,
    allow_log_n: Annotated[
        int,
        typer.Option(
            "--allow-log-n",
            metavar="N",
            min=1,
            max=nip49.MAX_LOG_N,
            help=f"Accept an ncryptsec whose scrypt cost is up to N (above "
            f"{nip49.SAFE_LOG_N}, 2**N KiB of memory).",
        ),
    ] = nip49.SAFE_LOG_N,
    json_: common.JsonOption = False,
) -> None:
    """Import a secret key (nsec, hex or ncryptsec), read from a prompt or stdin."""
    state = common.state(ctx)
    if secret is not None:  # never echoed back: it may be a key
        raise InvalidError(
            "a secret is never taken on the command line (shell history, process lists): "
            "pipe it on stdin or type it at the prompt"
        )
    if textin.stdin_is_terminal():
        import getpass

        text = getpass.getpass("Secret key (nsec, hex or ncryptsec): ")
    else:
        text = next((line for line in sys.stdin if line.strip()), "")
    if not text.strip():
        raise InvalidError("no secret key given (stdin was empty)")
    parsed = parse_secret(text)
    if parsed.ncryptsec is not None:
        ident = _import_ncryptsec(state, name, parsed.ncryptsec, allow_log_n)
    else:
        assert parsed.secret is not None
        ident = store_identity(state, name, parsed.secret, handled_securely=False)
    made_default_if_first(state, ident)
    _report(state, ident, "imported", json_)


def _import_ncryptsec(
    state: common.State, name: str | None, ncryptsec: str, allow_log_n: int
) -> Identity:
    """Kept unchanged: its passphrase must be this home's (a new home takes it on)."""
    if name is not None and state.keystore.exists(name):
        raise IdentityError(f"an identity named {name!r} already exists")
    nip49.check_cost(ncryptsec, allow_log_n)  # before any question or scrypt work
    passphrase = state.unlocker.passphrases.get("Passphrase of this ncryptsec: ")
    try:
        secret = SecretKey(nip49.decrypt(ncryptsec, passphrase, max_log_n=allow_log_n))
    except CryptoError:
        raise PassphraseError("wrong passphrase for this ncryptsec") from None
    try:
        state.unlocker.passphrase()
    except PassphraseError:
        raise PassphraseError(
            "this ncryptsec opens, but its passphrase is not this home's; every key here "
            "shares the home's passphrase: re-seal it with that passphrase first, or "
            "import it into another home (MAS_HOME)"
        ) from None
    ident = state.keystore.add_opened_ncryptsec(name, ncryptsec, secret)
    agent.add(state.paths, secret)
    return ident


IDENTITY_COLUMNS = (
    Column(""),
    Column("name", style="bold"),
    Column("npub", overflow="fold"),
    Column("created"),
    Column(""),
)


@app.command("list")
def list_(ctx: typer.Context, json_: common.JsonOption = False) -> None:
    """List identities; * marks the default."""
    state = common.state(ctx)
    identities = state.keystore.list()
    if state.want_json(json_):
        for ident in identities:
            state.emit_json(_describe(state, ident))
        return
    if not identities:
        state.note("no identities yet: create one with `mas id new NAME`")
        return
    default = state.config.identity
    rows = [
        [
            "*" if ident.name == default else "",
            ident.name,
            ident.npub,
            fmt.day(ident.created_at),
            "throwaway" if ident.throwaway else "",
        ]
        for ident in identities
    ]
    state.print_table(IDENTITY_COLUMNS, rows)


@app.command("use")
def use(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Make NAME the default identity."""
    state = common.state(ctx)
    ident = state.keystore.get(name)
    state.config.identity = ident.name
    state.save_config()
    state.note(f"default identity is now {ident.name}")


@app.command("show")
def show(
    ctx: typer.Context,
    name: NameArg = None,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Show an identity's npub and nprofile (with up to three of your relays)."""
    state = common.state(ctx)
    ident = state.keystore.get(name or state.identity_name(as_))
    nprofile = ident.nprofile(state.config.relays[:3])
    if state.want_json(json_):
        state.emit_json({**_describe(state, ident), "nprofile": nprofile})
        return
    for label, value in (
        ("name", ident.name),
        ("npub", ident.npub),
        ("pubkey", ident.pubkey),
        ("nprofile", nprofile),
    ):
        state.out.print(f"{label:9}{value}", markup=False)


def _field_option(help_: str) -> Any:
    return typer.Option(help=f'{help_} ("" removes it; unset: kept as published).')


def _show_profile(state: common.State, pubkey: str, profile: Profile | None, json_: bool) -> None:
    if state.want_json(json_):
        fields = profile.to_dict() if profile else {"pubkey": pubkey, "created_at": None}
        state.emit_json({**fields, "npub": fmt.npub(pubkey)})
        return
    if profile is None:
        state.note("no profile published on these relays yet")
        return
    from shieldmutual.client.cli.peoplerender import profile_grid

    table = profile_grid(profile)
    state.out.print(table, markup=False, highlight=False)


@app.command("profile")
def profile(
    ctx: typer.Context,
    name: Annotated[str | None, _field_option("The name other apps show for you")] = None,
    about: Annotated[str | None, _field_option("A line about you")] = None,
    picture: Annotated[str | None, _field_option("An http(s) URL of a picture")] = None,
    lud16: Annotated[
        str | None,
        _field_option("Your Lightning address (name@example.com): zaps from any app reach you"),
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Show the published profile.")] = False,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Publish your public profile (kind 0), merged with the one already published.

    Fields you do not pass keep their published value, including fields other apps
    wrote. A profile is public: it links this identity to the name and address in it.
    """
    from shieldmutual.client import profiles
    from shieldmutual.shared.profile import WRITABLE, merge

    state = common.state(ctx)
    changes = {"name": name, "about": about, "picture": picture, "lud16": lud16}
    if show == any(v is not None for v in changes.values()):
        raise InvalidError("pass --show, or the fields to publish (--name, --about, ...)")
    merge({}, changes)  # bad input fails before any passphrase or relay
    relays = state.relays(relay)
    ident = state.keystore.get(state.identity_name(as_))
    secret = None if show else state.unlocker.secret(state.keystore, ident.name)

    edit = common.run(
        profiles.edit_profile(partial(state.pool, relays), ident.pubkey, changes, secret)
    )
    if edit.report is None:
        _show_profile(state, ident.pubkey, edit.current, json_)
        return
    state.note("a profile is public: anyone can read it and link it to this identity")
    shown = {k: edit.fields.get(k) for k in WRITABLE}
    common.show_nevent(state, edit.report, min_acks, json_, relays, profile=shown)


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not textin.stdin_is_terminal():
        raise InvalidError("this needs a confirmation: run it in a terminal or add --yes")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(common.EXIT_FAILURE)


@app.command("export")
def export(
    ctx: typer.Context,
    name: NameArg = None,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Print the secret key in clear (nsec).")
    ] = False,
    yes: common.YesOption = False,
    as_: common.AsOption = None,
) -> None:
    """Print the ncryptsec (safe to back up); with --reveal, the nsec in clear."""
    state = common.state(ctx)
    name = name or state.identity_name(as_)
    if not reveal:
        state.emit_line(state.keystore.ncryptsec(name))
        return
    state.keystore.get(name)
    _confirm(f"Print the secret key of {name} in clear?", yes)
    secret = state.unlocker.secret(state.keystore, name)
    state.warn("anyone who sees this nsec can act as you; keep it off screens and logs")
    state.emit_line(nip19.nsec_encode(secret.secret))


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    yes: common.YesOption = False,
) -> None:
    """Delete an identity's key file (export it first if you may need it again)."""
    state = common.state(ctx)
    ident = state.keystore.get(name)
    _confirm(f"Delete identity {ident.name} ({ident.npub}) for good?", yes)
    state.keystore.remove(name)
    if state.config.identity == name:
        state.config.identity = None
        state.save_config()
    state.note(f"removed identity {name}")
