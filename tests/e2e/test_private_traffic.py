"""What a hostile relay learns from the real `mas` CLI: nothing that links people.

The adversary here is a relay operator who logs every frame with the connection it came
on and when: :class:`SpyRelay`, a small but real NIP-01 relay on loopback (it stores
events, answers REQs, sends an AUTH challenge and records every frame). It is not a stand
in for `mas-relay`; it is the observer the client must defeat, so every test reads its
log the way that operator would.
"""

from __future__ import annotations

import functools
import itertools
import os
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.notes import Announcement, announcement_template
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

LOW = 0.3  # seconds: MAS_PRIVATE_DELAY's low end in these tests


@dataclass(frozen=True, slots=True)
class Frame:
    conn: int
    at: float
    message: list[Any]


@dataclass
class SpyRelay:
    """Stores events, answers REQs (gift wraps to anyone: it is not our relay) and logs
    every client frame with its connection number and arrival time."""

    url: str = ""
    frames: list[Frame] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, ws: ServerConnection) -> None:
        conn = next(self._ids)
        ws.send(orjson.dumps(["AUTH", f"challenge-{conn}"]).decode())
        try:
            for raw in ws:
                message = orjson.loads(raw)
                with self._lock:
                    self.frames.append(Frame(conn, time.monotonic(), message))
                self._answer(ws, message)
        except ConnectionClosed:
            return

    def _answer(self, ws: ServerConnection, message: list[Any]) -> None:
        if message[0] in ("EVENT", "AUTH"):
            event = Event.from_dict(message[1])
            if message[0] == "EVENT":
                with self._lock:
                    self.events.append(event)
            ws.send(orjson.dumps(["OK", event.id, True, ""]).decode())
        elif message[0] == "REQ":
            filters = [Filter.from_dict(f) for f in message[2:]]
            with self._lock:
                found = [e for e in self.events if any(f.matches(e) for f in filters)]
            for event in found:
                ws.send(orjson.dumps(["EVENT", message[1], event.to_dict()]).decode())
            ws.send(orjson.dumps(["EOSE", message[1]]).decode())

    # -- what the operator reads in the log --

    def sent(self, kind: int | None = None) -> list[Frame]:
        return [
            f
            for f in self.frames
            if f.message[0] == "EVENT" and kind in (None, f.message[1]["kind"])
        ]

    def reqs(self) -> list[Frame]:
        return [f for f in self.frames if f.message[0] == "REQ"]

    def by_connection(self) -> dict[int, list[Frame]]:
        out: dict[int, list[Frame]] = {}
        for frame in self.frames:
            out.setdefault(frame.conn, []).append(frame)
        return out

    def connections(self) -> int:
        return len({f.conn for f in self.frames})

    def names_on_one_connection(self, *pubkeys: str) -> bool:
        """Whether one connection's frames mention every one of ``pubkeys``."""
        for frames in self.by_connection().values():
            text = orjson.dumps([f.message for f in frames]).decode()
            if all(p in text for p in pubkeys):
                return True
        return False


@pytest.fixture
def spies() -> Iterator[Callable[[], SpyRelay]]:
    servers: list[Server] = []

    def make() -> SpyRelay:
        spy = SpyRelay()
        server = serve(spy.handle, "127.0.0.1", 0)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        spy.url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        return spy

    yield make
    for server in servers:
        server.shutdown()


@pytest.fixture
def user(person: Callable[..., Any]) -> Callable[..., Any]:
    """``user("name", *relay_urls)``: someone whose private items go out LOW to 0.8 s apart."""
    return functools.partial(person, env={"MAS_PRIVATE_DELAY": f"{LOW}:0.8"})


def _request_file(tmp_path: Path) -> str:
    request = AidRequest(
        title="Rent after the raid",
        summary="Two weeks of work lost after the raid.",
        story="Please help with the rent.",
        location="Leeds",
        language="en",
        societies=("north",),
    )
    path = tmp_path / "request.md"
    path.write_text(render_template(request), encoding="utf-8")
    return str(path)


def _request(title: str, society: str) -> AidRequest:
    return AidRequest(
        title=title,
        summary=f"{title}: the summary.",
        story=f"The story of {title}.",
        location="Leeds",
        language="en",
        societies=(society,),
        identifier=title.lower().replace(" ", "-"),
        published_at=int(time.time()) - 60,
    )


def _each_wrap_alone_and_late(spy: SpyRelay, started: float, count: int) -> None:
    """Every gift wrap on a connection that carries nothing else published, and none sent
    before the low end of the delay range (a burst would be at once)."""
    wraps = spy.sent(kinds.GIFT_WRAP)
    assert len(wraps) == count
    for frame in wraps:
        assert [f for f in spy.by_connection()[frame.conn] if f.message[0] == "EVENT"] == [frame]
        assert frame.at - started >= LOW


def test_a_dm_and_its_self_copy_go_apart(spies: Any, user: Any) -> None:
    """Finding: `dm send` wrote the recipient's wrap and the sender's copy back to back,
    and asked for both people's 10050 lists on one connection."""
    spy = spies()
    alice, bob = user("alice", spy.url), user("bob", spy.url)
    started = time.monotonic()
    sent = alice("dm", "send", bob.npub, input="see you at six")
    assert "sending 2 private message(s) apart" in " ".join(sent.stderr.split())
    assert sent.stderr.count("ok  ") == 2  # progress: one line as each lands
    _each_wrap_alone_and_late(spy, started, 2)
    assert not spy.names_on_one_connection(alice.pubkey, bob.pubkey)
    for frame in spy.reqs():
        authors = [a for f in frame.message[2:] for a in f.get("authors", [])]
        assert len(set(authors)) <= 1


def _member_with_three_champions(
    spy: SpyRelay, user: Callable[..., Any], tmp_path: Path
) -> tuple[Any, list[Any]]:
    """A member who named three champions on ``spy``, whose log is then cleared."""
    member = user("member", spy.url)
    champions = [user(f"champion{n}", spy.url) for n in range(3)]
    member("champion", "add", champions[0].npub, "--request", _request_file(tmp_path))
    for champion in champions[1:]:
        member("champion", "add", champion.npub)
    spy.frames.clear()
    return member, champions


def test_check_ins_to_co_champions_go_apart(spies: Any, user: Any, tmp_path: Path) -> None:
    """Finding: a check-in to N champions was N wraps in one burst (co-champions linked)."""
    spy = spies()
    member, champions = _member_with_three_champions(spy, user, tmp_path)
    started = time.monotonic()
    sent = member("checkin", "--json").json_lines()
    assert {row["champion"] for row in sent} == {c.npub for c in champions}
    _each_wrap_alone_and_late(spy, started, 3)


def test_a_revocation_does_not_arrive_beside_the_new_hand_overs(
    spies: Any, user: Any, tmp_path: Path
) -> None:
    """Finding: `champion remove` published the member's revocation label right before the
    wraps to the remaining champions (and the stand-down to the removed one)."""
    spy = spies()
    member, champions = _member_with_three_champions(spy, user, tmp_path)
    started = time.monotonic()
    member("champion", "remove", champions[0].npub)
    (revocation,) = spy.sent(kinds.LABEL)
    assert revocation.at - started >= LOW
    alone = spy.by_connection()[revocation.conn]
    assert [f for f in alone if f.message[0] == "EVENT"] == [revocation]
    assert all(f.message[1]["pubkey"] != member.pubkey for f in alone if f.message[0] == "AUTH")
    _each_wrap_alone_and_late(spy, started, 3)  # two new packages and one stand-down


def test_whois_never_puts_two_of_your_identities_on_one_connection(spies: Any, user: Any) -> None:
    """Finding: `mas whois` sent every local identity (throwaways too) in one REQ."""
    spy = spies()
    me = user("me", spy.url)
    other = me("id", "new", "throwaway", "--json").json_lines()[0]
    subject = SecretKey.generate().public_hex
    me("whois", subject, "--timeout", "5")
    assert spy.reqs()
    assert not spy.names_on_one_connection(me.pubkey, other["pubkey"])
    assert not spy.names_on_one_connection(me.pubkey, subject)
    assert not spy.names_on_one_connection(other["pubkey"], subject)


def test_the_feed_query_does_not_reveal_what_you_follow(spies: Any, user: Any) -> None:
    """Finding: `mas feed` sent the whole follow list to every relay in one REQ."""
    spy = spies()
    reader = user("reader", spy.url)
    reader("follow", "mas-north")
    reader("follow", "mas-york")
    stranger = SecretKey.generate()
    for request in (_request("Van repair", "york"), _request("Elsewhere", "hull")):
        spy.events.append(sign(stranger, *request_event_template(request)))
    shown = reader("feed", "--once", "--json").json_lines()
    assert [item["title"] for item in shown] == ["Van repair"]  # matched here, not by the relay
    log = orjson.dumps([f.message for f in spy.reqs()]).decode()
    assert "mas-north" not in log and "mas-york" not in log


def test_relay_hints_in_a_strangers_post_are_not_dialled(spies: Any, user: Any) -> None:
    """Finding: an announcement's relay hint made every follower connect to the stranger's
    relay, so its operator learned their IP addresses."""
    shared, lure = spies(), spies()
    reader = user("reader", shared.url)
    reader("follow", "mas-north")
    stranger = SecretKey.generate()
    request = _request("Somewhere else", "north")
    lure.events.append(sign(stranger, *request_event_template(request)))
    note = Announcement.of(request, stranger.public_hex, (lure.url,))
    shared.events.append(sign(stranger, *announcement_template(note)))

    quiet = reader("feed", "--once", "--json")
    assert quiet.json_lines() == [] and lure.connections() == 0
    assert "--follow-hints" in quiet.stderr
    agreed = reader("feed", "--once", "--json", "--follow-hints").json_lines()
    assert [item["title"] for item in agreed] == ["Somewhere else"] and lure.connections() > 0


def test_a_strangers_hand_over_waits_for_consent(spies: Any, user: Any, tmp_path: Path) -> None:
    """Finding: an unsolicited package was accepted; `champion watch` then authenticated as
    the victim to the stranger's relay and later raised a fake OVERDUE alarm."""
    shared, lure = spies(), spies()
    victim = user("victim", shared.url)
    stranger = user("stranger", shared.url, lure.url)
    stranger("champion", "add", victim.npub, "--request", _request_file(tmp_path), "--every", "1h")
    lure.frames.clear()
    far_later = str(int(time.time()) + 30 * 86400)
    for _ in range(2):  # the second look is when a stranger's relays used to be dialled
        seen = victim("champion", "watch", "--once", "--json", "--no-bell", "--now", far_later)
        assert seen.json_lines() == [] and "ALARM" not in seen.stderr
        assert f"champion accept {stranger.npub}" in " ".join(seen.stderr.split())
    assert lure.connections() == 0  # never dialled, so never authenticated there
    listed = victim("champion", "list", "--json").json_lines()
    assert listed == [{"role": "pending", "member": stranger.npub}]

    victim("champion", "decline", stranger.npub)
    again = victim("champion", "watch", "--once", "--json", "--no-bell")
    assert stranger.npub not in again.stderr and again.json_lines() == []
    assert victim("champion", "accept", stranger.npub, code=1).stderr


def test_activation_names_no_relay_of_the_champion(spies: Any, user: Any, tmp_path: Path) -> None:
    """Finding: the announcement signed by E carried the activating champion's own relay."""
    members_relay, champions_own = spies(), spies()
    member = user("member", members_relay.url)
    champion = user("champion", champions_own.url, members_relay.url)
    member("champion", "add", champion.npub, "--request", _request_file(tmp_path))
    champion("champion", "watch", "--once")
    champion("champion", "accept", member.npub)
    later = str(int(time.time()) + 30 * 86400)  # judged overdue, never by sleeping
    champion("champion", "activate", member.npub, "--yes", "--facts", "-", "--now", later,
             input="Held Monday.")  # fmt: skip
    public = [f for f in members_relay.sent() if f.message[1]["kind"] != kinds.GIFT_WRAP]
    published = [Event.from_dict(f.message[1]) for f in public]
    assert {e.kind for e in published} >= {kinds.CLASSIFIED, kinds.TEXT_NOTE}
    for event in published:
        assert champions_own.url not in event.to_json().decode()
        assert champion.pubkey not in event.to_json().decode()


def test_private_text_never_comes_from_the_command_line(user: Any, spies: Any) -> None:
    """Finding: DM text, pledge notes and activation facts as arguments show in `ps`."""
    spy = spies()
    me = user("me", spy.url)
    friend = SecretKey.generate().public_hex
    refused = me("dm", "send", friend, "meet at the back door", code=2)
    assert "shows in `ps`" in refused.stderr
    facts = me("champion", "activate", friend, "--facts", "held at x", "--yes", code=2)
    assert "shows in `ps`" in facts.stderr
    assert spy.sent() == []


def test_in_a_terminal_private_text_comes_from_the_editor(
    spies: Any, user: Any, spawn: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    """With stdin a terminal, `dm send` opens $EDITOR (a script standing in for a person)."""
    spy = spies()
    alice, bob = user("alice", spy.url), user("bob", spy.url)
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "written in the editor" > "$1"\n')
    editor.chmod(0o700)
    leader, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "mas"), "dm", "send", bob.npub],
            stdin=terminal, capture_output=True, text=True, timeout=60,
            **spawn({**alice.env, "EDITOR": str(editor), "VISUAL": str(editor)}),
        )  # fmt: skip
    finally:
        os.close(terminal)
        os.close(leader)
    assert done.returncode == 0, done.stderr
    (message,) = [m for m in bob("dm", "read", "--json").json_lines()]
    assert message["content"] == "written in the editor"


def test_in_a_terminal_activation_facts_come_from_the_editor_then_a_yes(
    spies: Any, user: Any, terminal: Callable[..., Any], tmp_path: Path
) -> None:
    """With stdin a terminal, `champion activate --facts -` opens $EDITOR (a script standing
    in for a person) on a private temporary file, then asks the person at the terminal."""
    spy = spies()
    member, champion = user("member", spy.url), user("champion", spy.url)
    member("champion", "add", champion.npub, "--request", _request_file(tmp_path))
    champion("champion", "watch", "--once")
    champion("champion", "accept", member.npub)
    facts = "Held at the north station since Monday; hearing on Friday."
    facts_file = tmp_path / "facts.txt"
    facts_file.write_text(facts, encoding="utf-8")
    editor = tmp_path / "editor.sh"
    opened = tmp_path / "opened"  # the file the editor was given, and its mode
    editor.write_text(f'#!/bin/sh\nstat -c "%a %n" "$1" > "{opened}"\ncat "{facts_file}" > "$1"\n')
    editor.chmod(0o700)
    later = str(int(time.time()) + 30 * 86400)
    args = ["champion", "activate", member.npub, "--facts", "-", "--now", later]
    env = {**champion.env, "EDITOR": str(editor), "VISUAL": str(editor), "TERM": "dumb"}
    person_at = terminal(env, *args)
    seen = person_at.read_until(b"Publish this request now?")
    assert spy.sent(kinds.CLASSIFIED) == []  # nothing goes out before the yes
    person_at.type("y\n")
    assert person_at.proc.wait(timeout=60) == 0, seen
    shown = " ".join(bytes(person_at.seen).decode().split())
    assert f"facts: {facts}" in shown
    mode, name = opened.read_text().split()
    assert mode == "600" and not Path(name).exists()  # private while open, gone after
    assert facts not in " ".join(args)
    (request,) = [Event.from_dict(f.message[1]) for f in spy.sent(kinds.CLASSIFIED)]
    assert facts in request.content and request.pubkey not in (member.pubkey, champion.pubkey)
