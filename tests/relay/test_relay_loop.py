"""Which event loop ``mas-relay`` runs on: uvloop when installed unless configured off,
and asyncio's own where uvloop cannot be imported."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from bench.harness import RelayProcess

pytest.importorskip("uvloop", reason="the default only differs where uvloop is installed")

MARK = "event loop: "
# The console script with uvloop made unimportable, as on a machine without it.
WITHOUT_UVLOOP = (
    "import sys; sys.modules['uvloop'] = None;"
    " from shieldmutual.relay.main import main; sys.exit(main())"
)


def _config(tmp_path: Path, server: str = "") -> str:
    config = tmp_path / "relay.toml"
    config.write_text(f'[server]\nlog_level = "DEBUG"\n{server}')
    return str(config)


def _loops(relay: RelayProcess) -> list[str]:
    relay.terminate()
    return [line.split(MARK, 1)[1].strip() for line in relay.log if MARK in line]


def test_uvloop_by_default_where_installed(relay_process: Any, tmp_path: Path) -> None:
    assert _loops(relay_process("--config", _config(tmp_path))) == ["uvloop"]


def test_uvloop_false_keeps_asyncios_loop(relay_process: Any, tmp_path: Path) -> None:
    [loop] = _loops(relay_process("--config", _config(tmp_path, "uvloop = false\n")))
    assert loop.startswith("asyncio.")


def test_without_uvloop_the_relay_runs_on_asyncio(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", WITHOUT_UVLOOP, "--host", "127.0.0.1", "--port", "0"]
    cmd += ["--db", str(tmp_path / "relay.db"), "--config", _config(tmp_path)]
    relay = RelayProcess(cmd, db=tmp_path / "relay.db")
    try:
        relay.wait_ready()
        [loop] = _loops(relay)
    finally:
        relay.close()
    assert loop.startswith("asyncio.")
    assert any("uvloop is not installed" in line for line in relay.log)
