"""The `mas` entry point: the registry of command groups and the one error boundary.

Adding a command group: write ``client/cli/<group>.py`` with its own ``app = typer.Typer()``
(see cli/common.py for the shared state and options) and add one line to
``COMMAND_GROUPS`` below: ``_group`` makes the whole app ``mas <name> ...``, ``_command``
adds one of its commands at the top level. Only the invoked command's module is imported;
the root command and its options are in cli/root.py, imported once `--version` (answered
without typer) is ruled out.

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
import importlib
import os
import sys
from typing import Any, NamedTuple

from shieldmutual.client.cli.exitcodes import (
    EXIT_AUTH,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RELAYS,
    EXIT_USAGE,
)
from shieldmutual.client.errors import ClientError, RelayError
from shieldmutual.shared.errors import CryptoError, InvalidError, ShieldError
from shieldmutual.shared.untrusted import one_line


class Entry(NamedTuple):
    """One command of `mas`: the module and typer app it lives in, and its one-line help."""

    module: str
    attr: str
    help: str
    group: bool  # `mas NAME SUBCOMMAND` (the whole app) rather than one command of the app


def _group(module: str, help: str, attr: str = "app") -> Entry:
    return Entry(module, attr, help, True)


def _command(module: str, help: str, attr: str = "app") -> Entry:
    return Entry(module, attr, help, False)


# Adding a command: one entry here. The help is the command's own first paragraph, kept
# here so `mas --help` lists every command without importing any of them;
# tests/client/test_help.py checks it against the real ones.
COMMAND_GROUPS: dict[str, Entry] = {
    "id": _group(
        "identity",
        "Identities: create, import, list, choose, show, profile, export, remove.",
    ),
    "unlock": _command(
        "unlock",
        "Ask the passphrase once; an agent keeps this home unlocked for later commands.",
    ),
    "lock": _command("unlock", "Make the agent forget this home's keys and exit."),
    "init": _command(
        "init", "Set up step by step: an identity, relays, and where request pages are."
    ),
    "relays": _group("relays", "The relays mas uses by default, and their health."),
    "config": _group("config", "Client settings."),
    "event": _command(
        "event",
        "Sign an event from flags, or events from JSON on stdin, and publish to every relay.",
    ),
    "req": _command(
        "req",
        "Query relays; verified, de-duplicated events as JSON lines on stdout.",
    ),
    "verify": _command("verify", "Check the id and signature of each event on stdin."),
    "decode": _command(
        "codec",
        "NIP-19 (npub, nsec, note, nprofile, nevent, naddr, with or without nostr:) -> hex/JSON.",
    ),
    "encode": _command(
        "codec",
        "Encode hex keys, ids and pointers as NIP-19 (npub, nsec, note, nprofile, nevent, naddr).",
    ),
    "pledge": _command(
        "helping",
        "Promise money (--amount/--currency), an action (--action call), your offer of "
        "help (--offer NADDR), or several.",
    ),
    "confirm": _command(
        "helping",
        "Say, as the person helped, that help arrived (optionally how much).",
    ),
    "update": _command(
        "helping",
        "Post short news under your request (plain text). Long accounts: `mas report`.",
    ),
    "report": _command(
        "helping",
        "Publish (or edit) the spending report of your request: a NIP-23 article.",
    ),
    "whois": _command(
        "whois",
        "The public record about a person, computed here from what relays hold.",
    ),
    "vouch": _command(
        "vouch",
        "Say in public, under your key, that you know and trust this person.",
    ),
    "society": _group(
        "society",
        "Mutual aid societies: a society is its tag, mas-<slug>; definitions describe it.",
    ),
    "follow": _command(
        "follow",
        "Follow societies in your feed. Kept on this device only: nothing is published.",
    ),
    "unfollow": _command(
        "follow",
        "Stop following societies (local only, like following).",
    ),
    "following": _command(
        "follow",
        "The societies you follow (from this device's local state).",
    ),
    "request": _group("request", "Aid requests: ask for help, read, list, edit and close."),
    "relay-request": _command(
        "relayrequest",
        "Relay (syndicate) a request into other societies, so their followers see it.",
    ),
    "offer": _group("offer", "Offers of help: give, list, show, take up, close."),
    "feed": _command(
        "feed",
        "Requests and offers of help from the societies you follow, across all relays, live.",
    ),
    "export": _command(
        "export",
        "Export a request for a blog (markdown, html), chat (text), a list (email) or code.",
    ),
    "dm": _group("dm", "Private messages (NIP-17): send, read, and where to receive them."),
    "contacts": _group(
        "contacts",
        "Your address book: petnames for people, on this device only (never published).",
    ),
    "champion": _group(
        "champion",
        "Champions: people who ask for help on your behalf if you go silent.",
    ),
    "checkin": _command(
        "champion",
        "Tell every champion you are OK. With --every, keep doing it; without, once (cron).",
        "checkin_app",
    ),
    "bridge": _group("bridge", "Bridge requests to outside Nostr: mailing lists."),
    "sync": _command("sync", "Copy between two relays only what one of them lacks (NIP-77)."),
}


def load(name: str) -> Any:
    """The real click command for ``mas NAME``, importing only the module that has it."""
    from shieldmutual.client.cli import helpstyle

    entry = COMMAND_GROUPS[name]
    module = importlib.import_module(f"shieldmutual.client.cli.{entry.module}")
    group = helpstyle.group(getattr(module, entry.attr))
    command = group if entry.group else group.commands[name]
    command.name = name
    return command


def print_version() -> None:
    from shieldmutual.shared.version import VERSION

    sys.stdout.write(f"mas {VERSION}\n")


def exit_code(exc: BaseException) -> int:
    """The documented exit code for an error that reached the boundary."""
    if isinstance(exc, CryptoError):
        return EXIT_AUTH
    if isinstance(exc, RelayError):
        return EXIT_RELAYS
    if isinstance(exc, InvalidError):
        return EXIT_USAGE
    if isinstance(exc, ClientError | ShieldError):
        return EXIT_FAILURE
    return EXIT_FAILURE


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
    """Entry point of the `mas` console script (``argv`` None: the process's own, and the
    process ends quickly after it: :class:`QuickEnd`); returns the exit code."""
    if argv is not None:
        return invoke(argv)
    import atexit

    end = QuickEnd()
    atexit.register(end.now)  # registered first, so it runs after every other exit handler
    end.code = invoke(argv)
    return end.code


class QuickEnd:
    """Exit at once once the command is done: the interpreter's teardown (freeing every
    object of typer, cryptography and the rest, one by one) took ~20 ms, a fifth of a
    local command's time, for a process that ends anyway. It runs as the last exit
    handler, so threads were joined and exit handlers (atexit, weakref finalizers) ran as
    in an ordinary exit; a flush that fails gets the ordinary exit."""

    code = EXIT_OK

    def now(self) -> None:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            return
        os._exit(self.code)


def invoke(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's), run the command; the exit code."""
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        print_version()  # answered before typer is even imported
        return EXIT_OK
    import typer
    from typer.exceptions import TyperException

    from shieldmutual.client.cli import root

    try:
        command = root.command()
        result = command.main(args=argv, prog_name="mas", standalone_mode=False)
    except BaseException as raw:
        exc = _unwrap(raw)
        if isinstance(exc, typer.Exit):
            return exc.exit_code
        if isinstance(exc, TyperException):
            code = getattr(exc, "exit_code", EXIT_USAGE)
            if type(exc).__name__ == "NoArgsIsHelpError":
                # The help is the message (plain help; Rich help would have printed itself).
                if exc.format_message().strip():
                    sys.stdout.write(exc.format_message() + "\n")
                return EXIT_USAGE
            where = getattr(getattr(exc, "ctx", None), "command_path", "mas")
            return _fail(f"{exc.format_message()} (see `{where} --help`)", code)
        if isinstance(exc, typer.Abort | KeyboardInterrupt):
            return _fail("interrupted", EXIT_INTERRUPTED)
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
            return _fail(f"{where}{exc.strerror or exc}", EXIT_FAILURE)
        if isinstance(exc, SystemExit):
            return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
        if os.environ.get("MAS_DEBUG"):
            raise
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (set MAS_DEBUG=1 for details)",
            EXIT_FAILURE,
        )
    return result if isinstance(result, int) else EXIT_OK


def with_devnull() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
