"""The `mas` root command, the registry of command groups, and the one error boundary.

Adding a command group: write ``client/cli/<group>.py`` with its own ``app = typer.Typer()``
(see cli/common.py for the shared state and options) and add one line to
``COMMAND_GROUPS`` below. A group registered with a name becomes ``mas <name> ...``;
one registered with ``None`` adds its commands at the top level.

Exit codes:

    0    success
    1    failure (an invalid event in `mas verify`, an unknown identity, a declined prompt)
    2    bad input: flags, JSON, bech32, times, filters, config
    3    relays: none reachable / none answered, or fewer than --min-acks accepted
    4    passphrase: wrong, missing or mismatched
    5    `champion watch --once`: someone you champion is overdue (for cron and monitoring)
    130  interrupted (Ctrl-C), e.g. the normal end of `mas req --stream`
    141  stdout closed early (e.g. piped into `head`)
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from typing import Annotated

import typer

from shieldmutual.client.cli import (
    bridge,
    champion,
    codec,
    common,
    configure,
    contacts,
    dm,
    events,
    export,
    feed,
    helping,
    identity,
    offer,
    relays,
    request,
    society,
    trust,
)
from shieldmutual.client.config import Paths
from shieldmutual.client.errors import ClientError, RelayError
from shieldmutual.client.pool_connect import check_proxy
from shieldmutual.client.unlock import refuse_passphrase_env
from shieldmutual.shared.errors import CryptoError, InvalidError, ShieldError
from shieldmutual.shared.untrusted import one_line

try:  # typer >= 0.16 vendors click; older versions raise click's own exceptions
    from typer.exceptions import TyperException as _UsageBase
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException as _UsageBase  # type: ignore[assignment]

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 failure, 2 bad input, 3 relays unreachable or too few acks, "
    "4 passphrase, 5 a championed member overdue (champion watch --once), 130 interrupted."
)

app = typer.Typer(
    name="mas",
    help="Shield Mutual: Nostr for resilient mutual aid societies.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

COMMAND_GROUPS: list[tuple[typer.Typer, str | None]] = [
    (identity.app, "id"),
    (identity.agent_app, None),  # unlock, lock
    (relays.app, "relays"),
    (configure.app, "config"),  # web-base
    (events.app, None),  # event, req, verify
    (codec.app, None),  # encode ..., decode
    (helping.app, None),  # pledge, confirm, update, report
    (trust.app, None),  # whois, vouch
    (society.app, "society"),  # create, show, list
    (society.follows, None),  # follow, unfollow, following
    (request.app, "request"),  # template, new, show, list, update, close
    (request.top, None),  # relay-request
    (offer.app, "offer"),  # template, new, list, show, reply, update, close
    (feed.app, None),  # feed
    (export.app, None),  # export
    (dm.app, "dm"),
    (contacts.app, "contacts"),  # add, list, remove: petnames
    (champion.app, "champion"),
    (champion.checkin_app, None),  # checkin
    (bridge.app, "bridge"),  # smtp, email [add|remove|list]: requests to mailing lists
]
for group, group_name in COMMAND_GROUPS:
    app.add_typer(group, name=group_name)


class _StderrHandler(logging.Handler):
    def __init__(self, state: common.State) -> None:
        super().__init__()
        self.state = state

    def emit(self, record: logging.LogRecord) -> None:
        self.state.note(record.getMessage())


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
) -> None:
    """Shield Mutual: Nostr for resilient mutual aid societies.

    Config, keys and state live in the platform's directories, or under $MAS_HOME, all
    sealed under one passphrase. It comes from the agent (`mas unlock`), a prompt, or
    --passphrase-fd N; never from the environment.
    """
    refuse_passphrase_env()
    paths = Paths.resolve()
    paths.tighten()
    state = common.State(
        paths,
        json=json_,
        as_name=as_,
        verbose=verbose,
        passphrase_fd=passphrase_fd,
        proxy=check_proxy(proxy) if proxy else None,
    )
    ctx.obj = state
    pool_log = logging.getLogger("shieldmutual.client")
    pool_log.handlers[:] = [_StderrHandler(state)] if verbose else []
    pool_log.setLevel(logging.INFO if verbose else logging.WARNING)
    pool_log.propagate = False


def exit_code(exc: BaseException) -> int:
    """The documented exit code for an error that reached the boundary."""
    if isinstance(exc, CryptoError):
        return common.EXIT_AUTH
    if isinstance(exc, RelayError):
        return common.EXIT_RELAYS
    if isinstance(exc, InvalidError):
        return common.EXIT_USAGE
    if isinstance(exc, ClientError | ShieldError):
        return common.EXIT_FAILURE
    return common.EXIT_FAILURE


def _fail(message: str, code: int) -> int:
    try:
        sys.stderr.write(f"error: {one_line(message)}\n")  # errors quote relays and events
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return code


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mas` console script; returns the exit code."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="mas", standalone_mode=False)
    except BaseException as raw:
        exc = _unwrap(raw)
        if isinstance(exc, typer.Exit):
            return exc.exit_code
        if isinstance(exc, _UsageBase):
            code = getattr(exc, "exit_code", common.EXIT_USAGE)
            if type(exc).__name__ == "NoArgsIsHelpError":
                # Typer's rich help has printed itself while the error was made.
                if exc.format_message().strip():
                    sys.stdout.write(exc.format_message() + "\n")
                return common.EXIT_USAGE
            where = getattr(getattr(exc, "ctx", None), "command_path", "mas")
            return _fail(f"{exc.format_message()} (see `{where} --help`)", code)
        if isinstance(exc, typer.Abort | KeyboardInterrupt):
            return _fail("interrupted", common.EXIT_INTERRUPTED)
        if isinstance(exc, ShieldError):
            return _fail(str(exc), exit_code(exc))
        if isinstance(exc, BrokenPipeError) or (
            isinstance(exc, OSError) and exc.errno == errno.EPIPE
        ):
            # The reader went away (`mas req | head`): stop quietly, like other Unix tools.
            with_devnull()
            return 141
        if isinstance(exc, OSError):
            where = f"{exc.filename}: " if exc.filename else ""
            return _fail(f"{where}{exc.strerror or exc}", common.EXIT_FAILURE)
        if isinstance(exc, SystemExit):
            return exc.code if isinstance(exc.code, int) else common.EXIT_FAILURE
        if os.environ.get("MAS_DEBUG"):
            raise
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (set MAS_DEBUG=1 for details)",
            common.EXIT_FAILURE,
        )
    return result if isinstance(result, int) else common.EXIT_OK


def with_devnull() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
