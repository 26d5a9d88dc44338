"""A relay that accepts TCP and then never says a word, beside a real relay: commands
return once the real relay has answered plus a short grace, and say which relay they are
waiting for, instead of sitting out the whole connect, EOSE or OK timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest


class SilentRelay:
    """A TCP listener on loopback that accepts every connection and never answers, not
    even the websocket handshake (a relay behind a hung proxy, or a stopped process)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed at the end of the test
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentRelay]:
    relay = SilentRelay()
    yield relay
    relay.close()


def _timed(person: Any, *args: str) -> tuple[float, Any]:
    started = time.monotonic()
    done = person(*args)
    return time.monotonic() - started, done


def test_a_silent_relay_costs_a_grace_not_a_timeout(
    relays: Any, person: Any, silent: SilentRelay
) -> None:
    (relay,) = relays(1)
    sam = person("sam", relay.url)
    made = sam("request", "new", "--title", "Boiler repair", "--summary", "No heating.",
               "--story", "It broke.", "--location", "Leeds", "--amount", "300",
               "--currency", "GBP", "--yes", "--json")  # fmt: skip
    naddr = made.json_lines()[0]["naddr"]
    bob = person("bob", relay.url, silent.url)

    took, listed = _timed(bob, "request", "list")
    assert "Boiler repair" in listed.stdout
    assert took < 3, f"request list took {took:.1f}s beside a silent relay"
    assert silent.url in listed.stderr  # it says which relay never answered

    took, pledged = _timed(bob, "pledge", naddr, "--amount", "20", "--currency", "GBP")
    assert pledged.stdout.strip(), "the pledge's pointer, since the real relay took it"
    assert took < 3, f"pledge took {took:.1f}s beside a silent relay"
    assert silent.url in pledged.stderr
