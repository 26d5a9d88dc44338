"""Champions end to end: four people, each with their own MAS_HOME, over two real relays.

The story: a member names two champions and checks in, then goes silent; a champion's
watch raises the alarm (judged at a later time with --now, never by sleeping); the
champion activates; a third person sees the request attributed to the member through a
verified champion; the member comes back, removes that champion, and the request is
shown as revoked. Then every event the relays stored is read straight from their SQLite
files to prove that no public event links the member and a champion.

The story takes a few dozen `mas` runs, so it is told once per kind of relay (open and
aid-only: the ``story`` fixture, module-scoped) and each test checks one chapter of it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.shared import kinds, nip19
from shieldmutual.shared.event import Event

TWELVE_HOURS = 12 * 3600
FACTS = "Detained at the march on Monday; the hearing is on Friday."


def _watch(champion: Any, *extra: str) -> list[dict[str, Any]]:
    return champion("champion", "watch", "--once", "--json", "--no-bell", *extra).json_lines()


def _text(result: Any) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _stored_events(db: Path) -> list[Event]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [Event.from_json(raw) for (raw,) in conn.execute("SELECT raw FROM events")]


@dataclass
class Story:
    """What each step of the story gave (`mas` results, their JSON rows), in order."""

    member: Any
    champions: list[Any]
    third: Any
    urls: tuple[str, str]
    listed: list[dict[str, Any]] = field(default_factory=list)
    before_accept: list[Any] = field(default_factory=list)  # each champion's first watch
    after_accept: list[list[dict[str, Any]]] = field(default_factory=list)
    checkins: list[dict[str, Any]] = field(default_factory=list)
    seen: dict[str, Any] = field(default_factory=dict)  # champion1's watch after it
    alarms: list[Any] = field(default_factory=list)  # each champion's watch, hours later
    human_alarm: Any = None
    public_before: Any = None  # what the third person could read before activation
    refused: Any = None  # activation without --yes
    classified_before: Any = None
    activated: dict[str, Any] = field(default_factory=dict)
    shown: str = ""
    listed_after_removal: list[dict[str, Any]] = field(default_factory=list)
    revoked: str = ""
    removed_watch: list[dict[str, Any]] = field(default_factory=list)
    kept_watch: list[dict[str, Any]] = field(default_factory=list)
    stops: list[int] = field(default_factory=list)  # the relays' exit codes
    stored: list[list[Event]] = field(default_factory=list)  # per relay, read from disk
    logs: list[str] = field(default_factory=list)  # per relay, its stderr


def _hand_over(story: Story, request_file: Path) -> None:
    """The member names two champions; the hand-over is private and waits for a yes."""
    member, (c1, c2) = story.member, story.champions
    member("champion", "add", c1.npub, "--request", str(request_file), "--every", "12h")
    member("champion", "add", c2.npub)
    story.listed = member("champion", "list", "--json").json_lines()
    for champion in (c1, c2):
        story.before_accept.append(champion("champion", "watch", "--once", "--json", "--no-bell"))
        champion("champion", "accept", member.npub)
        story.after_accept.append(_watch(champion))


def _silence(story: Story) -> str:
    """A check-in, then silence judged 15 hours and a minute later: the alarm."""
    c1, c2 = story.champions
    story.checkins = story.member("checkin", "--json").json_lines()
    (story.seen,) = _watch(c1)
    later = str(story.seen["last_checkin"] + TWELVE_HOURS + TWELVE_HOURS // 4 + 60)
    watch = ("champion", "watch", "--once", "--no-bell", "--now", later)
    story.alarms = [champion(*watch, "--json", code=5) for champion in (c1, c2)]
    story.human_alarm = c1(*watch, code=5)
    return later


def _activation(story: Story, later: str) -> None:
    """Nothing is published until champion1 says yes; then the third person reads it."""
    c1, third = story.champions[0], story.third
    story.public_before = third("req", "-k", "30402", "-k", "1985", "-k", "1")
    activate = ("champion", "activate", story.member.npub, "--facts", "-", "--now", later)
    story.refused = c1(*activate, input="x", code=2)
    story.classified_before = third("req", "-k", "30402")
    (story.activated,) = c1(*activate, "--yes", "--json", input=FACTS).json_lines()
    story.shown = _text(third("request", "show", story.activated["naddr"]))


def _removal(story: Story) -> None:
    """The member is back and removes champion1: its key is revoked, publicly."""
    member, (c1, c2) = story.member, story.champions
    member("champion", "remove", c1.npub)
    story.listed_after_removal = member("champion", "list", "--json").json_lines()
    story.revoked = _text(story.third("request", "show", story.activated["naddr"]))
    story.removed_watch = _watch(c1)
    story.kept_watch = _watch(c2)


@pytest.fixture(scope="module")
def story(module_networks: Any, relay_config: str | None) -> Story:
    """The whole story, once per kind of relay; then both relays are stopped gracefully
    (every acknowledged event on disk) and their files and logs read."""
    net = module_networks()
    r1, r2 = net.relays(2, config=relay_config)
    member, c1, c2, third = (
        net.person(n, r1.url, r2.url) for n in ("member", "champion1", "champion2", "third")
    )
    told = Story(member, [c1, c2], third, (r1.url, r2.url))
    _hand_over(told, net.emergency_request)
    _activation(told, _silence(told))
    _removal(told)
    for relay in (r1, r2):
        told.stops.append(relay.proc.terminate())
        told.stored.append(_stored_events(relay.db))
        told.logs.append("".join(relay.proc.log))
    return told


def test_champions_are_named_and_watch_only_after_saying_yes(story: Story) -> None:
    c1, c2 = story.champions
    assert {row["npub"] for row in story.listed} == {c1.npub, c2.npub}
    assert {row["interval"] for row in story.listed} == {TWELVE_HOURS}
    for waiting in story.before_accept:
        assert waiting.json_lines() == []
        assert f"champion accept {story.member.npub}" in " ".join(waiting.stderr.split())
    for rows in story.after_accept:
        (row,) = rows
        assert row["member"] == story.member.npub and row["status"] == "ok"


def test_a_checkin_reaches_both_champions(story: Story) -> None:
    assert {row["champion"] for row in story.checkins} == {c.npub for c in story.champions}
    assert all(row["acks"] == 2 for row in story.checkins)
    assert story.seen["interval"] == TWELVE_HOURS and not story.seen["overdue"]


def test_silence_raises_the_alarm_for_every_champion(story: Story) -> None:
    for alarm in story.alarms:
        (row,) = alarm.json_lines()
        assert row["overdue"] and row["status"] == "overdue"
        assert "ALARM" in alarm.stderr and story.member.npub in alarm.stderr
    assert "OVERDUE" in story.human_alarm.stdout


def test_nothing_is_published_until_a_champion_says_yes(story: Story) -> None:
    assert story.public_before.lines == []
    assert "--yes" in story.refused.stderr
    assert story.classified_before.lines == []


def test_the_request_is_attributed_through_a_verified_champion(story: Story) -> None:
    ok = {r["relay"] for r in story.activated["results"] if r["ok"]}
    assert ok == set(story.urls)
    assert "published by a champion for" in story.shown
    assert "attestation verified" in story.shown and FACTS in story.shown
    pointer = nip19.naddr_decode(story.activated["naddr"])
    signers = {story.member.pubkey} | {c.pubkey for c in story.champions}
    assert pointer.pubkey not in signers  # signed by the emergency key


def test_removing_a_champion_revokes_its_key(story: Story) -> None:
    c2 = story.champions[1]
    assert {row["npub"] for row in story.listed_after_removal} == {c2.npub}
    assert "revoked" in story.revoked and "attestation verified" not in story.revoked
    assert story.removed_watch == []  # told to stand down
    (still,) = story.kept_watch  # the remaining champion holds the new key
    assert still["member"] == story.member.npub


def test_no_public_event_links_member_and_champion(story: Story) -> None:
    member = story.member.pubkey
    champion_keys = {c.pubkey for c in story.champions}
    champion_npubs = {c.npub for c in story.champions}
    assert story.stops == [0, 0]  # graceful: every acknowledged event is on disk
    for events in story.stored:
        assert events, "the story stored nothing?"
        public = [e for e in events if e.kind != kinds.GIFT_WRAP]
        wraps = [e for e in events if e.kind == kinds.GIFT_WRAP]
        assert {e.kind for e in public} >= {kinds.LABEL, kinds.CLASSIFIED, kinds.TEXT_NOTE}
        for event in public:
            text = event.to_json().decode()
            for key in champion_keys | champion_npubs:
                assert key not in text, f"a public event names a champion: {text}"
            assert event.pubkey not in champion_keys
        for wrap in wraps:
            (recipient,) = wrap.tag_values("p")  # one recipient and nothing else in the open
            assert [t[0] for t in wrap.tags] == ["p"]
            assert wrap.pubkey not in champion_keys | {member}  # a one-time key
            # The member's only wrap is the activation notice: it names no champion outside.
            assert recipient in champion_keys | {member}
            if recipient != member:
                assert member not in wrap.to_json().decode()


def test_relays_keep_no_auth_event_and_log_nobody(story: Story) -> None:
    people = {story.member.pubkey} | {c.pubkey for c in story.champions}
    for events, log in zip(story.stored, story.logs, strict=True):
        # An AUTH event would tie a connection to a key.
        assert not [e for e in events if e.kind == kinds.CLIENT_AUTH]
        for key in people:
            assert key not in log


def test_a_seized_laptop_names_no_champion_and_no_member(story: Story) -> None:
    """Local records are sealed: without the passphrase the member's side names no
    champion and a champion's side names no member."""
    member = story.member
    champion_ids = {c.pubkey for c in story.champions} | {c.npub for c in story.champions}
    sides = [(member, champion_ids)]
    sides += [(c, {member.pubkey, member.npub}) for c in story.champions]
    for someone, secrets in sides:
        files = [p for p in someone.home.rglob("*") if p.is_file()]
        assert any(p.suffix == ".sealed" for p in files)
        for path in files:
            data = path.read_bytes()
            for key in secrets:
                assert key.encode() not in data, f"{path} names {key} in the clear"


def test_live_watch_rings_when_silence_outlasts_a_tiny_interval(
    emergency_request: Path, mas: Any, mas_stream: Any, relays: Any
) -> None:
    """The live view, as a script sees it (--json): ok, then overdue once a one-second
    interval and its grace pass with no check-in, then ok again after one. Every wait is
    for a condition, with a timeout; the interval is tiny so real time is enough."""
    (relay,) = relays(1)
    ids = {}
    for name in ("sam", "ada"):
        made = mas("id", "new", name, "--json")
        assert made.code == 0, made.stderr
        ids[name] = made.json_lines()[0]
    assert mas("relays", "add", relay.url).code == 0
    added = mas(
        "--as", "sam", "champion", "add", ids["ada"]["npub"],
        "--request", str(emergency_request), "--every", "1s",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    assert mas("--as", "ada", "champion", "watch", "--once").code == 0  # sees it waiting
    assert mas("--as", "ada", "champion", "accept", ids["sam"]["npub"]).code == 0
    watch = mas_stream("--as", "ada", "champion", "watch", "--json", "--refresh", "1", "--no-bell")

    def statuses() -> list[str]:
        return [row["status"] for row in watch.events()]

    watch.wait_for(lambda: "overdue" in statuses())
    assert statuses()[-1] == "overdue" and watch.events()[-1]["member"] == ids["sam"]["npub"]
    assert mas("--as", "sam", "checkin").code == 0
    watch.wait_for(lambda: statuses()[-1] != "overdue")
    assert watch.events()[-1]["last_checkin"] > watch.events()[0]["last_checkin"]
    assert mas("--as", "ada", "req", "-k", "30402", "-k", "1985").lines == []  # published nothing
