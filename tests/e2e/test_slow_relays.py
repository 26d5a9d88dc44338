"""A relay that accepts TCP and then never says a word, beside a real relay: commands
return once the real relay has answered plus a short grace, and say which relay they are
waiting for, instead of sitting out the whole connect, EOSE or OK timeout."""

from __future__ import annotations

import time
from typing import Any


def _timed(person: Any, *args: str) -> tuple[float, Any]:
    started = time.monotonic()
    done = person(*args)
    return time.monotonic() - started, done


def test_a_silent_relay_costs_a_grace_not_a_timeout(
    relays: Any, person: Any, silent_relay: Any
) -> None:
    (relay,) = relays(1)
    sam = person("sam", relay.url)
    made = sam("request", "new", "--title", "Boiler repair", "--summary", "No heating.",
               "--story", "It broke.", "--location", "Leeds", "--amount", "300",
               "--currency", "GBP", "--yes", "--json")  # fmt: skip
    naddr = made.json_lines()[0]["naddr"]
    bob = person("bob", relay.url, silent_relay.url)

    took, listed = _timed(bob, "request", "list")
    assert "Boiler repair" in listed.stdout
    assert took < 3, f"request list took {took:.1f}s beside a silent relay"
    assert silent_relay.url in listed.stderr  # it says which relay never answered

    took, pledged = _timed(bob, "pledge", naddr, "--amount", "20", "--currency", "GBP")
    assert pledged.stdout.strip(), "the pledge's pointer, since the real relay took it"
    assert took < 3, f"pledge took {took:.1f}s beside a silent relay"
    assert silent_relay.url in pledged.stderr
