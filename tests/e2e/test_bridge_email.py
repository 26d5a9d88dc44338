"""Issue 12: `mas bridge email` mails a society's requests to its list, exactly once.

Real `mas-relay` processes, the real `mas` CLI, and a real SMTP server (aiosmtpd) on
loopback. Sam publishes requests and news; the bridge (its own MAS_HOME) runs with
``--once`` as cron would, or as a service that is interrupted at the end. Time is
injected with ``--now`` to judge the digest's day; nothing here sleeps.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

LIST = "north-aid@lists.example"
SENDER = "desk@society.example"
SOCIETY = "north"
EVIL = "evil@attacker.example"


def publish(sam: Any, title: str, *extra: str) -> str:
    (made,) = sam("request", "new", "--title", title, "--summary", "Help needed.",
                  "--story", "The boiler broke in the cold snap.", "--location", "Leeds",
                  "--amount", "300", "--currency", "GBP", "--society", SOCIETY, *extra,
                  "--yes", "--json").json_lines()  # fmt: skip
    return str(made["naddr"])


def setup_bridge(bridge: Any, inbox: Any, *options: str) -> None:
    bridge("bridge", "smtp", "--host", inbox.host, "--port", str(inbox.port),
           "--security", "plain", "--from", SENDER)  # fmt: skip
    bridge("bridge", "email", "add", LIST, "--society", SOCIETY, "--since", "1 hour ago",
           *options)  # fmt: skip


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def world(relays: Any, person: Callable[..., Any], smtp_inbox: Any) -> tuple[Any, Any, Any]:
    (relay,) = relays(1)
    sam, bridge = person("sam", relay.url), person("bridge", relay.url)
    return sam, bridge, smtp_inbox


def test_new_request_then_threaded_news_each_once_across_restarts(
    world: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    sam, bridge, inbox = world
    setup_bridge(bridge, inbox, "--extras", "all")
    naddr = publish(sam, "Boiler repair")

    bridge("bridge", "email", "--once")
    (first,) = inbox.wait_for(1)
    assert first["Subject"] == "Boiler repair" and first["List-Id"] == "<north-aid.lists.example>"
    assert first["From"] == SENDER and first["To"] == LIST
    assert "The boiler broke" in text_of(first) and "nostr:naddr1" in text_of(first)
    assert inbox.received[0][:2] == (SENDER, [LIST])
    root = first["Message-ID"]

    bridge("bridge", "email", "--once")  # a restart with nothing new sends nothing
    assert len(inbox.received) == 1

    # While the bridge is down: news of the request, a status change, a report, another request.
    sam("update", naddr, input="The landlord agreed to wait a week.")
    sam("request", "update", naddr, "--status", "funded", "--yes")
    report = tmp_path / "report.md"
    report.write_text("# Where the money went\n\nThe boiler was fixed for 280 GBP.\n")
    sam("report", naddr, "--from", str(report))
    publish(sam, "Rent after the raid")

    bridge("bridge", "email", "--once")
    later = inbox.wait_for(5)[1:]
    subjects = sorted(str(m["Subject"]) for m in later)
    assert subjects == [
        "Rent after the raid",
        "Report: Boiler repair",
        "Status: Boiler repair",
        "Update: Boiler repair",
    ]
    for message in later:
        if str(message["Subject"]) != "Rent after the raid":
            assert message["In-Reply-To"] == root and message["References"] == root
            assert message["Message-ID"] != root
    news = {str(m["Subject"]): text_of(m) for m in later}
    assert "The landlord agreed to wait a week." in news["Update: Boiler repair"]
    assert "funded" in news["Status: Boiler repair"]
    assert "fixed for 280 GBP" in news["Report: Boiler repair"]

    bridge("bridge", "email", "--once")
    assert len(inbox.received) == 5


def test_a_digest_holds_every_request_of_the_day(world: tuple[Any, Any, Any]) -> None:
    sam, bridge, inbox = world
    setup_bridge(bridge, inbox, "--digest")
    titles = ["Boiler repair", "Rent after the raid"]
    for title in titles:
        publish(sam, title)
    day = "2031-03-04"

    bridge("bridge", "email", "--once", "--now", f"{day}T09:00:00Z")
    publish(sam, "Bail for Ana")  # later the same day
    bridge("bridge", "email", "--once", "--now", f"{day}T23:59:00Z")
    assert inbox.received == []  # the day is not over

    bridge("bridge", "email", "--once", "--now", "2031-03-05T00:05:00Z")
    (digest,) = inbox.wait_for(1)
    assert day in str(digest["Subject"]) and "3 new requests" in str(digest["Subject"])
    body = text_of(digest)
    for title in [*titles, "Bail for Ana"]:
        assert body.count(title) >= 1
    bridge("bridge", "email", "--once", "--now", "2031-03-06T00:05:00Z")
    assert len(inbox.received) == 1


def test_smtp_down_then_up_delivers_exactly_once_and_stops_cleanly(
    relays: Any, mas: Callable[..., Any], person: Callable[..., Any], mas_stream: Any,
    smtp_inbox: Any,
) -> None:  # fmt: skip
    (relay,) = relays(1)
    sam = person("sam", relay.url)
    mas("relays", "add", relay.url)
    setup_bridge(mas, smtp_inbox)
    smtp_inbox.stop()  # the mail server is down
    publish(sam, "Boiler repair")

    running = mas_stream("bridge", "email", "--interval", "0.05", "--retry-after", "0.02")
    running.wait_for(lambda: "".join(running.stderr).count("unreachable") >= 3)
    assert smtp_inbox.received == []
    smtp_inbox.start()
    (delivered,) = smtp_inbox.wait_for(1)
    assert delivered["Subject"] == "Boiler repair"
    running.proc.send_signal(signal.SIGTERM)  # systemctl stop
    assert running.proc.wait(timeout=20) == 0

    assert mas("bridge", "email", "--once").code == 0
    assert len(smtp_inbox.received) == 1


def test_once_fails_clearly_while_the_server_is_down_and_loses_nothing(
    world: tuple[Any, Any, Any],
) -> None:
    sam, bridge, inbox = world
    setup_bridge(bridge, inbox)
    inbox.stop()
    publish(sam, "Boiler repair")
    failed = bridge("bridge", "email", "--once", "--retry-after", "0", code=1)
    assert "unreachable" in failed.stderr and "Traceback" not in failed.stderr
    inbox.start()
    bridge("bridge", "email", "--once")
    assert [str(m["Subject"]) for m in inbox.wait_for(1)] == ["Boiler repair"]


HOSTILE_TITLE = f"Rent =?utf-8?q?=0D=0ABcc:_{EVIL}?= <b>now</b>"
HOSTILE_STORY = f"<script>alert(1)</script>\n\u202egnp.exe\n.\nBcc: {EVIL}\n"


def test_hostile_content_reaches_only_the_list_escaped(world: tuple[Any, Any, Any]) -> None:
    sam, bridge, inbox = world
    setup_bridge(bridge, inbox, "--extras", "update")
    naddr = sam("request", "new", "--title", HOSTILE_TITLE, "--summary", "Help.",
                "--story", HOSTILE_STORY, "--location", "Leeds", "--society", SOCIETY,
                "--yes", "--json").json_lines()[0]["naddr"]  # fmt: skip
    sam("update", naddr, input=f"Paid.\r\nBcc: {EVIL}\r\n\r\n<img src=x onerror=alert(1)>")
    bridge("bridge", "email", "--once")
    request, update = inbox.wait_for(2)
    assert [r[1] for r in inbox.received] == [[LIST], [LIST]]
    for message in (request, update):
        assert "Bcc" not in message and "Cc" not in message
        subject = str(message["Subject"])
        assert subject.isprintable() and "=?" not in subject and "\r" not in subject
        assert f"Bcc: {EVIL}" in subject or subject.startswith("Update: Rent")
    page = request.get_body(("html",))
    assert page is not None
    html = str(page.get_content())
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>now</b>" not in html
    assert update.get_body(("html",)) is None


def test_the_rate_limit_holds_mail_back_without_losing_it(world: tuple[Any, Any, Any]) -> None:
    sam, bridge, inbox = world
    setup_bridge(bridge, inbox, "--rate", "1")
    for title in ("Boiler repair", "Rent after the raid"):
        publish(sam, title)
    held = bridge("bridge", "email", "--once")
    assert "held by the rate limit 1" in held.stderr
    # Oldest first; both requests may carry the same second, so either may be the one.
    (first,) = [str(m["Subject"]) for m in inbox.wait_for(1)]
    assert first in ("Boiler repair", "Rent after the raid")
    bridge("bridge", "email", "--once", "--now", "in 61 minutes")
    sent = [str(m["Subject"]) for m in inbox.wait_for(2)]
    assert sent[0] == first and sorted(sent) == ["Boiler repair", "Rent after the raid"]
    # What the bridge keeps names no list, society or request in the clear.
    words = [LIST, SENDER, f"mas-{SOCIETY}", "Boiler repair", "Rent after the raid"]
    for path in bridge.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [w for w in words if w.encode() in data], path
