"""Short handles with the installed `mas` (issue 13): a live feed in a 100-column terminal
names its rows by number and #id (never a wrapped naddr) and remembers them at once, so
another terminal can act on `1` while the feed runs; a piped feed's lines carry them too."""

from __future__ import annotations

import re
import signal
from typing import Any

TITLE = "Handles in a live view"


def setup(relays: Any, mas: Any) -> str:
    (relay,) = relays(1)
    assert mas("id", "new", "sam").code == 0
    assert mas("relays", "add", relay.url).code == 0
    assert mas("follow", "mas-example").code == 0
    made = mas("request", "new", "--title", TITLE, "--summary", "Shown live.",
               "--story", "A story.", "--location", "Leeds", "--society", "mas-example",
               "--yes")  # fmt: skip
    assert made.code == 0, made.stderr
    return str(made.lines[-1])


def test_live_feed_in_100_columns_shows_handles_usable_at_once(
    relays: Any, mas: Any, mas_env: dict[str, str], terminal: Any
) -> None:
    naddr = setup(relays, mas)
    env = {**mas_env, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40"}
    feed = terminal(env, "feed")
    screen = feed.read_until(b"end of stored requests")
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", screen).decode(errors="replace")
    row = next(line for line in text.splitlines() if "Handles" in line)  # the row's first line
    found = re.match(r"\s*1\s.*\s(#[0-9a-f]{6})\s*$", row)  # number first, #id last, one line
    assert found, text
    assert "naddr1" not in text  # no 150-character identifier folded over the table
    # While the feed still runs, another terminal acts on what it shows.
    for handle in ("1", found[1], TITLE.lower()):
        shown = mas("request", "show", handle, "--json")
        assert shown.code == 0, shown.stderr
        assert shown.json_lines()[0]["title"] == TITLE
    assert feed.proc.poll() is None
    feed.proc.send_signal(signal.SIGINT)
    assert feed.proc.wait(timeout=20) == 130
    assert mas("export", "1", "--format", "text").stdout.rstrip().endswith(naddr)


def test_piped_feed_lines_carry_number_id_and_naddr(relays: Any, mas: Any) -> None:
    naddr = setup(relays, mas)
    fed = mas("feed", "--once")
    assert fed.code == 0, fed.stderr
    (line,) = fed.lines
    found = re.match(r"\s*1 (#[0-9a-f]{6}) new ", line)
    assert found and line.endswith(naddr), line  # scripts still get the naddr
    pledged = mas("pledge", found[1], "--amount", "5", "--currency", "GBP", "--json")
    assert pledged.code == 0, pledged.stderr
    view = mas("request", "show", naddr, "--json").json_lines()[0]
    assert view["progress"]["pledges"] == 1
