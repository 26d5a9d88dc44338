"""Start-up time of `mas` commands that need no network, against `python -c pass`.

Not a test. Run from the repository root with the project installed:

    python bench/cli.py [--n 16] [--only following]

Each command runs ``--n`` times as a subprocess of the installed `mas` console script, in
a throwaway MAS_HOME holding one identity whose home an agent keeps unlocked (`mas
unlock`), as a person's daily use would: commands that read the sealed state get the home
key from the agent, never from a passphrase prompt or scrypt. Runs alternate with
``python -c pass`` so both see the same machine load; the table gives each command's
median, the baseline's median in the same rounds, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 100.0
PASSPHRASE = "bench passphrase"
NPUB = "npub1xtscya34g58tk0z605fvr788k263gsu6cy9x0mhnm87echrgufzsevkk5s"
HEX = "32e1827635450ebb3c5a7d12c1f8e7b2b514439ac10a67eef3d9fd9c5c68e245"

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("--version",),
    ("following",),
    ("id", "list"),
    ("decode", NPUB),
    ("encode", "npub", HEX),
    ("relays", "list"),
    ("contacts", "list"),
    ("request", "template"),
)


def _mas() -> str:
    return str(Path(sys.executable).with_name("mas"))


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True)
    return time.perf_counter() - start


def _with_passphrase(argv: list[str], env: dict[str, str]) -> None:
    """One command that needs the passphrase, given on a pipe (never argv or environ)."""
    read, write = os.pipe()
    os.write(write, PASSPHRASE.encode() + b"\n")
    os.close(write)
    try:
        subprocess.run(
            argv,
            env={**env, "MAS_PASSPHRASE_FD": str(read)},
            pass_fds=(read,),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
        )
    finally:
        os.close(read)


def measure(commands: tuple[tuple[str, ...], ...], n: int, env: dict[str, str]) -> list[str]:
    rows = [f"{'command':<28} {'median ms':>9} {'pass ms':>8} {'ratio':>6}  ≤ {TARGET_MS:.0f} ms"]
    for command in commands:
        argv = [_mas(), *command]
        _run(argv, env)  # warm the file cache and the bytecode
        times, base = [], []
        for _ in range(n):
            base.append(_run([sys.executable, "-c", "pass"], env))
            times.append(_run(argv, env))
        ms, pass_ms = statistics.median(times) * 1000, statistics.median(base) * 1000
        name = " ".join(c if len(c) < 20 else c[:10] + "…" for c in command)
        ok = "yes" if ms <= TARGET_MS else "NO"
        rows.append(f"mas {name:<24} {ms:>9.1f} {pass_ms:>8.1f} {ms / pass_ms:>6.1f}  {ok}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=16, help="runs per command (median)")
    parser.add_argument("--only", help="only the commands starting with this word")
    args = parser.parse_args()
    commands = tuple(c for c in COMMANDS if not args.only or c[0] == args.only)
    with tempfile.TemporaryDirectory(prefix="mas-bench-") as home:
        env = {**os.environ, "MAS_HOME": home, "COLUMNS": "100"}
        env.pop("MAS_PASSPHRASE_FD", None)
        _with_passphrase([_mas(), "id", "new", "bench"], env)
        _with_passphrase([_mas(), "unlock", "--for", "10m"], env)
        try:
            rows = measure(commands, args.n, env)
        finally:
            subprocess.run([_mas(), "lock"], env=env, capture_output=True, check=False)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"median of {args.n} runs each, alternating with `python -c pass`")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
