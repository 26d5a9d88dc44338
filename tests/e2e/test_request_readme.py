"""The README's walkthrough, run as written (only the relay's URL changed) with bash -e,
so the documented workflow cannot drift from what `mas` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Walkthrough\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_readme_walkthrough_runs(
    relays: Any, mas_env: dict[str, str], tmp_path: Path, spawn: Any
) -> None:
    (relay,) = relays(1)
    script = walkthrough().replace("ws://127.0.0.1:7777", relay.url)
    script += 'mas --json request show "$NADDR"\n'
    env = {**mas_env, "PATH": f"{BIN}{os.pathsep}{mas_env.get('PATH', '')}"}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, **spawn(env))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    view = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert view["status"] == "funded" and view["societies"] == ["leeds-care"]
    assert view["progress"]["pledged"] == {"GBP": "50"}
    assert view["progress"]["percent_received"] == 12 and view["progress"]["state"] == "funded"
    assert [s["into"] for s in view["syndications"]] == [["york-care"]]
    assert [r["title"] for r in view["reports"]] == ["Where the rent went"]
    assert "Content-Type: multipart/alternative" in done.stdout
    assert (tmp_path / "demo" / "state" / "local.sealed").exists()  # the follow, sealed locally
