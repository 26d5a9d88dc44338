"""`mas bridge smtp` and `mas bridge email` as a user meets them: clear one-line errors
before any relay or mail server is touched, and the password read from stdin, sealed,
and never shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

LIST = "north-aid@lists.example"
PASSWORD = "correct horse battery staple"


def one_line_error(done: Any, code: int, words: str) -> None:
    assert done.code == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert "Traceback" not in done.stderr


def test_the_password_comes_from_stdin_and_is_never_shown(mas: Callable[..., Any]) -> None:
    made = mas("bridge", "smtp", "--host", "smtp.example.org", "--user", "desk", "--from",
               "desk@example.org", "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert made.code == 0, made.stderr
    shown = mas("bridge", "smtp")
    assert "smtp.example.org:587 starttls as desk (password sealed)" in shown.stdout
    as_json = orjson.loads(mas("--json", "bridge", "smtp").stdout)
    assert as_json["password"] is True and as_json["username"] == "desk"
    assert PASSWORD not in made.stdout + made.stderr + shown.stdout + shown.stderr
    assert "--password " not in mas("bridge", "smtp", "--help").stdout  # no argv door


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["bridge", "email", "--once"], 2, "no lists"),
        (["bridge", "email", "--now", "2030-01-01"], 2, "--now is for --once"),
        (["bridge", "email", "add", "List <x@y.example>", "-s", "north", "-r", "ws://h"], 2,
         "plain email address"),
        (["bridge", "email", "add", LIST, "-s", "North", "-r", "ws://h"], 2, "slug"),
        (["bridge", "email", "add", LIST, "-s", "north", "-r", "ws://h", "--extras", "pledge"],
         2, "unknown extras"),
        (["bridge", "email", "remove", LIST], 2, "no list"),
        (["bridge", "smtp", "--host", "smtp.example.org", "--from", "a@b.example",
          "--security", "plain"], 2, "loopback"),
        (["bridge", "smtp", "--host", "smtp.example.org"], 2, "--from is required"),
        (["bridge", "smtp"], 2, "no mail server set up"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_line(
    mas: Callable[..., Any], args: list[str], code: int, words: str
) -> None:
    one_line_error(mas(*args), code, words)


def test_a_list_without_a_mail_server_says_so(mas: Callable[..., Any]) -> None:
    added = mas("bridge", "email", "add", LIST, "-s", "north", "-r", "ws://127.0.0.1:9",
                "--digest", "--extras", "all")  # fmt: skip
    assert added.code == 0, added.stderr
    (shown,) = [
        orjson.loads(line) for line in mas("bridge", "email", "list", "--json").stdout.splitlines()
    ]
    assert shown["address"] == LIST and shown["mode"] == "digest"
    assert shown["extras"] == ["update", "report", "status"] and shown["sent"] == 0
    one_line_error(mas("bridge", "email", "--once"), 2, "no mail server set up")
