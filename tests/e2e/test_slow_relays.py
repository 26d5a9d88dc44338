"""A relay that accepts TCP and then never says a word, beside a real relay: commands
return once the real relay has answered plus a short grace, and say which relay they are
waiting for, instead of sitting out the whole connect, EOSE or OK timeout."""

from __future__ import annotations

import signal
import time
from typing import Any


def _timed(person: Any, *args: str) -> tuple[float, Any]:
    started = time.monotonic()
    done = person(*args)
    return time.monotonic() - started, done


def _request(person: Any, relay: str) -> str:
    """Sam's request in mas-example on ``relay``; its naddr."""
    sam = person("sam", relay)
    made = sam("request", "new", "--title", "Boiler repair", "--summary", "No heating.",
               "--story", "It broke.", "--location", "Leeds", "--amount", "300",
               "--currency", "GBP", "--society", "mas-example", "--yes", "--json")  # fmt: skip
    return str(made.json_lines()[0]["naddr"])


def _beside_silent(person: Any, relay: str, silent: str) -> Any:
    """Bob, with the real relay and the silent one (added unchecked: it never answers)."""
    bob = person("bob", relay)
    bob("relays", "add", silent, "--no-check")
    return bob


def test_a_silent_relay_costs_a_grace_not_a_timeout(
    relays: Any, person: Any, silent_relay: Any
) -> None:
    (relay,) = relays(1)
    naddr = _request(person, relay.url)
    bob = _beside_silent(person, relay.url, silent_relay.url)

    took, listed = _timed(bob, "request", "list")
    assert "Boiler repair" in listed.stdout
    assert took < 3, f"request list took {took:.1f}s beside a silent relay"
    assert silent_relay.url in listed.stderr  # it says which relay never answered

    took, pledged = _timed(bob, "pledge", naddr, "--amount", "20", "--currency", "GBP")
    assert pledged.stdout.strip(), "the pledge's pointer, since the real relay took it"
    assert took < 3, f"pledge took {took:.1f}s beside a silent relay"
    assert silent_relay.url in pledged.stderr


def test_the_live_feed_shows_each_relays_state(
    relays: Any, person: Any, silent_relay: Any, terminal: Any
) -> None:
    (relay,) = relays(1)
    _request(person, relay.url)
    bob = _beside_silent(person, relay.url, silent_relay.url)
    bob("follow", "mas-example")
    env = {**bob.env, "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "40"}
    feed = terminal(env, "feed")
    screen = feed.read_until(b"not answering", timeout=20)
    assert b"Boiler repair" in screen
    assert f"{relay.url} connected".encode() in screen
    assert f"{silent_relay.url} not answering".encode() in screen
    feed.proc.send_signal(signal.SIGINT)
    assert feed.proc.wait(timeout=20) == 130


def test_the_progress_line_names_the_relay_it_waits_for(
    relays: Any, person: Any, silent_relay: Any, terminal: Any
) -> None:
    (relay,) = relays(1)
    _request(person, relay.url)
    bob = _beside_silent(person, relay.url, silent_relay.url)
    env = {**bob.env, "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "40"}
    listing = terminal(env, "request", "list")
    listing.read_until(f"waiting for {silent_relay.url}".encode(), timeout=20)
    assert listing.proc.wait(timeout=20) == 0
    assert b"Boiler repair" in listing.read_until(b"Boiler repair")
