"""bench/harness.py, the one relay subprocess of the benchmarks and the tests: ready from
mas-relay's ready line or a listening port, a dead process reported at once with its
output, SIGKILL to the relay alone against the end of its whole session."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from bench.harness import RelayProcess, free_port
from tests.waiting import until_sync

# A stand-in for a relay with a worker: the worker's pid on the first line, then both wait.
WITH_WORKER = (
    "import subprocess, sys, time;"
    " worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
    " print(worker.pid, flush=True); time.sleep(120)"
)


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by whoever adopted it, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_mas_relay_is_ready_on_the_url_of_its_ready_line(tmp_path: Path) -> None:
    relay = RelayProcess.mas_relay(tmp_path / "relay.db")
    try:
        url = relay.wait_ready()
        assert url == f"ws://127.0.0.1:{relay.port}" and relay.port > 0
        assert relay.terminate() == 0
        assert any(f"mas-relay ready on {url}" in line for line in relay.log)
    finally:
        relay.close()


def test_a_relay_that_dies_fails_the_wait_at_once_with_its_output() -> None:
    relay = RelayProcess([sys.executable, "-c", "import sys; print('no such config'); sys.exit(3)"])
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"(?s)exited 3.*no such config"):
        relay.wait_listening(free_port(), timeout=60)
    assert time.monotonic() - started < 30  # not the whole timeout


def test_a_mas_relay_that_cannot_start_says_why(tmp_path: Path) -> None:
    relay = RelayProcess.mas_relay(tmp_path / "missing" / "relay.db")
    with pytest.raises(RuntimeError, match="does not exist"):
        relay.wait_ready()


def test_kill_ends_the_relay_alone_and_close_its_whole_session() -> None:
    relay = RelayProcess([sys.executable, "-c", WITH_WORKER])
    try:
        until_sync(lambda: relay.log, what="the worker's pid")
        worker = int(relay.log[0])
        relay.kill()
        assert relay.proc.returncode is not None
        assert alive(worker), "kill() is a crash of the relay alone"
        relay.close()
        until_sync(lambda: not alive(worker), what="the worker ended with the session")
    finally:
        relay.close()
