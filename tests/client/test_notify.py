"""client/notify.py: the --notify channels, each with a real program or server behind it.

Hooks are real shell scripts that keep what they were given; ``desktop`` runs a stand-in
``notify-send`` found on PATH (or none); ``email:`` submits to a real aiosmtpd server.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.client import notify
from shieldmutual.client.config import Paths
from shieldmutual.client.errors import ConfigError, NotifyError
from shieldmutual.client.mailer import MailSettings, save_settings
from shieldmutual.client.notify import (
    Desktop,
    Email,
    Message,
    Notifier,
    RequestNotices,
    parse_channel,
)
from shieldmutual.client.vault import Home
from shieldmutual.shared.aid.request import AidRequest
from tests.waiting import until_sync

ALARM = Message("alarm", "Shield Mutual alarm: sisterjo has not checked in", "Body line.\n")
RECORD = """#!/bin/sh
cat > "{out}/stdin"
printf '%s\\n' "$0" "$@" > "{out}/argv"
env > "{out}/env"
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(Paths.resolve({"MAS_HOME": str(tmp_path / "home")}), lambda _create: bytes(32))


def test_a_hook_gets_the_text_on_stdin_its_own_argv_and_an_empty_environment(
    tmp_path: Path, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "do-not-leak")
    hook = _script(tmp_path / "hook.sh", RECORD.format(out=tmp_path))
    channel = parse_channel(f"exec:{hook} --to 'my phone'", home)
    channel.send(ALARM)
    assert (tmp_path / "stdin").read_text() == f"{ALARM.subject}\n\n{ALARM.body}"
    assert (tmp_path / "argv").read_text().splitlines() == [str(hook), "--to", "my phone"]
    env = dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines())
    assert env.pop("MAS_NOTICE") == "alarm" and env.pop("PATH") == os.environ["PATH"]
    assert "SECRET_TOKEN" not in env and "MAS_HOME" not in env
    assert set(env) <= {"PWD", "SHLVL", "_", "OLDPWD"}  # what sh itself sets


def test_a_failing_hook_is_reported_and_backed_off_never_raised(tmp_path: Path, home: Home) -> None:
    hook = _script(tmp_path / "hook.sh", "#!/bin/sh\necho 'gateway down' >&2\nexit 3\n")
    spec = f"exec:{hook}"
    now = [0.0]
    reports: list[str] = []
    notifier = Notifier([parse_channel(spec, home)], reports.append, clock=lambda: now[0])
    assert notifier.send(spec, ALARM) is False
    assert reports == [f"notify: exec {hook.name}: exit 3: gateway down (tried again later)"]
    assert not notifier.ready(spec)
    now[0] = notify.FIRST_BACKOFF
    assert notifier.ready(spec) and notifier.send(spec, ALARM) is False
    now[0] += notify.FIRST_BACKOFF  # the second failure waits twice as long
    assert not notifier.ready(spec)
    now[0] += notify.FIRST_BACKOFF
    _script(hook, "#!/bin/sh\ncat >/dev/null\n")  # it works again
    assert notifier.ready(spec) and notifier.send(spec, ALARM) is True
    assert notifier.ready(spec) and len(reports) == 2


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_hook_that_hangs_is_killed_with_its_children(
    tmp_path: Path, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "HOOK_TIMEOUT", 0.5)
    pids = tmp_path / "pids"
    hook = _script(tmp_path / "hang.sh", f"#!/bin/sh\nsleep 60 &\necho $$ $! > {pids}\nwait\n")
    started = time.monotonic()
    with pytest.raises(NotifyError, match=r"no answer within 0\.5 s"):
        parse_channel(f"exec:{hook}", home).send(ALARM)
    assert time.monotonic() - started < 10
    until_sync(
        lambda: all(_gone(int(p)) for p in pids.read_text().split()),
        timeout=10,
        what="the hook's process group to end after its timeout",
    )


def test_desktop_needs_notify_send_and_puts_only_the_subject_on_its_command_line(
    tmp_path: Path, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ConfigError, match=r"notify-send.*libnotify-bin"):
        parse_channel("desktop", home)
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _script(bin_ / "notify-send", RECORD.format(out=tmp_path))
    monkeypatch.setenv("PATH", f"{bin_}:/usr/bin:/bin")
    channel = parse_channel("desktop", home)
    assert isinstance(channel, Desktop)
    channel.send(ALARM)
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[1:] == ["--app-name=Shield Mutual", "--urgency=critical", "--", ALARM.subject]
    assert (tmp_path / "stdin").read_text() == ""


def test_email_is_submitted_once_and_a_server_that_is_down_is_a_notify_error(
    home: Home, smtp_inbox: Any
) -> None:
    server = {"host": smtp_inbox.host, "port": smtp_inbox.port, "security": "plain"}
    save_settings(home, MailSettings(**server, sender="alarms@champion.example"))
    channel = parse_channel("email:me@champion.example", home)
    assert isinstance(channel, Email)
    channel.send(ALARM)
    (mail,) = smtp_inbox.wait_for(1)
    assert smtp_inbox.received[0][:2] == ("alarms@champion.example", ["me@champion.example"])
    assert mail["Subject"] == ALARM.subject and mail["To"] == "me@champion.example"
    smtp_inbox.stop()
    with pytest.raises(NotifyError, match=r"email me@champion\.example: .* unreachable"):
        channel.send(ALARM)


def test_email_needs_a_mail_server_and_a_plain_address(home: Home) -> None:
    with pytest.raises(ConfigError, match="no mail server set up"):
        parse_channel("email:me@champion.example", home)
    for bad in ("email:", "email:me", "email:a@b,evil@x.example", "email:me@x\r\nBcc: y@z"):
        with pytest.raises(ConfigError):
            parse_channel(bad, home)


def test_the_same_channel_twice_is_told_once(tmp_path: Path, home: Home) -> None:
    hook = _script(tmp_path / "hook.sh", RECORD.format(out=tmp_path))
    notifier = Notifier.parse([f"exec:{hook}", f"exec:{hook}"], home, print)
    assert notifier.specs == [f"exec:{hook}"]


COUNT = """#!/bin/sh
n=$(ls "{out}" | wc -l)
cat > "{out}/$n"
"""


def _request(title: str, summary: str = "s") -> AidRequest:
    return AidRequest(title=title, summary=summary, story="s", location="Leeds")


def test_new_request_notices_are_bounded_and_the_rest_summed_up(tmp_path: Path, home: Home) -> None:
    """A first run over a busy society (or a flood) sends NOTICE_BURST notices an hour;
    the rest are counted and told in one notice once there is room."""
    calls = tmp_path / "calls"
    calls.mkdir()
    hook = _script(tmp_path / "count.sh", COUNT.format(out=calls))
    now = [0.0]
    notices = RequestNotices(Notifier.parse([f"exec:{hook}"], home, print), lambda: now[0])
    hostile = _request("Rent \u202e after", "Two \u2066weeks")
    for n in range(notify.NOTICE_BURST + 15):
        notices.add(hostile if n == 0 else _request(f"R{n}"), "n")
    notices.flush()  # no room yet
    assert len(list(calls.iterdir())) == notify.NOTICE_BURST and notices.held == 15
    first = (calls / "0").read_text()
    assert first.startswith("New aid request: Rent \\u202e after\n")  # shown, not obeyed
    assert "\u202e" not in first and "\u2066" not in first and "Two \\u2066weeks" in first
    now[0] = notify.NOTICE_WINDOW
    notices.add(_request("Later"), "n")
    summary, later = (calls / str(notify.NOTICE_BURST)).read_text(), (calls / "11").read_text()
    assert summary.startswith("15 more new aid request(s)") and notices.held == 0
    assert later.startswith("New aid request: Later")
