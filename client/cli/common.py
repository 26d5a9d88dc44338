"""What every command module shares: the per-invocation state and the common options.

A new command group module needs only::

    import typer
    app = typer.Typer(help="...", no_args_is_help=True)

    @app.command()
    def something(ctx: typer.Context, relay: common.RelayOption = None,
                  as_: common.AsOption = None, json_: common.JsonOption = False) -> None:
        state = common.state(ctx)
        relays, secret = state.relays_and_signer(relay, as_)  # unlocks the identity once
        result = common.run(client_module.do(partial(state.pool, relays), secret, ...))

where ``client_module.do`` is a named client function (client/, no typer or rich), and
one line in cli/main.py's ``COMMAND_GROUPS``. Raise ShieldError subclasses (or
``typer.Exit(code)``) for failures; main()'s error boundary prints them on one line.
Output is cli/output.py (State's base), text read from people cli/textin.py, JSON read
from stdin cli/stdinjson.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from shieldmutual.client.cli import fmt
from shieldmutual.client.cli.exitcodes import EXIT_AUTH as EXIT_AUTH
from shieldmutual.client.cli.exitcodes import EXIT_FAILURE as EXIT_FAILURE
from shieldmutual.client.cli.exitcodes import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from shieldmutual.client.cli.exitcodes import EXIT_OK as EXIT_OK
from shieldmutual.client.cli.exitcodes import EXIT_OVERDUE as EXIT_OVERDUE
from shieldmutual.client.cli.exitcodes import EXIT_RELAYS as EXIT_RELAYS
from shieldmutual.client.cli.exitcodes import EXIT_USAGE as EXIT_USAGE
from shieldmutual.client.cli.output import Output
from shieldmutual.client.config import Config, Paths, normalize_relays
from shieldmutual.client.errors import ConfigError, IdentityError, PassphraseError, RelayError

if TYPE_CHECKING:  # imported where used: most commands need few of them (start-up time)
    from rich.console import Console
    from rich.status import Status

    from shieldmutual.client import aid, private_send
    from shieldmutual.client.handles import Handle, Handles
    from shieldmutual.client.keystore import Keystore
    from shieldmutual.client.pool import Pool, PublishReport
    from shieldmutual.client.unlock import Unlocker
    from shieldmutual.client.vault import Home
    from shieldmutual.shared.event import Event
    from shieldmutual.shared.keys import SecretKey

T = TypeVar("T")

AsOption = Annotated[
    str | None,
    typer.Option("--as", metavar="NAME", help="Identity to use (default: `mas id use`)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON lines on stdout, for scripts.")]
RelayOption = Annotated[
    list[str] | None,
    typer.Option(
        "-r", "--relay", metavar="URL", help="Relay to use instead of the configured ones."
    ),
]
AuthOption = Annotated[
    bool,
    typer.Option(
        "--auth",
        help="Answer relays' NIP-42 challenges with the identity (tells them who you are).",
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
NaddrArg = Annotated[
    str,
    typer.Argument(
        metavar="REQUEST",
        help="The request: its number or #id in your last listing, its title, or its naddr.",
    ),
]
MinAcksOption = Annotated[
    int, typer.Option("--min-acks", min=1, help="Fail (exit 3) unless this many relays accept.")
]


@dataclass
class State(Output):
    """Per-invocation state, made by the root callback and found with :func:`state`."""

    paths: Paths
    json: bool = False
    as_name: str | None = None
    verbose: bool = False
    passphrase_fd: int | None = None
    proxy: str | None = None  # socks5h://HOST:PORT for every relay connection (--proxy)
    _out: Console | None = None  # rich consoles, made when something needs rich
    _err: Console | None = None
    _plain: Config | None = None
    _private_loaded: bool = False
    _keystore: Keystore | None = None
    _unlocker: Unlocker | None = None
    _home: Home | None = None
    _spinner: Status | None = None  # the progress line on stderr, when one is shown

    # -- configuration: a plain half (no passphrase) and a sealed half --

    @property
    def plain_config(self) -> Config:
        """Timeouts and the opt-outs, read without any passphrase."""
        if self._plain is None:
            self._plain = Config.load(self.paths.config_file)
        return self._plain

    @property
    def config(self) -> Config:
        """The whole config; its relays and identity come from the sealed settings."""
        config = self.plain_config
        if not self._private_loaded:
            where = str(self.paths.settings_file)
            config.apply_private(self.home.read(self.paths.settings_file, "settings"), where)
            self._private_loaded = True
            if config.plain_private:  # an older plain config.toml: seal what it names
                self.save_config()
        return config

    def save_config(self) -> None:
        config = self.config
        self.home.write(self.paths.settings_file, "settings", config.private_part())
        config.save(self.paths.config_file)

    def page_base(self, relays: list[str]) -> str | None:
        """Where request pages are (client/pages.py): ``mas config web-base``, else the
        first of ``relays`` whose NIP-11 advertises pages."""
        from shieldmutual.client import pages

        return run(pages.page_base(relays, self.config.web_base, self.proxy))

    # -- secrets: the agent, else the passphrase --

    @property
    def unlocker(self) -> Unlocker:
        if self._unlocker is None:
            from shieldmutual.client import agent
            from shieldmutual.client.unlock import Passphrases, Unlocker

            passphrases = Passphrases(self.passphrase_fd)
            self._unlocker = Unlocker(self.paths, passphrases, lambda: agent.fetch(self.paths))
        return self._unlocker

    @property
    def home(self) -> Home:
        """The files sealed with the home key (opened only when one is read or written)."""
        if self._home is None:
            from shieldmutual.client.vault import Home

            self._home = Home(self.paths, self.unlocker.home_key)
        return self._home

    @property
    def keystore(self) -> Keystore:
        if self._keystore is None:
            from shieldmutual.client.keystore import Keystore

            sealed = self.plain_config.seal_identities
            self._keystore = Keystore(self.paths.keys_dir, self.home if sealed else None)
        return self._keystore

    def want_json(self, flag: bool) -> bool:
        return flag or self.json

    # -- relays --

    def relays(self, override: list[str] | None, hints: Sequence[str] = ()) -> list[str]:
        """``-r``, else the configured relays, else the relay hints of the naddr/nevent
        the command was given (so a link works on a fresh install), said on stderr."""
        relays = normalize_relays(override) if override else list(self.config.relays)
        if not relays and hints:
            self.note(f"no relays of your own: asking the link's {', '.join(hints)}")
            return list(hints)
        if not relays:
            raise RelayError("no relays: add one with `mas relays add URL` or pass -r URL")
        return relays

    def relays_and_signer(
        self, override: list[str] | None, as_: str | None = None, hints: Sequence[str] = ()
    ) -> tuple[list[str], SecretKey]:
        """What a command that signs and publishes needs: the relays (``-r`` or the
        configured ones; checked first, so a missing relay fails before any passphrase
        prompt) and the unlocked key (``--as``). On a fresh install, the missing identity
        is named first: it is the first thing to set up, and `mas init` asks for both."""
        self.check_identity(as_)
        return self.relays(override, hints), self.signer(as_)

    def check_identity(self, as_: str | None = None) -> None:
        """Fail early, without a passphrase, when there is no identity at all (a fresh
        install): told before "no relays", since it is the first thing to set up."""
        keys = self.paths.keys_dir
        made = self.paths.home_key_file.exists() or (keys.is_dir() and any(keys.iterdir()))
        if not (as_ or self.as_name or made):
            raise IdentityError("no identity yet: create one with `mas id new NAME` or `mas init`")

    def pool(self, override: list[str] | None, auth: SecretKey | None = None) -> Pool:
        t = self.plain_config.timeouts
        from shieldmutual.client.pool import Pool, PoolOptions

        options = PoolOptions(
            connect_timeout=t.connect, ok_timeout=t.ok, eose_timeout=t.eose, proxy=self.proxy
        )
        pool = Pool(self.relays(override), options=options, auth=auth)
        pool.on_lagging = self._lagging
        pool.on_waiting = self._waiting
        return pool

    def _waiting(self, urls: list[str]) -> None:
        """The progress line names the relays a command still waits for."""
        if self._spinner is not None:
            self._spinner.update(f"waiting for {', '.join(urls)}…")

    def _lagging(self, url: str, why: str) -> None:
        """Name the relay a command stopped waiting for, so a slow answer is explained."""
        self.note(f"{url}: {why}; going on without it")

    def anonymous_pools(self, relays: list[str]) -> Callable[[], Pool]:
        """A maker of fresh connections that answer AUTH with a throwaway key, never yours:
        a relay that saw your AUTH (or your other traffic) next to a gift wrap would learn
        who sent it. One pool per message (DMs, private pledges, champion messages)."""
        from shieldmutual.shared.keys import SecretKey

        return lambda: self.pool(relays, auth=SecretKey.generate())

    def send_private(
        self, relays: list[str], items: list[private_send.Outgoing]
    ) -> list[PublishReport]:
        """Send private items apart (client/private_send.py), a progress line for each."""
        from shieldmutual.client import private_send

        delays = private_send.delay_range()
        self.note(private_send.announce(len(items), delays))

        def progress(item: private_send.Outgoing, report: PublishReport) -> None:
            self.note(private_send.describe(item, report))

        connect = self.anonymous_pools(relays)
        return run(private_send.send_apart(connect, items, progress, delays))

    # -- identities --

    def identity_name(self, as_: str | None = None) -> str:
        """``--as`` on the command, then on ``mas``, then the default, then the only one."""
        name = as_ or self.as_name or self.config.identity
        if name:
            return name
        identities = self.keystore.list()
        if len(identities) == 1:
            return identities[0].name
        if not identities:
            raise IdentityError("no identity yet: create one with `mas id new NAME`")
        raise IdentityError("several identities and no default: pass --as NAME or `mas id use`")

    def signer(self, as_: str | None = None, throwaway: bool = False) -> SecretKey:
        """The secret key to sign with: from the agent, else unlocked with the passphrase."""
        if throwaway:
            from shieldmutual.shared.keys import SecretKey

            secret = SecretKey.generate()
            self.note(f"signing with a throwaway key {fmt.npub(secret.public_hex)} (not stored)")
            return secret
        name = self.identity_name(as_)
        return self.unlocker.secret(self.keystore, name)


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State(Paths.resolve())
    return root.obj


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine on a fresh event loop."""
    import asyncio

    return asyncio.run(coro)


# ---- requests and offers named by handle, title or naddr -------------------------------

# What is parsed as a pointer (naddr, other NIP-19 forms for their own error, coordinate);
# anything else is a handle or a title from the handle store (client/handles.py).
_POINTER = re.compile(
    r"(nostr:)?(naddr|nevent|note|npub|nprofile|nsec)1\S*$|\d+:[0-9a-f]{64}:", re.I
)


def request_pointer(state: State, text: str, kind: str = "request") -> aid.RequestPointer:
    """The request (or offer, ``kind="offer"``) a command names: an naddr, ``nostr:`` link
    or coordinate as it is; else a row number, ``#id`` or title from your last listings.
    Resolved here, so nothing about handles ever reaches a relay."""
    from shieldmutual.client import aid
    from shieldmutual.client.handles import Handles

    value = text.strip()
    if _POINTER.match(value):
        return aid.parse_pointer(value)
    address, relays = Handles.load(state.home).resolve(value, kind)
    return aid.RequestPointer(address, relays)


def handle_store(state: State) -> tuple[Handles, bool]:
    """The handle store, and whether it may be saved: a listing must neither create a
    home (and ask for a new passphrase) nor fail when no passphrase can be had, nor
    because the store (a cache of what was listed) is damaged: it starts afresh."""
    from shieldmutual.client.handles import HANDLES_FILE, Handles

    path = state.paths.state_dir / HANDLES_FILE
    if not state.paths.home_key_file.exists():
        return Handles(state.home, path), False
    try:
        return Handles.load(state.home), True
    except PassphraseError as exc:
        state.note(f"numbers and #ids not remembered ({exc})")
        return Handles(state.home, path), False
    except ConfigError as exc:
        state.warn(f"{exc}; the numbers and #ids of earlier listings are forgotten")
        return Handles(state.home, path), True


def remember(state: State, kind: str, rows: list[tuple[Any, str, list[str]]]) -> dict[str, Handle]:
    """Number the rows (address, title, relay hints) of a new listing of ``kind``, keyed
    by coordinate, and remember them so the next command can take ``1`` or ``#id``. An
    empty listing keeps the last one's numbers: nothing shown, nothing to number."""
    if not rows:
        return {}
    store, saveable = handle_store(state)
    store.start(kind)
    handles = {str(address): store.add(kind, address, t, hints) for address, t, hints in rows}
    if saveable:
        store.save()
    return handles


# ---- publishing: what every command that publishes one event prints ------------------


def show_published(
    state: State,
    report: PublishReport,
    min_acks: int,
    json_out: bool,
    pointer: str,
    **extra: Any,
) -> None:
    """The per-relay table on stderr, then the pointer (or one JSON object) on stdout;
    nothing on stdout when too few relays hold the event (exit 3)."""
    from shieldmutual.client import aid
    from shieldmutual.client.cli import render

    if not report.ok(min_acks):
        render.print_stderr(state.err, render.publish_table(report, min_acks))
        aid.require_acks(report, min_acks)
    if json_out:
        state.emit_json(
            {
                "id": report.event.id,
                "kind": report.event.kind,
                "pointer": pointer,
                **extra,
                "acks": report.acks,
                "relays": [r.to_dict() for r in report.results],
                "event": report.event.to_dict(),
            }
        )
    else:
        render.print_stderr(state.err, render.publish_table(report, min_acks))
        state.emit_line(pointer)


def show_nevent(
    state: State,
    report: PublishReport,
    min_acks: int,
    json_flag: bool,
    relays: list[str],
    **extra: Any,
) -> None:
    """:func:`show_published` with the new event's nevent (hinting ``relays``) as the pointer."""
    pointer = nevent(report.event, relays)
    show_published(state, report, min_acks, state.want_json(json_flag), pointer, **extra)


def nevent(event: Event, relays: list[str]) -> str:
    """A shareable pointer to a new event, with up to three relay hints."""
    from shieldmutual.shared import nip19

    return nip19.nevent_encode(event.id, tuple(relays[:3]), event.pubkey, event.kind)
