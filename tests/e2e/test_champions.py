"""Champions end to end: four people, each with their own MAS_HOME, over two real relays.

The story: a member names two champions and checks in, then goes silent; a champion's
watch raises the alarm (judged at a later time with --now, never by sleeping); the
champion activates; a third person sees the request attributed to the member through a
verified champion; the member comes back, removes that champion, and the request is
shown as revoked. Then every event the relays stored is read straight from their SQLite
files to prove that no public event links the member and a champion.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shieldmutual.shared import kinds, nip19
from shieldmutual.shared.event import Event

TWELVE_HOURS = 12 * 3600


def _watch(champion: Any, *extra: str) -> list[dict[str, Any]]:
    return champion("champion", "watch", "--once", "--json", "--no-bell", *extra).json_lines()


def run_story(
    request_file: Path, relays: Any, person: Callable[..., Any], config: str | None = None
) -> dict[str, Any]:
    """Four people, each with their own MAS_HOME, over two relays (``config``: their TOML)."""
    r1, r2 = relays(2, config=config)
    urls = (r1.url, r2.url)
    member, c1, c2, third = (
        person(n, *urls) for n in ("member", "champion1", "champion2", "third")
    )

    # The member names two champions; the hand-over is private.
    member("champion", "add", c1.npub, "--request", str(request_file), "--every", "12h")
    member("champion", "add", c2.npub)
    mine = member("champion", "list", "--json").json_lines()
    assert {row["npub"] for row in mine} == {c1.npub, c2.npub}
    assert {row["interval"] for row in mine} == {TWELVE_HOURS}
    for champion in (c1, c2):  # champions by consent: a hand-over waits for a yes
        waiting = champion("champion", "watch", "--once", "--json", "--no-bell")
        assert waiting.json_lines() == []
        assert f"champion accept {member.npub}" in " ".join(waiting.stderr.split())
        champion("champion", "accept", member.npub)
        (row,) = _watch(champion)
        assert row["member"] == member.npub and row["status"] == "ok"

    # A check-in reaches both champions.
    sent = member("checkin", "--json").json_lines()
    assert {row["champion"] for row in sent} == {c1.npub, c2.npub}
    assert all(row["acks"] == 2 for row in sent)
    (seen,) = _watch(c1)
    last = seen["last_checkin"]
    assert seen["interval"] == TWELVE_HOURS and not seen["overdue"]

    # The member goes silent: judged 15 hours and a minute later, the alarm is raised.
    later = str(last + TWELVE_HOURS + TWELVE_HOURS // 4 + 60)
    for champion in (c1, c2):
        alarm = champion("champion", "watch", "--once", "--json", "--no-bell", "--now", later,
                         code=5)  # fmt: skip
        (row,) = alarm.json_lines()
        assert row["overdue"] and row["status"] == "overdue"
        assert "ALARM" in alarm.stderr and member.npub in alarm.stderr
    human = c1("champion", "watch", "--once", "--no-bell", "--now", later, code=5)
    assert "OVERDUE" in human.stdout

    # Nothing was published automatically, and activation wants a person's yes.
    public = third("req", "-k", "30402", "-k", "1985", "-k", "1")
    assert public.lines == []
    refused = c1("champion", "activate", member.npub, "--facts", "-", "--now", later,
                 input="x", code=2)  # fmt: skip
    assert "--yes" in refused.stderr
    assert third("req", "-k", "30402").lines == []

    facts = "Detained at the march on Monday; the hearing is on Friday."
    activated = c1("champion", "activate", member.npub, "--facts", "-", "--yes", "--json",
                   "--now", later, input=facts)  # fmt: skip
    (result,) = activated.json_lines()
    naddr = result["naddr"]
    assert {r["relay"] for r in result["results"] if r["ok"]} == {r1.url, r2.url}

    # A third person sees it attributed to the member through a verified champion.
    shown = third("request", "show", naddr)
    text = " ".join((shown.stdout + shown.stderr).split())
    assert "published by a champion for" in text and "attestation verified" in text
    assert facts in text
    pointer = nip19.naddr_decode(naddr)
    assert pointer.pubkey not in (member.pubkey, c1.pubkey, c2.pubkey)  # signed by E

    # The member is back and removes champion1: the old key is revoked, publicly.
    member("champion", "remove", c1.npub)
    assert {row["npub"] for row in member("champion", "list", "--json").json_lines()} == {c2.npub}
    revoked = third("request", "show", naddr)
    text = " ".join((revoked.stdout + revoked.stderr).split())
    assert "revoked" in text and "attestation verified" not in text
    assert _watch(c1) == []  # told to stand down
    (still,) = _watch(c2)  # the remaining champion holds the new key
    assert still["member"] == member.npub
    return {"relays": [r1, r2], "member": member, "champions": [c1, c2], "third": third}


def test_champion_story_end_to_end(
    emergency_request: Path, relays: Any, person: Any, relay_config: str | None
) -> None:
    run_story(emergency_request, relays, person, relay_config)


def _stored_events(db: Path) -> list[Event]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [Event.from_json(raw) for (raw,) in conn.execute("SELECT raw FROM events")]


def test_no_public_event_links_member_and_champion(
    emergency_request: Path, relays: Any, person: Any
) -> None:
    story = run_story(emergency_request, relays, person)
    member = story["member"].pubkey
    champion_keys = {c.pubkey for c in story["champions"]}
    champion_npubs = {c.npub for c in story["champions"]}
    for relay in story["relays"]:
        assert relay.proc.terminate() == 0  # a graceful stop: every acknowledged event is on disk
        events = _stored_events(relay.db)
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
        # No AUTH event (which would tie a connection to a key) was stored.
        assert not [e for e in events if e.kind == kinds.CLIENT_AUTH]
        # The relay's own log names nobody.
        log = "".join(relay.proc.log)
        for key in champion_keys | {member}:
            assert key not in log
    # Local records are sealed: a seized laptop names no champion (member's side) and no
    # member (champion's side) without the passphrase.
    sides = [(story["member"], champion_keys | champion_npubs)]
    sides += [(c, {member, story["member"].npub}) for c in story["champions"]]
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
