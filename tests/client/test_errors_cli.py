"""The CLI's error rules (issue 13): nothing on stdout unless the command succeeded, one
usage exit code (2) for every bad argument or file, a one-line message naming what is
wrong, and no secret key taken from the environment."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.shared import nip19
from shieldmutual.shared.keys import SecretKey


@pytest.fixture
def dead_relay() -> str:
    """A loopback address where nothing listens (the port was just given back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


@pytest.fixture
def alice(mas: Callable[..., Any]) -> Callable[..., Any]:
    assert mas("id", "new", "alice").code == 0
    return mas


def _one_line_error(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert "unexpected" not in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize(
    "command",
    [["event", "-c", "hello"], ["society", "create", "leeds-care", "--name", "Leeds Care"]],
    ids=["event", "society-create"],
)
def test_a_failed_publish_prints_no_id(
    alice: Callable[..., Any], dead_relay: str, command: list[str]
) -> None:
    for json_flag in ([], ["--json"]):
        done = alice(*command, "-r", dead_relay, *json_flag)
        assert done.code == 3, done.stderr
        assert done.stdout == "", "an id on stdout would say it was published"
        assert dead_relay in done.stderr


def test_a_request_file_that_is_not_utf8_is_bad_input(
    alice: Callable[..., Any], tmp_path: Path, dead_relay: str
) -> None:
    latin1 = tmp_path / "request.md"
    latin1.write_bytes("---\ntitle: Caf\xe9 roof\n---\n".encode("latin-1"))
    done = alice("request", "new", "--from", str(latin1), "--yes", "-r", dead_relay)
    assert done.code == 2 and done.stdout == ""
    assert "not UTF-8" in _one_line_error(done.stderr)


def test_a_missing_request_file_is_a_usage_error(
    alice: Callable[..., Any], tmp_path: Path, dead_relay: str
) -> None:
    missing = tmp_path / "missing.md"
    done = alice("request", "new", "--from", str(missing), "--yes", "-r", dead_relay)
    assert done.code == 2 and done.stdout == ""
    assert str(missing) in _one_line_error(done.stderr)


def test_a_fresh_install_is_told_it_has_no_identity(mas: Callable[..., Any]) -> None:
    done = mas("event", "-c", "hello")
    assert done.code == 1 and done.stdout == ""
    line = _one_line_error(done.stderr)
    assert "no identity" in line and "no relays" not in line


def test_nostr_secret_key_in_the_environment_is_refused(mas: Callable[..., Any]) -> None:
    nsec = nip19.nsec_encode(SecretKey.generate().secret)
    done = mas("id", "list", env={"NOSTR_SECRET_KEY": nsec})
    assert done.code == 2 and done.stdout == ""
    line = _one_line_error(done.stderr)
    assert "NOSTR_SECRET_KEY" in line and "/proc" in line
    assert nsec not in done.stderr
