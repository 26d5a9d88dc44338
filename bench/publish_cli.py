"""The real CLI publishing an aid request to 1 vs K relays, across a simulated network.

Not a test. Run from the repository root with the project installed:

    python -m bench.publish_cli [--relays 10] [--n 10] [--rtt 0,10,50] [--compare DIR]

Starts ``--relays`` mas-relay processes (``--relay-code``: a fixed copy for them) and,
for each round trip of ``--rtt`` above 0, puts them behind bench/rtt_proxy.py. Each run is
``mas request new --from FILE --yes -r URL ...`` as a person types it (the request, then
its announcement note once the request is stored), in a throwaway HOME with one identity
and an agent keeping it unlocked (as bench/cli.py), to the first relay alone and to all.
Runs alternate between 1 and K relays (and with ``--compare``, DIR's client as
PYTHONPATH), so all see the same load; the table gives the median wall time and the
command's CPU time (user + system, start-up included) of each, and the ratio K / 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.cli import _mas, _run, _with_passphrase
from bench.harness import RelayProcess
from bench.pool_harness import BENCH_RELAY_CONFIG
from bench.rtt_proxy import Proxy


def home_env(home: str) -> dict[str, str]:
    """A person's environment in a throwaway HOME: no MAS_HOME, no XDG overrides."""
    env = {**os.environ, "HOME": home, "COLUMNS": "100"}
    for name in ("MAS_HOME", "MAS_PASSPHRASE_FD", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH"):
        env.pop(name, None)
    for name in [n for n in env if n.startswith("XDG_")]:
        env.pop(name)
    return env


def publish_argv(request: Path, urls: list[str]) -> list[str]:
    return [_mas(), "request", "new", "--from", str(request), "--yes"] + [
        arg for url in urls for arg in ("-r", url)
    ]


def measure(
    urls: list[str], request: Path, n: int, codes: dict[str, str | None], env: dict[str, str]
) -> dict[tuple[str, int], list[tuple[float, float]]]:
    """``n`` alternating rounds: each code publishing to the first relay and to all."""
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
    _run(publish_argv(request, urls), env)  # warm: bytecode, the relays' first connection
    for _ in range(n):
        for label, code in codes.items():
            run_env = env if code is None else {**env, "PYTHONPATH": code}
            for k in (1, len(urls)):
                runs.setdefault((label, k), []).append(
                    _run(publish_argv(request, urls[:k]), run_env)
                )
    return runs


def at_rtt(
    rtt: float,
    ports: list[int],
    request: Path,
    n: int,
    codes: dict[str, str | None],
    env: dict[str, str],
) -> None:
    proxy = Proxy(rtt, ports) if rtt > 0 else None
    urls = [f"ws://127.0.0.1:{port if proxy is None else proxy.ports[port]}" for port in ports]
    try:
        runs = measure(urls, request, n, codes, env)
    finally:
        if proxy is not None:
            proxy.close()
    print(f"rtt {rtt:g} ms (load {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    k = len(urls)
    for label in codes:
        one = [statistics.median(r[i] for r in runs[(label, 1)]) * 1e3 for i in (0, 1)]
        many = [statistics.median(r[i] for r in runs[(label, k)]) * 1e3 for i in (0, 1)]
        print(
            f"  {label[-16:]:<16} 1: {one[0]:7.1f} ms (CPU {one[1]:5.1f})"
            f"  {k}: {many[0]:7.1f} ms (CPU {many[1]:5.1f})"
            f"  x{many[0] / one[0]:.2f}, CPU x{many[1] / one[1]:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relays", type=int, default=10)
    parser.add_argument("--n", type=int, default=10, help="runs of each (median)")
    parser.add_argument("--rtt", default="0,10,50", help="round trips in ms (0: direct)")
    parser.add_argument("--compare", metavar="DIR", help="also the client code at DIR")
    parser.add_argument("--relay-code", metavar="DIR", help="PYTHONPATH for the relays")
    args = parser.parse_args()
    codes: dict[str, str | None] = {"this tree": None}
    if args.compare is not None:
        codes[args.compare] = args.compare
    with tempfile.TemporaryDirectory(prefix="mas-publish-bench-") as tmp:
        config = Path(tmp) / "relay.toml"
        config.write_text(BENCH_RELAY_CONFIG)
        relay_env = (
            None if args.relay_code is None else {**os.environ, "PYTHONPATH": args.relay_code}
        )
        procs = [
            RelayProcess.mas_relay(Path(tmp) / f"r{i}.db", "--config", str(config), env=relay_env)
            for i in range(args.relays)
        ]
        home = Path(tmp) / "home"
        home.mkdir()
        env = home_env(str(home))
        _with_passphrase([_mas(), "id", "new", "bench"], env)
        _with_passphrase([_mas(), "unlock", "--for", "30m"], env)
        try:
            for proc in procs:
                proc.wait_ready()
            request = Path(tmp) / "request.md"
            template = [_mas(), "request", "template"]
            request.write_bytes(
                subprocess.run(template, env=env, capture_output=True, check=True).stdout
            )
            ports = [int(p.url.rsplit(":", 1)[1]) for p in procs]
            print(
                f"`mas request new --from FILE --yes` to 1 vs {args.relays} relays,"
                f" median of {args.n}"
            )
            for rtt in (float(x) for x in args.rtt.split(",")):
                at_rtt(rtt, ports, request, args.n, codes, env)
        finally:
            subprocess.run([_mas(), "lock"], env=env, capture_output=True, check=False)
            for proc in procs:
                proc.close(grace=10.0)


if __name__ == "__main__":
    main()
