"""The installed `mas` as people and scripts use it: the template pipeline, a live JSON
feed that sees requests (and their edits) the moment they are published, and the live
Rich view in a real pseudo-terminal."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def test_template_pipeline_in_a_shell(
    relays: Any, mas: Any, mas_env: dict[str, str], spawn: Any
) -> None:
    (relay,) = relays(1)
    assert mas("id", "new", "sam").code == 0
    assert mas("relays", "add", relay.url).code == 0
    workdir = Path(mas_env["MAS_HOME"]).parent
    script = f"{BIN}/mas request template > r.md && {BIN}/mas request new --from r.md --yes"
    done = subprocess.run(["bash", "-c", script], cwd=workdir, capture_output=True, text=True,
                          timeout=60, **spawn(mas_env))  # fmt: skip
    assert done.returncode == 0, done.stderr
    naddr = done.stdout.strip()
    shown = mas("request", "show", naddr, "--json")
    assert shown.code == 0 and shown.json_lines()[0]["societies"] == ["example"]


def test_live_json_feed_sees_new_requests_and_edits(
    relays: Any, mas: Any, mas_stream: Any, tmp_path: Path
) -> None:
    r1, r2 = relays(2)
    assert mas("id", "new", "sam").code == 0
    assert mas("relays", "add", r1.url, r2.url).code == 0
    assert mas("follow", "mas-example").code == 0
    feed = mas_stream("feed", "--json", "--bell")
    feed.wait_for(lambda: any("end of stored requests" in line for line in feed.stderr))
    assert feed.lines == []

    template = tmp_path / "r.md"
    template.write_text(mas("request", "template").stdout)
    made = mas("request", "new", "--from", str(template), "--yes")
    assert made.code == 0, made.stderr
    feed.wait_for(lambda: len(feed.lines) == 1)  # flushed while the feed still runs
    (first,) = feed.events()
    assert first["naddr"] and first["status"] == "open" and first["new"] is True
    assert first["progress"]["state"] == "open" and first["progress"]["pledges"] == 0
    assert feed.proc.poll() is None

    funded = mas("request", "update", made.lines[-1], "--status", "funded", "--yes")
    assert funded.code == 0, funded.stderr
    feed.wait_for(lambda: len(feed.lines) == 2)
    edited = feed.events()[1]
    assert edited["status"] == "funded" and edited["version"] == 2 and edited["new"] is False
    assert edited["progress"]["state"] == "funded"  # live items carry progress too
    assert feed.interrupt() == 130
    assert "\a" in "".join(feed.stderr)  # the bell rang for the new request


def test_live_view_in_a_terminal(
    relays: Any, mas: Any, mas_env: dict[str, str], terminal: Any
) -> None:
    (relay,) = relays(1)
    assert mas("id", "new", "sam").code == 0
    assert mas("relays", "add", relay.url).code == 0
    assert mas("follow", "mas-example").code == 0
    made = mas("request", "new", "--title", "Live view check", "--summary", "Shown live.",
               "--story", "A story.", "--location", "Leeds", "--society", "mas-example",
               "--yes")  # fmt: skip
    assert made.code == 0, made.stderr
    env = {**mas_env, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40"}
    feed = terminal(env, "feed")
    screen = feed.read_until(b"Live view check")
    assert b"\x1b[" in screen  # drawn with terminal control codes, as a live table
    assert b"received" in screen and b"pledged" in screen  # progress columns
    feed.proc.send_signal(signal.SIGINT)
    assert feed.proc.wait(timeout=20) == 130
