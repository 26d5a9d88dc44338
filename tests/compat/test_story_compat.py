"""The member's and the champion's story with the real `mas`, against each relay we can start.

One pass per relay, each feature of the story once (the README walkthrough's commands,
then the champion system and DMs): Sam asks for help in a society, Bob finds it in his
feed, pledges, is thanked, looks Sam up and exports the request; Sam names Bob as a
champion, checks in, goes silent; Bob's watch raises the alarm and he activates; they
exchange DMs. Every step is run even when an earlier one failed, and the outcome of each
is compared with ``EXPECTED``, the table docs/COMPATIBILITY.md shows (a test keeps the
two equal). A feature that cannot work on a relay fails with the error the CLI prints,
and that error is what the table expects, never a skip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest

DOC = Path(__file__).resolve().parents[2] / "docs" / "COMPATIBILITY.md"
TWELVE_HOURS = 12 * 3600
RENT = AidRequest(
    title="Rent after the raid",
    summary="Sam lost two weeks of work after the raid on the social centre.",
    story="The social centre was raided on Tuesday.",
    location="Leeds",
    language="en",
    societies=("leeds-care",),
)

# feature -> relay -> None (works) or the error `mas` prints there (a part of it).
EXPECTED: dict[str, dict[str, str | None]] = {
    "society create, show": {},
    "request new": {},
    "follow, feed": {},
    "request list, show by handle": {},
    "pledge": {},
    "confirm": {},
    "request show: progress": {},
    "whois": {},
    "export": {},
    "req --search (NIP-50)": {
        "nostr-relay": "the relay ignored the search",
        "strfry-dialect": "closed (ERROR: bad req: unrecognised filter item: search)",
        "strfry": "closed (ERROR: bad req: unrecognised filter item: search)",
    },
    "relays check (NIP-11)": {},
    "champion add, accept, watch": {},
    "checkin": {},
    "watch alarm, activate": {},
    "dm send, read": {},
}


@dataclass
class Story:
    """The people and what the earlier steps left for the later ones."""

    url: str
    sam: Any
    bob: Any
    files: Path
    naddr: str = ""
    last_checkin: int = 0


def _one(rows: list[Any]) -> Any:
    assert len(rows) == 1, rows
    return rows[0]


def society(s: Story) -> None:
    s.sam("society", "create", "leeds-care", "--name", "Leeds Care")
    shown = _one(s.bob("society", "show", "mas-leeds-care", "--json").json_lines())
    assert shown["name"] == "Leeds Care", shown


def request_new(s: Story) -> None:
    rent = s.files / "rent.md"
    rent.write_text(render_template(RENT), encoding="utf-8")
    made = _one(s.sam("request", "new", "--from", str(rent), "--yes", "--json").json_lines())
    assert made["acks"] == 1, made
    s.naddr = made["naddr"]


def feed(s: Story) -> None:
    s.bob("follow", "mas-leeds-care")
    seen = _one(s.bob("feed", "--once", "--json").json_lines())
    assert seen["title"] == RENT.title, seen


def request_list_show(s: Story) -> None:
    listed = s.bob("request", "list", "--json").json_lines()
    assert [row["title"] for row in listed] == [RENT.title], listed
    shown = _one(s.bob("request", "show", "1", "--json").json_lines())
    assert shown["title"] == RENT.title, shown


def pledge(s: Story) -> None:
    made = s.bob("pledge", s.naddr, "--amount", "50", "--currency", "GBP", "--json")
    assert _one(made.json_lines())["acks"] == 1


def confirm(s: Story) -> None:
    thanks = s.sam("confirm", s.naddr, "--amount", "50", "--currency", "GBP",
                   "--helper", s.bob.npub, "--helper-consents", "--json")  # fmt: skip
    assert _one(thanks.json_lines())["helper"] == s.bob.pubkey


def progress(s: Story) -> None:
    view = _one(s.bob("request", "show", s.naddr, "--json").json_lines())
    assert view["progress"]["pledged"] == {"GBP": "50"}, view["progress"]
    assert view["progress"]["received"] == {"GBP": "50"}, view["progress"]


def whois(s: Story) -> None:
    asker = _one(s.bob("whois", s.sam.npub, "--json").json_lines())
    assert [r["title"] for r in asker["requests"]] == [RENT.title], asker


def export(s: Story) -> None:
    assert RENT.title in s.bob("export", s.naddr, "-f", "text").stdout


def search(s: Story) -> None:
    found = s.bob("req", "--search", "raid", "-k", "30402").json_lines()
    assert [e["kind"] for e in found] == [30402], found
    missed = s.bob("req", "--search", "zebra", "-k", "30402").json_lines()
    assert missed == [], "the relay ignored the search: 'zebra' found the rent request"


def relays_check(s: Story) -> None:
    row = _one(s.sam("relays", "check", s.url, "--json").json_lines())
    assert row["ok"], row["error"]
    assert 1 in row["supported_nips"], row["nip11_error"] or row


def _watch(s: Story, *extra: str, code: int = 0) -> Any:
    return s.bob("champion", "watch", "--once", "--json", "--no-bell", *extra, code=code)


def champion(s: Story, emergency: Path) -> None:
    s.sam("champion", "add", s.bob.npub, "--request", str(emergency), "--every", "12h")
    waiting = _watch(s)
    assert f"champion accept {s.sam.npub}" in " ".join(waiting.stderr.split()), waiting.stderr
    s.bob("champion", "accept", s.sam.npub)
    row = _one(_watch(s).json_lines())
    assert row["member"] == s.sam.npub and row["status"] == "ok", row


def checkin(s: Story) -> None:
    sent = _one(s.sam("checkin", "--json").json_lines())
    assert sent["acks"] == 1, sent
    seen = _one(_watch(s).json_lines())
    assert seen["last_checkin"] and not seen["overdue"], seen
    s.last_checkin = seen["last_checkin"]


def activate(s: Story) -> None:
    later = str(s.last_checkin + TWELVE_HOURS + TWELVE_HOURS // 4 + 60)
    assert _one(_watch(s, "--now", later, code=5).json_lines())["overdue"]
    facts = "Detained at the march on Monday."
    done = s.bob("champion", "activate", s.sam.npub, "--facts", "-", "--yes", "--json",
                 "--now", later, input=facts)  # fmt: skip
    naddr = _one(done.json_lines())["naddr"]
    shown = s.sam("request", "show", naddr)
    assert "published by a champion for" in " ".join((shown.stdout + shown.stderr).split())


def dm(s: Story) -> None:
    s.sam("dm", "send", s.bob.npub, input="hello bob")
    assert [m["content"] for m in s.bob("dm", "read", "--json").json_lines()] == ["hello bob"]


def _failure(exc: BaseException, url: str) -> str:
    """What `mas` printed on stderr (its command line left out), or the step's own message
    (pytest's explanation of the assert left out), one line, the relay's port left out."""
    text = str(exc).split("\nassert ", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and ": mas " in lines[0]:
        lines = lines[1:]
    return " / ".join(lines).replace(url, "ws://RELAY") or type(exc).__name__


def run_story(
    relay: Any, person: Callable[..., Any], files: Path, emergency: Path
) -> dict[str, str | None]:
    """Every step in order; feature -> None (it worked) or what failed."""
    url = relay.url
    s = Story(url, person("sam", url), person("bob", url), files)
    steps: dict[str, Callable[[Story], None]] = {
        "society create, show": society,
        "request new": request_new,
        "follow, feed": feed,
        "request list, show by handle": request_list_show,
        "pledge": pledge,
        "confirm": confirm,
        "request show: progress": progress,
        "whois": whois,
        "export": export,
        "req --search (NIP-50)": search,
        "relays check (NIP-11)": relays_check,
        "champion add, accept, watch": lambda s: champion(s, emergency),
        "checkin": checkin,
        "watch alarm, activate": activate,
        "dm send, read": dm,
    }
    outcome: dict[str, str | None] = {}
    for feature, step in steps.items():
        try:
            step(s)
            outcome[feature] = None
        except Exception as exc:  # every step runs; each failure is one cell of the table
            outcome[feature] = _failure(exc, url)
    return outcome


def test_the_story_on_each_relay(
    compat_relay: Any, person: Callable[..., Any], tmp_path: Path, emergency_request: Path
) -> None:
    outcome = run_story(compat_relay, person, tmp_path, emergency_request)
    assert list(outcome) == list(EXPECTED)
    mismatched = {
        feature: got
        for feature, got in outcome.items()
        if not _as_expected(got, EXPECTED[feature].get(compat_relay.name))
    }
    assert mismatched == {}, f"on {compat_relay.name}, unlike the table: {mismatched}"


def _as_expected(got: str | None, wanted: str | None) -> bool:
    if wanted is None:
        return got is None
    return got is not None and wanted in got


def _doc_table() -> dict[str, dict[str, str]]:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    header, body = cells[0], cells[2:]
    return {row[0].strip("`"): dict(zip(header[1:], row[1:], strict=True)) for row in body}


@pytest.mark.parametrize("relay", ["mas-relay", "nostr-relay", "strfry-dialect", "strfry"])
def test_the_compatibility_table_says_what_the_suite_expects(relay: str) -> None:
    table = _doc_table()
    assert list(table) == list(EXPECTED)
    for feature, by_relay in EXPECTED.items():
        cell = table[feature][relay]
        wanted = by_relay.get(relay)
        expected_start = "ok" if wanted is None else "fails"
        assert re.match(expected_start, cell), f"{feature} / {relay}: {cell!r}"
