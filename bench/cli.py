"""Start-up time of `mas` commands that need no network, against `python -c pass`.

Not a test. Run from the repository root with the project installed:

    python -m bench.cli [--n 16] [--only following] [--tty]

Each command runs ``--n`` times as a subprocess of the installed `mas` console script,
as a person's daily use would: no MAS_HOME (the platform's directories, under a throwaway
HOME), one identity, relay, contact and followed society (a row in each listing), and
an agent keeping the home unlocked (`mas unlock`), so commands that read the sealed
state get the home key from the agent, never from a passphrase prompt or scrypt. Output
goes to a pipe (a script), or with --tty to a pseudo-terminal (a person: rich's tables).
Bytecode is written and reused, as in any install (a warm-up run writes it, even where
PYTHONDONTWRITEBYTECODE is set for the tests). Runs alternate with ``python -c pass`` so
both see the same machine load; the table gives each command's median, the baseline's
median in the same rounds, their ratio, and the CPU time of both.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import pty
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

SETUP: tuple[tuple[str, ...], ...] = (
    ("relays", "add", "--no-check", "wss://relay.example.org"),
    ("contacts", "add", "friend", NPUB),
    ("follow", "mas-bench"),
)


def _mas() -> str:
    return str(Path(sys.executable).with_name("mas"))


def _run(argv: list[str], env: dict[str, str], tty: bool = False) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) the process used: on a machine other
    jobs load, the CPU time shows what the command itself costs. Its output goes to a
    pipe, as a script reads it, or with ``tty`` to a pseudo-terminal, as a person sees it
    (rich's colours and tables)."""
    start = time.perf_counter()
    leader, follower = pty.openpty() if tty else os.pipe()
    with subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower
    ) as proc:
        os.close(follower)
        output = b""
        with contextlib.suppress(OSError):  # a terminal's leader reads EIO once it is closed
            while chunk := os.read(leader, 65536):
                output += chunk
        os.close(leader)
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, for its resource usage
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {output.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


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


def measure(
    commands: tuple[tuple[str, ...], ...], n: int, env: dict[str, str], tty: bool
) -> list[str]:
    head = f"{'command':<28} {'median ms':>9} {'pass ms':>8} {'ratio':>6}  ≤ {TARGET_MS:.0f} ms"
    rows = [f"{head}   {'cpu ms':>6} {'pass cpu':>8}"]
    for command in commands:
        argv = [_mas(), *command]
        _run(argv, env, tty)  # warm the file cache and write the bytecode
        runs, base = [], []
        for _ in range(n):
            base.append(_run([sys.executable, "-c", "pass"], env, tty))
            runs.append(_run(argv, env, tty))
        ms, cpu = (statistics.median(r[i] for r in runs) * 1000 for i in (0, 1))
        pass_ms, pass_cpu = (statistics.median(r[i] for r in base) * 1000 for i in (0, 1))
        name = " ".join(c if len(c) < 20 else c[:10] + "…" for c in command)
        ok = "yes" if ms <= TARGET_MS else "NO"
        row = f"mas {name:<24} {ms:>9.1f} {pass_ms:>8.1f} {ms / pass_ms:>6.1f}  {ok:<8}"
        rows.append(f"{row}   {cpu:>6.1f} {pass_cpu:>8.1f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=16, help="runs per command (median)")
    parser.add_argument("--only", help="only the commands starting with this word")
    parser.add_argument("--tty", action="store_true", help="output to a pseudo-terminal")
    args = parser.parse_args()
    commands = tuple(c for c in COMMANDS if not args.only or c[0] == args.only)
    with tempfile.TemporaryDirectory(prefix="mas-bench-") as home:
        env = {**os.environ, "HOME": home, "COLUMNS": "100"}
        for name in ("MAS_HOME", "MAS_PASSPHRASE_FD", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        for name in [n for n in env if n.startswith("XDG_")]:
            env.pop(name)
        _with_passphrase([_mas(), "id", "new", "bench"], env)
        _with_passphrase([_mas(), "unlock", "--for", "10m"], env)
        try:
            for setup in SETUP:  # a row in each listing (the agent has the home key)
                _run([_mas(), *setup], env)
            rows = measure(commands, args.n, env, args.tty)
        finally:
            subprocess.run([_mas(), "lock"], env=env, capture_output=True, check=False)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    where = "a pseudo-terminal" if args.tty else "a pipe"
    print(f"median of {args.n} runs each, alternating with `python -c pass`; output to {where}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
