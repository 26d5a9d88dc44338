"""`mas` answers local commands at once because each imports only what it uses.

Start-up time itself is measured by bench/cli.py (docs/PERFORMANCE.md), never here: a
timed test would fail on a busy machine. What is tested is what makes it fast, so it
cannot silently regress: which modules a command leaves unimported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from shieldmutual.client.cli import main as cli_main

NPUB = "npub1xtscya34g58tk0z605fvr788k263gsu6cy9x0mhnm87echrgufzsevkk5s"
HEX = "32e1827635450ebb3c5a7d12c1f8e7b2b514439ac10a67eef3d9fd9c5c68e245"

# The network stack, markdown and QR codes: what no local command should pay for.
HEAVY = ("websockets", "python_socks", "shieldmutual.client.pool", "markdown_it", "segno")
# Every command module: `mas --help` lists them from COMMAND_GROUPS alone.
COMMAND_MODULES = tuple(
    sorted({f"shieldmutual.client.cli.{e.module}" for e in cli_main.COMMAND_GROUPS.values()})
)

PROBE = """
import contextlib, io, json, sys
sys.argv = ["mas", *json.loads(sys.argv[1])]
from shieldmutual.client.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main()
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _imported(tmp_path: Path, *args: str) -> set[str]:
    env = {**os.environ, "MAS_HOME": str(tmp_path / "home"), "MAS_SCRYPT_LOG_N": "4"}
    env.pop("MAS_PASSPHRASE_FD", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0, done.stderr
    return set(result["modules"])


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


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
def test_version_from_the_package_metadata(program: str, name: str) -> None:
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
