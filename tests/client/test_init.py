"""`mas init` (issue 13): the first setup as questions on stderr, answers on stdin; the
documented default relays are offered and used only when asked for; a wrong answer is
explained and asked again."""

from __future__ import annotations

from typing import Any

from shieldmutual.client.cli.init import DEFAULT_RELAYS


def _listed(mas: Any) -> list[str]:
    return [row["relay"] for row in mas("relays", "list", "--json").json_lines()]


def test_init_asks_for_an_identity_relays_and_the_web_base(mas: Any, relay_process: Any) -> None:
    relay = relay_process()
    answers = f"sam\nnotaurl\n{relay.url}\nftp://nope\nhttps://pages.example.org\n"
    done = mas("init", input=answers)
    assert done.code == 0, done.stderr
    assert all(url in done.stderr for url in DEFAULT_RELAYS)  # offered...
    assert _listed(mas) == [relay.url]  # ...but not taken unasked
    assert "notaurl" in done.stderr and "ftp://nope" in done.stderr  # told, asked again
    (me,) = mas("id", "list", "--json").json_lines()
    assert me["name"] == "sam" and me["default"]
    assert mas("config", "web-base").stdout.strip() == "https://pages.example.org"


def test_init_takes_the_default_relays_when_asked_and_keeps_an_identity(mas: Any) -> None:
    assert mas("id", "new", "alice").code == 0
    done = mas("init", "--no-check", input="default\n\n")
    assert done.code == 0, done.stderr
    assert "keeping alice" in done.stderr
    assert _listed(mas) == list(DEFAULT_RELAYS)
    assert len(mas("id", "list", "--json").json_lines()) == 1
    again = mas("init", input="\n\n")  # empty answers keep everything
    assert again.code == 0, again.stderr
    assert _listed(mas) == list(DEFAULT_RELAYS)
