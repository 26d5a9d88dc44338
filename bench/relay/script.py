"""What every bench script's command line shares: ``--mas-relay``, its docstring as the
help, and the line saying which commit's code is measured."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench import _load
from bench.relay.procfs import raise_nofile

REPO = Path(__file__).resolve().parent.parent.parent


def script_parser(doc: str | None) -> argparse.ArgumentParser:
    """A bench script's command line: its docstring as the help, and ``--mas-relay``."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mas-relay", help="mas-relay executable (default: next to this python)")
    return p


def run_script(
    parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
) -> int:
    """A bench script's main: parse its command line, say what source is measured, run."""
    args = parser.parse_args()
    print(f"source: {git_describe()}")
    return int(_load.run(run(args)))


def git_describe() -> str:
    """The commit the benchmarked code comes from, and whether the tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h %cs"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "relay", "shared"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return f"git {head}" + (" + uncommitted changes in relay/ or shared/" if dirty else "")


def command_line() -> str:
    """How this bench was started, as the command that runs it again from the repo root
    (``python -m bench.<name> ...``; under ``-m``, ``sys.argv[0]`` is the module's file)."""
    script = Path(sys.argv[0]).resolve()
    try:
        parts = script.relative_to(REPO).with_suffix("").parts
    except ValueError:
        return shlex.join([sys.executable, *sys.argv])
    if parts[-1] == "__main__":
        parts = parts[:-1]
    return shlex.join([sys.executable, "-m", ".".join(parts), *sys.argv[1:]])


def print_preamble(conns: int) -> None:
    """The lines every relay bench prints first: the machine, the command line, the
    source and its load, and the open-files limit raised for ``conns`` connections."""
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(f"command: {command_line()}")
    print(f"source: {git_describe()}; 1-min load average {os.getloadavg()[0]:.2f} at start")
    print(raise_nofile(2 * conns + 1000))
