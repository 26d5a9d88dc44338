"""Alarms that reach a person: `mas champion watch --notify` and `mas feed --notify`.

Real relays, the real CLI in its own process, real hooks (shell scripts that keep their
stdin, argv and environment in files). Time is judged with --now, never by sleeping:
the member checks in for real, then each `--once` looks as if 15 hours had passed.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TWELVE_HOURS = 12 * 3600
INBOX = "me@champion.example"
OVERDUE = 5  # `champion watch --once` while someone is overdue (cli/main.py)

# Each call keeps its stdin, argv and environment as N.stdin, N.argv, N.env in folder $1.
RECORDING_HOOK = """#!/bin/sh
n=$(ls "$1" | grep -c stdin)
cat > "$1/$n.stdin"
printf '%s\\n' "$0" "$@" > "$1/$n.argv"
env > "$1/$n.env"
"""
FAILING_HOOK = """#!/bin/sh
cat > /dev/null
echo "gateway down" >&2
exit 3
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


class Hook:
    """A recording hook and what it was given, call by call."""

    def __init__(self, tmp_path: Path, name: str) -> None:
        self.folder = tmp_path / f"{name}-calls"
        self.folder.mkdir()
        self.script = _script(tmp_path / f"{name}.sh", RECORDING_HOOK)
        self.spec = f"exec:{self.script} {self.folder}"

    def calls(self, suffix: str = "stdin") -> list[str]:
        count = len(list(self.folder.glob("*.stdin")))
        return [(self.folder / f"{n}.{suffix}").read_text() for n in range(count)]


@pytest.fixture
def championed(
    emergency_request: Path, relays: Any, person: Callable[..., Any]
) -> tuple[Any, Any, str]:
    """A member who checked in, a champion who accepted and calls them "sisterjo", and a
    time (--now) at which the member is overdue."""
    (relay,) = relays(1)
    member, champion = person("member", relay.url), person("champion", relay.url)
    member("champion", "add", champion.npub, "--request", str(emergency_request),
           "--every", "12h")  # fmt: skip
    champion("champion", "watch", "--once")  # the hand-over waits for a yes
    champion("champion", "accept", member.npub)
    champion("contacts", "add", "sisterjo", member.npub)
    member("checkin")
    (row,) = champion("champion", "watch", "--once", "--json", "--no-bell").json_lines()
    later = str(row["last_checkin"] + TWELVE_HOURS + TWELVE_HOURS // 4 + 60)
    return member, champion, later


def _watch(champion: Any, *args: str, code: int) -> Any:
    return champion("champion", "watch", "--once", "--no-bell", *args, code=code)


def _body(message: Any) -> str:
    return str(message.get_body(("plain",)).get_content())


def test_overdue_alarm_arrives_by_email_and_hook_once_per_episode_then_one_all_clear(
    tmp_path: Path, championed: tuple[Any, Any, str], smtp_inbox: Any
) -> None:
    member, champion, later = championed
    champion("bridge", "smtp", "--host", smtp_inbox.host, "--port", str(smtp_inbox.port),
             "--security", "plain", "--from", "alarms@champion.example")  # fmt: skip
    hook = Hook(tmp_path, "hook")
    notify = ("--notify", hook.spec, "--notify", f"email:{INBOX}")
    for _ in range(3):  # three cron runs while the member stays silent
        _watch(champion, "--now", later, *notify, code=OVERDUE)
    (mail,) = smtp_inbox.wait_for(1)
    assert smtp_inbox.received[0][1] == [INBOX]
    assert mail["Subject"] == "Shield Mutual alarm: sisterjo has not checked in"
    assert "15h 1m ago" in _body(mail) and member.npub not in mail.as_string()
    (alarm,) = hook.calls()
    assert alarm.startswith("Shield Mutual alarm: sisterjo has not checked in\n")
    assert "15h 1m ago" in alarm and "Nothing has been published" in alarm
    (argv,) = hook.calls("argv")
    assert argv.split("\n")[:2] == [str(hook.script), str(hook.folder)]
    (env,) = hook.calls("env")
    assert "MAS_NOTICE=alarm" in env and "MAS_HOME" not in env
    for text in (alarm, argv, env):  # the member only by petname; nothing of the package
        assert member.npub not in text and member.pubkey not in text
        assert "nsec" not in text and "detained" not in text

    member("checkin")
    for _ in range(2):
        _watch(champion, *notify, code=0)
    _, cleared = smtp_inbox.wait_for(2)
    assert cleared["Subject"] == "Shield Mutual all-clear: sisterjo is no longer overdue"
    assert len(smtp_inbox.received) == 2
    alarm_again, clear = hook.calls()
    assert alarm_again == alarm
    assert clear.startswith("Shield Mutual all-clear: sisterjo is no longer overdue\n")
    assert "MAS_NOTICE=all-clear" in hook.calls("env")[1]
    # What was sent is remembered sealed: no file of the champion's names the member, the
    # inbox or the hook.
    for path in (p for p in champion.home.rglob("*") if p.is_file()):
        stored = path.read_bytes()
        for secret in (member.npub, member.pubkey, INBOX, str(hook.script)):
            assert secret.encode() not in stored, (path, secret)


def test_a_failing_hook_is_reported_retried_and_does_not_stop_the_watch(
    tmp_path: Path, championed: tuple[Any, Any, str]
) -> None:
    _, champion, later = championed
    good = Hook(tmp_path, "good")
    flaky = _script(tmp_path / "flaky.sh", FAILING_HOOK)
    flaky_calls = tmp_path / "flaky-calls"
    flaky_calls.mkdir()
    flaky_spec = f"exec:{flaky} {flaky_calls}"
    args = ("--now", later, "--json", "--notify", flaky_spec, "--notify", good.spec)
    failed = _watch(champion, *args, code=OVERDUE)
    assert "gateway down" in failed.stderr and "exit 3" in failed.stderr
    (row,) = failed.json_lines()  # the watch itself went on
    assert row["overdue"] and len(good.calls()) == 1

    _script(flaky, RECORDING_HOOK)  # the gateway is back: the next run delivers there
    again = _watch(champion, *args, code=OVERDUE)
    assert "gateway down" not in again.stderr
    assert len(list(flaky_calls.glob("*.stdin"))) == 1 and len(good.calls()) == 1


def test_bad_notify_channels_fail_before_any_look(mas: Any) -> None:
    for spec, words in (
        ("sms:123", "email:ADDR, exec:CMD or desktop"),
        ("exec:", "needs a command"),
        ("exec:no-such-hook-anywhere", "no such command"),
        ("exec:'unclosed", "quotation"),
    ):
        done = mas("champion", "watch", "--once", "--notify", spec)
        assert done.code == 2 and words in done.stderr and done.stdout == ""


def _publish(mas: Any, title: str) -> str:
    made = mas("request", "new", "--title", title, "--summary", "Two weeks of rent.",
               "--story", "A story.", "--location", "Leeds", "--society", "mas-example",
               "--yes")  # fmt: skip
    assert made.code == 0, made.stderr
    return str(made.lines[-1])


def test_feed_notify_tells_of_each_new_request_once_and_never_of_an_edit(
    tmp_path: Path, relays: Any, mas: Any
) -> None:
    """Cron-style: `mas feed --once --notify` after each change, as a timer would run it."""
    (relay,) = relays(1)
    for args in (("id", "new", "sam"), ("relays", "add", relay.url), ("follow", "mas-example")):
        assert mas(*args).code == 0
    hook = Hook(tmp_path, "hook")

    def look() -> list[str]:
        done = mas("feed", "--once", "--notify", hook.spec)
        assert done.code == 0, done.stderr
        return hook.calls()

    assert look() == []
    naddr = _publish(mas, "Rent after the raid")
    (notice,) = look()
    assert notice.startswith("New aid request: Rent after the raid\n\n")
    assert "Two weeks of rent." in notice and f"nostr:{naddr}" in notice
    assert "MAS_NOTICE=request" in hook.calls("env")[0]
    assert look() == [notice]  # seen on this device: not again
    edited = mas("request", "update", naddr, "--status", "funded", "--yes")
    assert edited.code == 0, edited.stderr
    assert look() == [notice]  # an edit is not a new request
    _publish(mas, "Bail for Jo")
    assert [n.split("\n")[0] for n in look()] == [
        "New aid request: Rent after the raid",
        "New aid request: Bail for Jo",
    ]


def test_live_watch_notifies_when_silence_outlasts_a_tiny_interval(
    tmp_path: Path, emergency_request: Path, relays: Any, mas: Any, mas_stream: Any
) -> None:
    """The long-running watch tells the hook too: the alarm once a one-second interval and
    its grace pass, then the all-clear after a check-in. Every wait is for a condition."""
    (relay,) = relays(1)
    npub = {}
    for name in ("sam", "ada"):
        made = mas("id", "new", name, "--json")
        assert made.code == 0, made.stderr
        npub[name] = made.json_lines()[0]["npub"]
    assert mas("relays", "add", relay.url).code == 0
    added = mas("--as", "sam", "champion", "add", npub["ada"],
                "--request", str(emergency_request), "--every", "1s")  # fmt: skip
    assert added.code == 0, added.stderr
    assert mas("--as", "ada", "champion", "watch", "--once").code == 0  # sees it waiting
    assert mas("--as", "ada", "champion", "accept", npub["sam"]).code == 0
    hook = Hook(tmp_path, "hook")
    watch = mas_stream("--as", "ada", "champion", "watch", "--json", "--refresh", "1",
                       "--no-bell", "--notify", hook.spec)  # fmt: skip

    def told(word: str) -> bool:
        return any(call.startswith(f"Shield Mutual {word}") for call in hook.calls())

    watch.wait_for(lambda: told("alarm"))
    assert not told("all-clear")
    assert mas("--as", "sam", "checkin").code == 0
    watch.wait_for(lambda: told("all-clear"))
    assert hook.calls()[0].startswith("Shield Mutual alarm: sam ")  # an identity's own name
    assert npub["sam"] not in "".join(hook.calls())
