"""The `mas` root command: its options, its help, and the group that loads commands lazily.

Kept apart from cli/main.py so that answering `mas --version` never imports typer (about
a third of a local command's start-up); everything else comes through here.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from shieldmutual.client.cli import common, helpstyle
from shieldmutual.client.cli.main import COMMAND_GROUPS, load, print_version
from shieldmutual.client.config import Paths

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 failure, 2 bad input, 3 relays unreachable or too few acks, "
    "4 passphrase, 5 a championed member overdue (champion watch --once), 130 interrupted."
)

# Every variable the code reads (tests/client/test_help.py greps for them and checks).
ENVIRONMENT_HELP = (
    "Environment: MAS_HOME (where config, keys and state live); "
    "MAS_PASSPHRASE_FD (like --passphrase-fd); "
    "MAS_PASSPHRASE and NOSTR_SECRET_KEY (refused: the environment is readable by other "
    "processes); "
    "MAS_PROXY (like --proxy); "
    "MAS_PRIVATE_DELAY (LOW:HIGH seconds between private sends); "
    "MAS_SCRYPT_LOG_N (the key-derivation cost, for tests only); "
    "MAS_DEBUG (a traceback for an unexpected error); "
    "NO_COLOR (no colours); TERM, COLUMNS and LINES (the terminal's styles and width); "
    "VISUAL or EDITOR (where private text is written)."
)


class LazyGroup(TyperGroup):
    """The root group: commands are listed from COMMAND_GROUPS and imported when invoked.

    Importing every command module (the pool, websockets, rich tables, markdown, QR codes)
    took ~300 ms before any command ran; most commands need few of them.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        # Stand-ins carry the listed help (and the names "did you mean" suggests from).
        self.commands = {n: TyperCommand(n, help=e.help) for n, e in COMMAND_GROUPS.items()}
        self._listing = False

    def get_command(self, _ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMAND_GROUPS:
            return None
        return self.commands[cmd_name] if self._listing else load(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _version(value: bool) -> None:
    if value:
        print_version()
        raise typer.Exit(common.EXIT_OK)


app = typer.Typer(
    name="mas",
    cls=LazyGroup,
    rich_markup_mode=None,
    help="Shield Mutual: Nostr for resilient mutual aid societies.",
    epilog=f"{ENVIRONMENT_HELP}\n\n{EXIT_CODES_HELP}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: git-like, rewrapped to the terminal (up to 100 columns), and without
    # Rich's import, which alone doubled `mas --help`'s time.
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


@app.callback()
def root(
    ctx: typer.Context,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Log relay connections on stderr.")
    ] = False,
    passphrase_fd: Annotated[
        int | None,
        typer.Option(
            "--passphrase-fd",
            metavar="N",
            min=0,
            help="Read the passphrase from file descriptor N (scripts; or MAS_PASSPHRASE_FD).",
        ),
    ] = None,
    proxy: Annotated[
        str | None,
        typer.Option(
            "--proxy",
            metavar="URL",
            envvar="MAS_PROXY",
            help="socks5h://HOST:PORT (e.g. Tor): every relay connection goes through it, "
            "never direct (or MAS_PROXY).",
        ),
    ] = None,
    _version_asked: Annotated[  # answered by its eager callback, before any command
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Shield Mutual: Nostr for resilient mutual aid societies.

    Config, keys and state live in the platform's directories, or under $MAS_HOME, all
    sealed under one passphrase. It comes from the agent (`mas unlock`), a prompt, or
    --passphrase-fd N; never from the environment.
    """
    from shieldmutual.client.unlock import refuse_passphrase_env, refuse_secret_key_env

    refuse_passphrase_env()
    refuse_secret_key_env()
    if proxy:
        from shieldmutual.client.pool_connect import check_proxy

        proxy = check_proxy(proxy)
    paths = Paths.resolve()
    paths.tighten()
    state = common.State(
        paths,
        json=json_,
        as_name=as_,
        verbose=verbose,
        passphrase_fd=passphrase_fd,
        proxy=proxy,
    )
    ctx.obj = state
    _route_logs(state, verbose)


def _route_logs(state: common.State, verbose: bool) -> None:
    """With -v, the client's log lines go to stderr through the state's text door; without,
    only warnings. logging is imported only when it matters: with -v, or when a module
    (or an earlier command in this process) has loaded it already."""
    if not verbose and "logging" not in sys.modules:
        return
    import logging

    class StderrHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            state.note(record.getMessage())

    pool_log = logging.getLogger("shieldmutual.client")
    pool_log.handlers[:] = [StderrHandler()] if verbose else []
    pool_log.setLevel(logging.INFO if verbose else logging.WARNING)
    pool_log.propagate = False


def command() -> Any:
    """The root click command, tidied (clean metavars and one-line summaries)."""
    return helpstyle.tidy(typer.main.get_command(app))
