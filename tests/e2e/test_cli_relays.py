"""The real `mas` CLI against real `mas-relay` processes on loopback.

Publishing to several relays with per-relay results and --min-acks, reading back with
every filter flag, `mas req | mas event` re-publishing, `mas relays check`, and a
`mas req --stream` that keeps every event exactly once while a relay is killed and
restarted under it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from shieldmutual.shared import nip19
from shieldmutual.shared.event import Event


def setup_identity(mas: Any, name: str = "alice") -> dict[str, Any]:
    result = mas("id", "new", name, "--json")
    assert result.code == 0, result.stderr
    return result.json_lines()[0]


def test_publish_everywhere_then_read_back(mas: Any, relays: Any) -> None:
    r1, r2, r3 = relays(3)
    alice = setup_identity(mas)
    assert mas("relays", "add", r1.url, r2.url, r3.url).code == 0

    published = mas("event", "-c", "hello from the hill", "-t", "t=mas-e2e", "--json")
    assert published.code == 0, published.stderr
    results = published.json_lines()
    assert {r["relay"] for r in results} == {r1.url, r2.url, r3.url}
    assert {r["status"] for r in results} == {"accepted"}
    event_id = results[0]["id"]

    human = mas("event", "-c", "second", "-t", "t=mas-e2e")
    assert human.code == 0
    assert Event.from_json(human.lines[0]).content == "second"  # stdout: the event
    assert "accepted" in human.stderr and "3/3" in human.stderr  # stderr: the table

    for relay in (r1, r2, r3):  # every relay has it, not just the merged view
        alone = mas("req", "-r", relay.url, "-i", nip19.note_encode(event_id))
        assert [Event.from_json(line).id for line in alone.lines] == [event_id]

    merged = mas("req", "-t", "mas-e2e", "-a", alice["npub"])
    assert merged.code == 0, merged.stderr
    events = [Event.from_json(line) for line in merged.lines]
    assert sorted(e.content for e in events) == ["hello from the hill", "second"]
    assert all(e.is_valid() for e in events)
    assert "2 events from 3 relays" in merged.stderr
    assert "duplicates dropped" in merged.stderr  # each event came from all three relays


def test_min_acks_duplicates_and_a_dead_relay(mas: Any, relays: Any) -> None:
    r1, r2, r3 = relays(3)
    setup_identity(mas)
    r3.kill()
    urls = ["-r", r1.url, "-r", r2.url, "-r", r3.url]

    event_line = mas("event", "-c", "x", "--dry-run").lines[0]  # signed, not sent
    strict = mas("event", "--min-acks", "3", *urls, input=event_line)
    assert strict.code == 3
    assert "unreachable" in strict.stderr and "2/3" in strict.stderr
    assert strict.stderr.strip().splitlines()[-1].startswith("error: ")
    assert strict.stdout == ""  # not published as asked: nothing on stdout

    relaxed = mas("event", "--min-acks", "2", "--json", *urls, input=event_line)
    assert relaxed.code == 0, relaxed.stderr
    statuses = {r["relay"]: r["status"] for r in relaxed.json_lines()}
    assert statuses == {r1.url: "duplicate", r2.url: "duplicate", r3.url: "unreachable"}

    everything_down = mas("event", "-c", "y", "-r", r3.url)
    assert everything_down.code == 3


def test_req_filter_flags(mas: Any, relays: Any) -> None:
    (relay,) = relays(1)
    alice = setup_identity(mas, "alice")
    bob = setup_identity(mas, "bob")
    now = int(time.time())

    def publish(*args: str) -> str:
        result = mas("event", "-r", relay.url, *args)
        assert result.code == 0, result.stderr
        return Event.from_json(result.lines[0]).id

    old = publish("--as", "alice", "-c", "old rent request", "-t", "t=rent",
                  "--created-at", str(now - 3 * 86400))  # fmt: skip
    new = publish("--as", "alice", "-c", "new food request", "-t", "t=food")
    other = publish("--as", "bob", "-k", "7", "-c", "+", "-e", old, "-p", alice["npub"])

    def ids(*args: str) -> set[str]:
        result = mas("req", "-r", relay.url, *args)
        assert result.code == 0, result.stderr
        return {Event.from_json(line).id for line in result.lines}

    assert ids("-k", "1") == {old, new}
    assert ids("-k", "1", "-k", "7") == {old, new, other}
    assert ids("-a", bob["npub"]) == {other}
    assert ids("-a", alice["pubkey"], "--since", "2 days ago") == {new}
    assert ids("-k", "1", "--until", "1 day ago") == {old}
    assert ids("-t", "food") == {new}
    assert ids("--tag", "t=rent") == {old}
    assert ids("--tag", "e=" + nip19.note_encode(old)) == {other}
    assert ids("--tag", "p=" + alice["npub"]) == {other}
    assert ids("-k", "1", "--limit", "1") == {new}
    assert ids("--search", "food") == {new}
    assert ids("-i", old, "-i", nip19.note_encode(new)) == {old, new}


def test_req_piped_into_event_republishes_unchanged(
    mas: Any, mas_env: dict[str, str], relays: Any, spawn: Any
) -> None:
    source, target = relays(2)
    setup_identity(mas)
    sent = []
    for i in range(5):
        result = mas("event", "-r", source.url, "-c", f"note {i}", "-t", "t=mas-pipe")
        sent.append(Event.from_json(result.lines[0]).id)

    mas_bin = str(Path(sys.executable).with_name("mas"))
    req = subprocess.Popen(
        [mas_bin, "req", "-r", source.url, "-t", "mas-pipe"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        **spawn(mas_env),
    )  # fmt: skip
    event = subprocess.run(
        [mas_bin, "event", "-r", target.url, "--json"],
        stdin=req.stdout, capture_output=True, text=True, timeout=60, **spawn(mas_env),
    )  # fmt: skip
    assert req.wait(timeout=60) == 0
    assert event.returncode == 0, event.stderr
    results = [line for line in event.stdout.splitlines() if line.strip()]
    assert len(results) == 5

    copied = mas("req", "-r", target.url, "-t", "mas-pipe")
    assert {Event.from_json(line).id for line in copied.lines} == set(sent)


def test_relays_check(mas: Any, relays: Any) -> None:
    r1, r2 = relays(2)
    healthy = mas("relays", "check", r1.url, r2.url, "--json")
    assert healthy.code == 0, healthy.stderr
    rows = healthy.json_lines()
    assert [r["relay"] for r in rows] == [r1.url, r2.url]
    for row in rows:
        assert row["ok"] and row["rtt_ms"] is not None and row["connect_ms"] is not None
        assert 1 in row["supported_nips"]
    table = mas("relays", "check", r1.url)
    assert table.code == 0 and r1.url in table.stdout and "ok" in table.stdout
    r2.kill()
    mixed = mas("relays", "check", r1.url, r2.url, "--json")
    assert mixed.code == 3
    assert [r["ok"] for r in mixed.json_lines()] == [True, False]


def test_stream_keeps_every_event_once_across_a_relay_restart(
    mas: Any, mas_stream: Any, relays: Any
) -> None:
    r1, r2, r3 = relays(3)
    setup_identity(mas)
    all_relays = ["-r", r1.url, "-r", r2.url, "-r", r3.url]
    stream = mas_stream("req", "--stream", "-t", "mas-live", *all_relays)
    stream.wait_for(lambda: any("end of stored events" in line for line in stream.stderr))

    def publish(content: str, *targets: Any) -> str:
        urls = [arg for relay in targets for arg in ("-r", relay.url)]
        result = mas("event", "-c", content, "-t", "t=mas-live", *urls)
        assert result.code == 0, result.stderr
        return Event.from_json(result.lines[0]).id

    def seen() -> list[str]:
        return [e["id"] for e in stream.events()]

    a = publish("before", r1, r2, r3)
    stream.wait_for(lambda: a in seen())

    r1.kill()
    b = publish("while r1 is down", r2, r3)
    stream.wait_for(lambda: b in seen())

    r1.restart()
    c = publish("only on r1, after its restart", r1)  # reaches us only through r1
    stream.wait_for(lambda: c in seen())
    d = publish("after", r1, r2, r3)
    stream.wait_for(lambda: d in seen())

    assert seen() == [a, b, c, d]  # nothing lost, nothing repeated, in order
    assert stream.interrupt() == 130


def test_nip42_auth_when_the_relay_asks(mas: Any, relays: Any) -> None:
    (relay,) = relays(1, config="[policy]\nauth_required = true\n")
    setup_identity(mas)
    refused = mas("event", "-c", "x", "-r", relay.url)
    assert refused.code == 3 and "auth-required" in refused.stderr
    accepted = mas("event", "-c", "x", "-r", relay.url, "--auth", "--json")
    assert accepted.code == 0, accepted.stderr
    assert accepted.json_lines()[0]["status"] == "accepted"
    assert mas("req", "-k", "1", "-r", relay.url).code == 3
    read = mas("req", "-k", "1", "-r", relay.url, "--auth")
    assert read.code == 0 and len(read.lines) == 1


def test_gift_wraps_only_reach_their_recipient(mas: Any, relays: Any) -> None:
    (relay,) = relays(1)
    setup_identity(mas, "alice")
    bob = setup_identity(mas, "bob")
    wrap = mas(
        "event", "--throwaway", "-k", "1059", "-p", bob["npub"], "-c", "sealed", "-r", relay.url
    )
    assert wrap.code == 0, wrap.stderr
    wrap_id = Event.from_json(wrap.lines[0]).id
    query = ("req", "-k", "1059", "--tag", "p=" + bob["npub"], "-r", relay.url)
    anonymous = mas(*query)
    assert anonymous.code == 3 and "auth-required" in anonymous.stderr
    assert mas(*query, "--auth", "--as", "alice").lines == []
    as_bob = mas(*query, "--auth", "--as", "bob")
    assert as_bob.code == 0, as_bob.stderr
    assert [Event.from_json(line).id for line in as_bob.lines] == [wrap_id]


def test_live_stream_piped_into_event_republishes_as_events_arrive(
    mas: Any, mas_stream: Any, relays: Any
) -> None:
    """`mas req --stream | mas event -r other`: each line is flushed as it arrives, so a
    live event reaches the other relay while both commands are still running."""
    source, target = relays(2)
    setup_identity(mas)
    pipeline = mas_stream(
        ["req", "--stream", "-r", source.url, "-t", "mas-relay-live"],
        ["event", "-r", target.url, "--json"],
    )
    for i in range(3):
        sent = mas("event", "-r", source.url, "-c", f"live {i}", "-t", "t=mas-relay-live")
        sent_id = Event.from_json(sent.lines[0]).id
        pipeline.wait_for(lambda i=sent_id: any(r["id"] == i for r in pipeline.events()))
    assert [r["status"] for r in pipeline.events()] == ["accepted"] * 3
    copied = mas("req", "-r", target.url, "-t", "mas-relay-live")
    assert len(copied.lines) == 3
