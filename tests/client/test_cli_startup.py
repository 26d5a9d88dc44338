"""`mas` answers local commands at once because each imports only what it uses.

Start-up time itself is measured by bench/cli.py (docs/PERFORMANCE.md), never here: a
timed test would fail on a busy machine. What is tested is what makes it fast, so it
cannot silently regress: which modules a command leaves unimported.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer

from shieldmutual.client.cli import helpstyle, identity
from shieldmutual.client.cli import main as cli_main

NPUB = "npub1xtscya34g58tk0z605fvr788k263gsu6cy9x0mhnm87echrgufzsevkk5s"
HEX = "32e1827635450ebb3c5a7d12c1f8e7b2b514439ac10a67eef3d9fd9c5c68e245"

# The network stack, markdown and QR codes: what no local command should pay for.
HEAVY = ("websockets", "python_socks", "shieldmutual.client.pool", "markdown_it", "segno")
# Every command module: `mas --help` lists them from COMMAND_GROUPS alone.
COMMAND_MODULES = tuple(
    sorted({f"shieldmutual.client.cli.{e.module}" for e in cli_main.COMMAND_GROUPS.values()})
)

# What rich reads to decide how output looks; the tests set them where they matter.
LOOK_VARIABLES = (
    "MAS_PASSPHRASE_FD", "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "TERM", "COLORTERM",
    "COLUMNS", "LINES",
)  # fmt: skip

# The command runs with its stdout a pipe (as in a script), and the modules it loaded
# are written to a file, so the probe itself prints nothing that could change them.
PROBE = """
import json, sys
args, report = json.loads(sys.argv[1]), sys.argv[2]
sys.argv = ["mas", *args]
from shieldmutual.client.cli.main import invoke
code = invoke()
with open(report, "w") as file:
    json.dump({"code": code, "modules": sorted(sys.modules)}, file)
"""


def _environment(home: Path, fd: int | None, env: dict[str, str] | None) -> dict[str, str]:
    """This environment without what would change the output's look, plus ``env``."""
    full = {**os.environ, "MAS_HOME": str(home), "MAS_SCRYPT_LOG_N": "4"}
    for name in LOOK_VARIABLES:
        full.pop(name, None)
    if fd is not None:
        full["MAS_PASSPHRASE_FD"] = str(fd)
    full.update(env or {})
    return full


def _probe(
    home: Path, *args: str, fd: int | None = None, env: dict[str, str] | None = None
) -> tuple[set[str], str]:
    """Run ``mas ARGS`` in a fresh interpreter: the modules it imported, and its stdout."""
    report = home.parent / "probe.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), str(report)],
        env=_environment(home, fd, env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        pass_fds=() if fd is None else (fd,),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(report.read_text())
    assert result["code"] == 0, done.stderr
    return set(result["modules"]), done.stdout


def _probe_on_a_terminal(
    home: Path, *args: str, fd: int, env: dict[str, str], columns: int = 120
) -> tuple[set[str], bytes]:
    """Run ``mas ARGS`` as :func:`_probe` does, but with stdin, stdout and stderr on a
    pseudo-terminal ``columns`` wide: the modules it imported, and the raw bytes written."""
    report = home.parent / "probe.json"
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, json.dumps(args), str(report)],
        env=_environment(home, fd, env), stdin=follower, stdout=follower, stderr=follower,
        pass_fds=(fd,), start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    written = bytearray()
    deadline = time.monotonic() + 60
    try:
        while select.select([leader], [], [], max(0.0, deadline - time.monotonic()))[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            written += chunk
        assert proc.wait(timeout=max(0.1, deadline - time.monotonic())) == 0, bytes(written)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = json.loads(report.read_text())
    assert result["code"] == 0, bytes(written)
    return set(result["modules"]), bytes(written)


def _imported(tmp_path: Path, *args: str) -> set[str]:
    return _probe(tmp_path / "home", *args)[0]


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_version_is_answered_before_typer_is_imported(tmp_path: Path) -> None:
    """`mas --version` needs only a constant: no typer, rich or any command, nor
    importlib.metadata (~30 ms in a regular install, where nothing else loads it)."""
    modules = _imported(tmp_path, "--version")
    heavy = ("typer", "rich", "cryptography", "importlib.metadata", *COMMAND_MODULES)
    assert not _loaded(modules, heavy)


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_no_command(tmp_path: Path, args: list[str]) -> None:
    modules = _imported(tmp_path, *args)
    network = tuple(n for n in HEAVY if n != "markdown_it")  # typer's rich help uses it
    assert not _loaded(modules, (*network, *COMMAND_MODULES, "cryptography"))


@pytest.mark.parametrize(
    "args",
    [
        ["decode", NPUB],
        ["encode", "npub", HEX],
        ["following"],
        ["id", "list"],
        ["relays", "list"],
        ["contacts", "list"],
    ],
    ids=" ".join,
)
def test_local_commands_leave_the_network_stack_unloaded(tmp_path: Path, args: list[str]) -> None:
    modules = _imported(tmp_path, *args)
    assert not _loaded(modules, HEAVY)


def test_decode_needs_no_cryptography(tmp_path: Path) -> None:
    """Nothing secret is opened to decode a public key, so scrypt's library stays out."""
    assert not _loaded(_imported(tmp_path, "decode", NPUB), ("cryptography",))


@pytest.mark.parametrize(("program", "name"), [("mas", "mas"), ("mas-relay", "mas-relay")])
def test_version_is_the_package_metadata_s(program: str, name: str) -> None:
    exe = str(Path(sys.executable).with_name(program))
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{name} {version('shieldmutual')}\n"


def test_a_mistyped_command_is_still_told_the_near_names(tmp_path: Path) -> None:
    """The lazy root group lists stand-ins, so click's suggestions still see every name."""
    env = {**os.environ, "MAS_HOME": str(tmp_path)}
    exe = str(Path(sys.executable).with_name("mas"))
    done = subprocess.run([exe, "folow"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "'follow'" in done.stderr and done.stdout == ""


# ---- listings to a pipe: the same text, without rich -------------------------------------


@pytest.fixture
def filled_home(mas: Callable[..., Any], mas_home: Path) -> Path:
    """A home with one row for each local listing."""
    for args in (
        ("id", "new", "alice"),
        ("relays", "add", "--no-check", "wss://relay.example.org"),
        ("contacts", "add", "bob", NPUB),
        ("follow", "mas-leeds"),
    ):
        done = mas(*args)
        assert done.code == 0, done.stderr
    return mas_home


LISTINGS = [
    (["id", "list"], "alice"),
    (["contacts", "list"], "bob"),
    (["relays", "list"], "wss://relay.example.org"),
    (["following"], "mas-leeds"),
]


@pytest.mark.parametrize(("args", "row"), LISTINGS, ids=lambda a: " ".join(a) if a else "")
def test_a_listing_to_a_pipe_is_rich_s_own_text_without_rich(
    filled_home: Path, passphrase_fd: Callable[..., int], args: list[str], row: str
) -> None:
    """Piped, the table is written without importing rich (~30 ms of start-up), and it is
    character for character what rich prints there: TTY_COMPATIBLE=0 sends the same
    command through rich's own layout for a non-terminal, for comparison."""
    plain_modules, plain_out = _probe(filled_home, *args, fd=passphrase_fd("test passphrase"))
    rich_modules, rich_out = _probe(
        filled_home, *args, fd=passphrase_fd("test passphrase"), env={"TTY_COMPATIBLE": "0"}
    )
    assert row in plain_out and "━" in plain_out
    assert plain_out == rich_out
    assert not _loaded(plain_modules, ("rich", *HEAVY))
    assert _loaded(rich_modules, ("rich",))  # the comparison really went through rich


@pytest.mark.parametrize(("args", "row"), LISTINGS, ids=lambda a: " ".join(a) if a else "")
def test_a_listing_at_a_terminal_is_rich_s_own_bytes_without_rich(
    filled_home: Path, passphrase_fd: Callable[..., int], args: list[str], row: str
) -> None:
    """At a terminal too (issue 13: <= 100 ms), the table is written without importing
    rich, and its raw bytes (bold escapes, box characters, padding) are those rich writes
    there: TTY_COMPATIBLE=1 sends the same command through rich, for comparison."""
    term = {"TERM": "xterm-256color"}
    plain_modules, plain_out = _probe_on_a_terminal(
        filled_home, *args, fd=passphrase_fd("test passphrase"), env=term
    )
    rich_modules, rich_out = _probe_on_a_terminal(
        filled_home, *args, fd=passphrase_fd("test passphrase"), env={**term, "TTY_COMPATIBLE": "1"}
    )
    assert row.encode() in plain_out and b"\x1b[1m" in plain_out and "━".encode() in plain_out
    assert plain_out == rich_out
    assert not _loaded(plain_modules, ("rich", *HEAVY))
    assert _loaded(rich_modules, ("rich",))


@pytest.mark.parametrize(
    ("env", "columns", "rich_needed"),
    [
        ({"TERM": "xterm-256color", "NO_COLOR": "1"}, 120, False),  # bold all the same
        ({"TERM": "xterm-256color", "COLORTERM": "truecolor", "COLUMNS": "100"}, 40, False),
        ({"TERM": "dumb", "COLUMNS": "120", "LINES": "40"}, 40, False),  # no escapes at all
        ({"TERM": "xterm-256color"}, 60, True),  # too narrow: rich folds the npub
        ({"TERM": "dumb"}, 400, True),  # rich takes a dumb terminal as 80 columns wide
    ],
    ids=["NO_COLOR", "COLUMNS", "dumb", "narrow", "dumb-80"],
)
def test_how_rich_would_style_and_fit_the_terminal_decides(
    filled_home: Path,
    passphrase_fd: Callable[..., int],
    env: dict[str, str],
    columns: int,
    rich_needed: bool,
) -> None:
    """NO_COLOR, TERM=dumb, COLUMNS and the terminal's own width: plain output only where
    rich would write the table simply, and byte for byte the same as rich's either way
    (the identity table is 97 columns wide)."""
    args = ("id", "list")
    modules, out = _probe_on_a_terminal(
        filled_home, *args, fd=passphrase_fd("test passphrase"), env=env, columns=columns
    )
    _, rich_out = _probe_on_a_terminal(
        filled_home, *args, fd=passphrase_fd("test passphrase"),
        env={**env, "TTY_COMPATIBLE": "1"}, columns=columns,
    )  # fmt: skip
    assert b"alice" in out and out == rich_out
    assert bool(_loaded(modules, ("rich",))) is rich_needed
    assert (b"\x1b[" in out) is (env["TERM"] != "dumb")


@pytest.mark.parametrize("args", [["following"], ["relays", "list"]], ids=" ".join)
def test_an_empty_listing_s_note_at_a_terminal_is_rich_s_bytes_without_rich(
    mas: Callable[..., Any], mas_home: Path, passphrase_fd: Callable[..., int], args: list[str]
) -> None:
    """Nothing to list: the dim note on stderr is written without rich too, as rich would."""
    assert mas("id", "new", "alice").code == 0
    term = {"TERM": "xterm-256color"}
    modules, out = _probe_on_a_terminal(
        mas_home, *args, fd=passphrase_fd("test passphrase"), env=term
    )
    _, rich_out = _probe_on_a_terminal(
        mas_home, *args, fd=passphrase_fd("test passphrase"), env={**term, "TTY_COMPATIBLE": "1"}
    )
    assert out.startswith(b"\x1b[2m") and out == rich_out
    assert not _loaded(modules, ("rich",))


def test_request_template_loads_no_pool_feed_rich_or_keys(tmp_path: Path) -> None:
    """Printing the example request file opens nothing sealed and reaches no relay."""
    modules = _imported(tmp_path, "request", "template")
    feed = ("shieldmutual.client.cli.feed", "shieldmutual.client.aid", "asyncio")
    assert not _loaded(modules, (*HEAVY, *feed, "rich", "cryptography"))


def test_a_group_builds_only_the_command_that_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """typer inspects every parameter of a command it builds; `mas id list` builds `list`
    alone, while the names (for suggestions) and the full help stay available."""
    built: list[str] = []
    real = typer.main.get_command_from_info

    def counting(info: Any, **kwargs: Any) -> Any:
        built.append(info.callback.__name__)
        return real(info, **kwargs)

    monkeypatch.setattr(typer.main, "get_command_from_info", counting)
    group = helpstyle.group(identity.app)
    assert built == []
    assert group.get_command(None, "list").name == "list"
    assert built == ["list_"]
    assert {"new", "list", "show", "export"} <= set(group.commands)  # what suggestions read
    assert built == ["list_"]
    assert all(c.params is not None for c in group.commands.values())  # help: all of them
    assert len(built) == len(identity.app.registered_commands)


def test_the_console_script_ends_at_once_yet_writes_everything(tmp_path: Path) -> None:
    """`mas` skips the interpreter's teardown (cli/main.QuickEnd): its output still
    arrives whole and its exit code is the command's."""
    env = {**os.environ, "MAS_HOME": str(tmp_path), "COLUMNS": "100"}
    exe = str(Path(sys.executable).with_name("mas"))
    done = subprocess.run([exe, "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    inside = "import sys; from shieldmutual.client.cli.main import invoke; sys.exit(invoke())"
    in_process = subprocess.run(
        [sys.executable, "-c", inside, "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == in_process.stdout and done.stdout.endswith("interrupted.\n")
    bad = subprocess.run([exe, "decode", "npub1bad"], env=env, capture_output=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == b"" and bad.stderr.startswith(b"error: ")
