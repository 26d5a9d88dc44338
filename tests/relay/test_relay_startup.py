"""Issue 13: `mas-relay` says what it runs on, and refuses what would silently go wrong.

Findings: it did not say which database it used nor where its NIP-11 document and pages
were; a second relay on the same file started silently (two writers, one file); a
``--db`` in a missing folder silently created the folder (a typo made a new, empty
relay). Each test runs the real console script as a subprocess.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

EXE = str(Path(sys.executable).parent / "mas-relay")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, "--port", "0", *args], capture_output=True, text=True, timeout=30)


def _lines_before_ready(relay: Any) -> list[str]:
    ready = next(i for i, line in enumerate(relay.log) if "mas-relay ready on" in line)
    return [line.rstrip("\n") for line in relay.log[: ready + 1]]


def test_ready_block_names_the_database_and_every_url(relay_process: Any) -> None:
    relay = relay_process()
    shown = "\n".join(_lines_before_ready(relay))
    http = relay.url.replace("ws://", "http://", 1)
    assert f"database {relay.db.resolve()}" in shown
    assert f"websocket {relay.url}" in shown
    assert f"NIP-11 {http}/ (Accept: application/nostr+json)" in shown
    assert f"web pages {http}/" in shown
    assert shown.splitlines()[-1] == f"mas-relay ready on {relay.url}"  # the last line
    # The NIP-11 URL it prints answers with the relay's information document.
    answer = httpx.get(f"{http}/", headers={"Accept": "application/nostr+json"}, timeout=10)
    assert "supported_nips" in orjson.loads(answer.content)


def test_web_pages_off_is_said_so(relay_process: Any, tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text("[web]\nenabled = false\n")
    shown = "\n".join(_lines_before_ready(relay_process("--config", str(config))))
    assert "web pages off" in shown


def test_a_second_relay_on_the_same_database_is_refused(relay_process: Any) -> None:
    first = relay_process()
    second = _run("--db", str(first.db))
    assert second.returncode == 1, second.stderr
    error = second.stderr.strip()
    assert len(error.splitlines()) == 1, error
    assert error.startswith("mas-relay: cannot start:")
    assert str(first.db.resolve()) in error
    assert f"pid {first.proc.pid}" in error
    assert "ready on" not in second.stderr
    assert first.proc.poll() is None  # the first one is untouched
    # Once the first stops, the file is free again.
    assert first.terminate() == 0
    relay_process(db=first.db)


def test_db_in_a_missing_folder_is_refused_without_create(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "relay.db"
    refused = _run("--db", str(missing))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"mas-relay: the database folder {missing.parent} does not exist;"
        " create it or pass --create"
    )
    assert not missing.parent.exists()


def test_create_makes_the_missing_folder(relay_process: Any, tmp_path: Path) -> None:
    made = tmp_path / "new" / "deeper" / "relay.db"
    relay = relay_process("--create", db=made)
    assert made.is_file()
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+", relay.url)
    assert relay.terminate() == 0
