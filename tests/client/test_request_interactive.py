"""Issue 13: interactive `mas request new` checks each answer as it is typed and loses
nothing. Findings: it asked all 14 questions, then failed on an empty "Where" (``front
matter is missing location``) and everything typed was lost; a bad amount, currency,
deadline, language, geohash or lightning address failed the same way, at the end.

Answers go in as the terminal would give them (CliRunner input, or a real pty for
Ctrl-C); --dry-run where nothing needs publishing, so no relay is needed.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from shieldmutual.client.cli.requestprompt import CLEAR
from shieldmutual.shared.aid.request import AidRequest, parse_request
from shieldmutual.shared.event import Event
from tests.client.conftest import PASSPHRASE
from tests.pooled import pull as stored

MAS = Path(sys.executable).parent / "mas"
TITLE, SUMMARY = "Food for the week", "Two kids, no shifts this week."
STORY = "We ran out of food after the raid."
DRAFT = Path("state") / "request-draft.sealed"


def answers(*, where: list[str] | None = None, **changed: list[str]) -> str:
    """Every question's answer in order (a list: a bad answer, then the one asked again)."""
    by_key: dict[str, list[str]] = {
        "title": [TITLE], "summary": [SUMMARY], "where": where or ["Hull"],
        "language": ["en"], "geohash": [""], "societies": ["hull-aid"], "amount": [""],
        "currency": [], "deadline": [""], "lightning": [""], "other": [""], "call": [""],
        "signwave": [""], "story": [STORY, "."], "details": ["."],
    }  # fmt: skip
    by_key.update(changed)
    return "\n".join(line for lines in by_key.values() for line in lines) + "\n"


def dry_run_request(done: Any) -> AidRequest:
    assert done.code == 0, done.stderr
    return parse_request(Event.from_dict(orjson.loads(done.lines[0])))


def test_an_empty_where_is_asked_again_not_fatal(person: Any, keys: Any) -> None:
    sam = person("sam", keys.alice)
    done = sam("request", "new", "-i", "--dry-run", input=answers(where=["", "Hull"]))
    made = dry_run_request(done)
    assert made.location == "Hull" and made.title == TITLE and made.story == STORY
    assert "Where" in done.stderr and "an answer is needed" in done.stderr


@pytest.mark.parametrize(
    ("key", "bad", "good", "said", "check"),
    [
        ("title", "x" * 201, TITLE, "longer than 200", lambda r: r.title == TITLE),
        ("amount", "four hundred", "400", "plain positive number", lambda r: r.amount == 400),
        ("language", "english", "fr", "ISO-639-1", lambda r: r.language == "fr"),
        ("geohash", "gcwcvqq", "gcwcv", "at most 5", lambda r: r.geohash == "gcwcv"),
        ("deadline", "next week", "2030-06-01", "not a date", lambda r: r.deadline is not None),
        ("lightning", "sam at pay", "sam@pay.example", "lightning",
         lambda r: r.payments[0].value == "sam@pay.example"),
        ("societies", "not a slug!", "hull-aid", "", lambda r: r.societies == ("hull-aid",)),
    ],
)  # fmt: skip
def test_a_bad_answer_is_explained_and_asked_again(
    person: Any, keys: Any, key: str, bad: str, good: str, said: str, check: Any
) -> None:
    sam = person("sam", keys.alice)
    extra = {"currency": ["GBP"]} if key == "amount" else {}
    done = sam("request", "new", "-i", "--dry-run", input=answers(**{key: [bad, good]}, **extra))
    assert check(dry_run_request(done)), done.stderr
    assert said in done.stderr and "try again" in done.stderr


def test_a_bad_currency_is_asked_again(person: Any, keys: Any) -> None:
    sam = person("sam", keys.alice)
    typed = answers(amount=["400"], currency=["£", "EUR"])
    made = dry_run_request(sam("request", "new", "-i", "--dry-run", input=typed))
    assert made.amount == 400 and made.currency == "EUR"


def test_answers_that_run_out_keep_the_draft_and_say_how_to_resume(person: Any, keys: Any) -> None:
    sam = person("sam", keys.alice)
    cut = "\n".join([TITLE, SUMMARY]) + "\n"  # the terminal closes at "Where"
    done = sam("request", "new", "-i", "--dry-run", input=cut)
    assert done.code == 1 and done.stdout == ""
    draft = sam.home / DRAFT
    assert "request-draft.sealed" in done.stderr and "mas request new --resume" in done.stderr
    sealed = draft.read_bytes()  # sealed like all local state: no word of it in plain text
    assert TITLE.encode() not in sealed and b"Food" not in sealed
    assert draft.stat().st_mode & 0o777 == 0o600


def _read_until(master: int, seen: bytearray, needle: bytes, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"no {needle!r} on the terminal: {bytes(seen)!r}")
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the program has gone
            chunk = b""
        if not chunk:
            raise AssertionError(f"the terminal closed before {needle!r}: {bytes(seen)!r}")
        seen += chunk


def test_ctrl_c_mid_way_then_resume_restores_the_answers(
    person: Any, keys: Any, passphrase_fd: Any, relay_process: Any
) -> None:
    sam = person("sam", keys.alice)
    fd = passphrase_fd(PASSPHRASE)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "MAS_PASSPHRASE")}
    env |= {"MAS_HOME": str(sam.home), "MAS_SCRYPT_LOG_N": "4", "MAS_PASSPHRASE_FD": str(fd)}
    env |= {"NO_COLOR": "1", "TERM": "dumb"}
    master, slave = os.openpty()
    # A bare `mas request new` on a terminal asks its questions.
    proc = subprocess.Popen(
        [str(MAS), "request", "new"], stdin=slave, stdout=slave, stderr=slave, env=env,
        pass_fds=(fd,), start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    seen = bytearray()
    try:
        for question, answer in ((b"Title", TITLE), (b"Summary", SUMMARY)):
            _read_until(master, seen, question)
            os.write(master, f"{answer}\r".encode())
        _read_until(master, seen, b"Where")
        proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
        _read_until(master, seen, b"--resume")
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    shown = seen.decode("utf-8", "replace")
    assert "mas request new --resume" in shown and "request-draft.sealed" in shown
    assert (sam.home / DRAFT).is_file()

    # Resumed: Enter keeps each saved answer, the rest is asked as before.
    relay = relay_process()
    kept = answers(title=[""], summary=[""]) + "y\n"
    done = sam("request", "new", "--resume", "-r", relay.url, input=kept)
    assert done.code == 0, done.stderr
    (event,) = stored(relay.url, {"kinds": [30402]})
    made = parse_request(event)
    assert (made.title, made.summary, made.location) == (TITLE, SUMMARY, "Hull")
    assert not (sam.home / DRAFT).exists()  # published: the draft is gone


def test_a_failed_publish_keeps_the_draft_at_the_same_address(
    person: Any, keys: Any, relay_process: Any
) -> None:
    sam = person("sam", keys.alice)
    relay = relay_process()
    closed = relay.url.rsplit(":", 1)[0] + ":1"  # nothing listens on port 1
    failed = sam("request", "new", "-i", "-r", closed, "--yes", input=answers())
    assert failed.code != 0
    assert "mas request new --resume" in failed.stderr
    assert (sam.home / DRAFT).is_file()
    # A fresh run offers the draft; Enter continues it and every saved answer is kept.
    kept = "\n" + answers(**{k: [""] for k in ("title", "summary", "where")}, story=["y"])
    again = sam("request", "new", "-i", "-r", relay.url, "--yes", input=kept)
    assert again.code == 0, again.stderr
    (event,) = stored(relay.url, {"kinds": [30402]})
    assert parse_request(event).story == STORY
    assert not (sam.home / DRAFT).exists()


def test_resume_without_a_draft_is_a_usage_error(person: Any, keys: Any) -> None:
    sam = person("sam", keys.alice)
    done = sam("request", "new", "--resume", "--dry-run", input="")
    assert done.code == 2 and done.stdout == ""
    assert "no request draft" in done.stderr


def test_a_declined_preview_keeps_the_draft(person: Any, keys: Any, relay_process: Any) -> None:
    sam = person("sam", keys.alice)
    relay = relay_process()
    declined = sam("request", "new", "-i", "-r", relay.url, input=answers() + "n\n")
    assert declined.code == 1 and "nothing was published" in declined.stderr
    assert "mas request new --resume" in declined.stderr
    assert (sam.home / DRAFT).is_file() and stored(relay.url, {"kinds": [30402]}) == []


def test_resume_keeps_each_saved_answer_on_enter_and_dash_empties_one(
    person: Any, keys: Any
) -> None:
    sam = person("sam", keys.alice)
    first = sam("request", "new", "-i", "--dry-run", input=answers(geohash=["gcw"]))
    assert dry_run_request(first).geohash == "gcw"  # a dry run publishes nothing: kept
    enter = {k: [""] for k in ("title", "summary", "where", "societies")}
    typed = answers(**enter, geohash=[CLEAR], story=["y"])
    made = dry_run_request(sam("request", "new", "--resume", "--dry-run", input=typed))
    assert (made.title, made.location, made.societies) == (TITLE, "Hull", ("hull-aid",))
    assert made.geohash is None and made.story == STORY
