"""`mas relays add` (issue 13): a malformed URL is refused as bad input (exit 2), and a
relay is added only once it has answered, within a bounded time (exit 3 otherwise,
--no-check to add it anyway)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest


def _listed(mas: Any) -> list[str]:
    return [row["relay"] for row in mas("relays", "list", "--json").json_lines()]


@pytest.mark.parametrize(
    "url",
    ["notaurl", "ws://has space", "ftp://relay.example.org", "ws://relay.example.org:0",
     "wss://relay.example.org:99999", "wss://-bad-.example.org", "wss://"],
)  # fmt: skip
def test_a_malformed_url_is_refused_with_exit_2(mas: Any, url: str) -> None:
    done = mas("relays", "add", url, "--no-check")
    assert done.code == 2, (url, done.stderr)
    assert done.stdout == "" and done.stderr.startswith("error: relay URL")
    assert _listed(mas) == []


def test_a_relay_that_answers_is_added(mas: Any, relay_process: Any) -> None:
    relay = relay_process()
    done = mas("relays", "add", relay.url)
    assert done.code == 0, done.stderr
    assert _listed(mas) == [relay.url]


def test_a_relay_nobody_runs_is_not_added(mas: Any) -> None:
    with socket.socket() as sock:  # a loopback port where nothing listens
        sock.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}"
    done = mas("relays", "add", url)
    assert done.code == 3 and done.stdout == ""
    assert url in done.stderr and "--no-check" in done.stderr
    assert _listed(mas) == []
    assert mas("relays", "add", url, "--no-check").code == 0  # e.g. one about to start
    assert _listed(mas) == [url]


def test_a_silent_relay_is_given_up_on_within_the_timeout(mas: Any, silent_relay: Any) -> None:
    started = time.monotonic()
    done = mas("relays", "add", silent_relay.url, "--timeout", "0.5")
    assert done.code == 3 and silent_relay.url in done.stderr
    assert time.monotonic() - started < 3
    assert _listed(mas) == []


def test_a_link_works_on_a_fresh_install_through_its_relay_hints(
    mas: Any, person: Any, keys: Any, relay_process: Any
) -> None:
    relay = relay_process()
    sam = person("sam", keys.alice)
    made = sam("request", "new", "--title", "Boiler repair", "--summary", "No heating.",
               "--story", "It broke.", "--location", "Leeds", "--amount", "300",
               "--currency", "GBP", "--yes", "--json", "-r", relay.url)  # fmt: skip
    assert made.code == 0, made.stderr
    naddr = made.json_lines()[0]["naddr"]
    shown = mas("request", "show", naddr, "--json")  # no identity, no relays of its own
    assert shown.code == 0, shown.stderr
    assert shown.json_lines()[0]["title"] == "Boiler repair"
    assert relay.url in shown.stderr  # it says where it looked
    edited = mas("request", "template", naddr)  # the file to edit it, from the same link
    assert edited.code == 0, edited.stderr
    assert "title: Boiler repair" in edited.stdout
