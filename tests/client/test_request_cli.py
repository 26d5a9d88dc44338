"""`mas request ...` and `mas relay-request` through the real CLI against a real mas-relay.

Sam asks for help from the template file, edits and closes the request; Carol relays it
into another society; what the relay then holds is checked event by event.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shieldmutual.shared import nip19
from shieldmutual.shared.aid.markdown import parse_template
from shieldmutual.shared.aid.notes import parse_announcement, parse_syndication
from shieldmutual.shared.aid.request import Status, parse_request, request_event_template
from shieldmutual.shared.aid.vouch import Attestation, attestation_template
from shieldmutual.shared.event import Event, sign
from tests.pooled import pull


def one_line_error(run: Any) -> str:
    lines = run.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), run.stderr
    assert "Traceback" not in run.stderr
    return lines[-1]


@pytest.fixture
def story(relay_process: Any, person: Any, keys: Any, tmp_path: Path) -> SimpleNamespace:
    relay = relay_process()
    sam = person("sam", keys.alice)
    template = sam("request", "template")
    assert template.code == 0, template.stderr
    path = tmp_path / "r.md"
    path.write_text(template.stdout)
    made = sam("request", "new", "--from", str(path), "--yes", "-r", relay.url)
    assert made.code == 0, made.stderr
    return SimpleNamespace(relay=relay, sam=sam, naddr=made.lines[-1], file=path, made=made)


def test_template_then_new_publishes_request_and_announcement(story: Any) -> None:
    parsed = parse_template(story.file.read_text())
    assert parsed.societies == ("example",)  # valid as it stands, in mas-example
    pointer = nip19.naddr_decode(story.naddr)
    assert pointer.kind == 30402 and pointer.relays == (story.relay.url,)
    assert "preview" in story.made.stderr and "accepted" in story.made.stderr
    (event,) = pull(story.relay.url, {"kinds": [30402]})
    assert parse_request(event).title == parsed.title and event.d_tag == pointer.identifier
    (note,) = pull(story.relay.url, {"kinds": [1]})
    announcement = parse_announcement(note)
    assert str(announcement.request) == f"30402:{event.pubkey}:{event.d_tag}"
    assert "#mas-example" in note.content


def test_show_human_and_json(story: Any) -> None:
    shown = story.sam("request", "show", story.naddr, "-r", story.relay.url)
    assert shown.code == 0, shown.stderr
    for text in ("Rent after the raid", "Story", "How to help", "sam@pay.example", "Progress"):
        assert text in shown.stdout
    data = story.sam("request", "show", story.naddr, "--json", "-r", story.relay.url)
    (view,) = data.json_lines()
    assert view["status"] == "open" and view["societies"] == ["example"]
    assert view["progress"]["pledges"] == 0 and view["champion"]["status"] == "none"
    assert view["event"]["kind"] == 30402


def test_update_close_and_only_the_author_edits(story: Any, person: Any, keys: Any) -> None:
    r = ("-r", story.relay.url)
    funded = story.sam("request", "update", story.naddr, "--status", "funded", "--yes", *r)
    assert funded.code == 0, funded.stderr
    same = story.sam("request", "update", story.naddr, "--status", "funded", "--yes", *r)
    assert same.code == 0 and "nothing changed" in same.stderr
    closed = story.sam("request", "close", story.naddr, "--json", "--yes", *r)
    assert closed.code == 0, closed.stderr
    assert closed.json_lines()[0]["naddr"].startswith("naddr1")
    events = pull(story.relay.url, {"kinds": [30402]})
    assert len(events) == 1  # the relay keeps only the latest version of the address
    latest = parse_request(events[0])
    assert latest.status is Status.CLOSED
    first = parse_template(story.file.read_text())
    assert latest.title == first.title and latest.published_at is not None

    bob = person("bob", keys.bob)
    refused = bob("request", "close", story.naddr, "--yes", *r)
    assert refused.code == 1 and "only the request's author" in one_line_error(refused)
    nothing = story.sam("request", "update", story.naddr, *r)
    assert nothing.code == 2


def test_new_from_flags_with_preview_and_prompt(relay_process: Any, person: Any, keys: Any) -> None:
    relay = relay_process()
    sam = person("sam", keys.alice)
    flags = ("request", "new", "--title", "Bail for Jo", "--summary", "Jo was arrested.",
             "--story", "Jo was arrested at the protest.\n\nBail is set.", "--location",
             "Bristol", "--society", "mas-bristol", "--lightning", "jo@pay.example",
             "--geohash", "gcnhtx9", "--amount", "300", "--currency", "GBP",
             "-r", relay.url)  # fmt: skip
    declined = sam(*flags, input="n\n")
    assert declined.code == 1 and "error: nothing was published" in declined.stderr
    assert pull(relay.url, {"kinds": [30402]}) == []
    accepted = sam(*flags, "--no-announce", input="y\n")
    assert accepted.code == 0, accepted.stderr
    (event,) = pull(relay.url, {"kinds": [30402]})
    made = parse_request(event)
    assert made.geohash == "gcnht"  # cut to 5 characters for privacy
    assert made.story == "Jo was arrested at the protest.\n\nBail is set."
    assert pull(relay.url, {"kinds": [1]}) == []

    missing = sam("request", "new", "--title", "x", "--yes", "-r", relay.url)
    assert missing.code == 2 and "missing" in one_line_error(missing)
    piped = sam("request", "new", "--from", "-", "-r", relay.url, input="---\n---\n")
    assert piped.code == 2


def test_interactive_prompts(relay_process: Any, person: Any, keys: Any) -> None:
    relay = relay_process()
    sam = person("sam", keys.alice)
    answers = "\n".join([
        "Food for the week", "Two kids, no shifts this week.", "Hull", "en", "", "hull-aid",
        "", "", "sam@pay.example", "", "", "", "We ran out of food.", ".", "", ".", "y", "",
    ])  # fmt: skip
    done = sam("request", "new", "-i", "-r", relay.url, input=answers)
    assert done.code == 0, done.stderr
    (event,) = pull(relay.url, {"kinds": [30402]})
    made = parse_request(event)
    assert made.title == "Food for the week" and made.societies == ("hull-aid",)
    assert made.story == "We ran out of food." and made.amount is None


def test_list_relay_request_and_champion_attribution(story: Any, person: Any, keys: Any) -> None:
    r = ("-r", story.relay.url)
    carol = person("carol", keys.carol)
    relayed = carol("relay-request", story.naddr, "--to", "mas-north", *r, "--json")
    assert relayed.code == 0, relayed.stderr
    (repost,) = pull(story.relay.url, {"kinds": [16]})
    syndication = parse_syndication(repost)
    assert syndication.targets == ("north",) and syndication.embedded_event() is not None

    north = carol("request", "list", "--society", "mas-north", "--json", *r).json_lines()
    assert [item["title"] for item in north] == ["Rent after the raid"]
    assert north[0]["via"][0]["into"] == ["mas-north"]
    assert carol("request", "list", "--society", "north", "--status", "closed", "--json",
                 *r).json_lines() == []  # fmt: skip
    by_sam = carol("request", "list", "--society", "mas-north", "--author", story.sam.npub, *r)
    assert "Rent after the raid" in by_sam.stdout
    by_carol = carol("request", "list", "--society", "mas-north", "--author", carol.npub, *r)
    assert by_carol.code == 0 and "no requests found" in by_carol.stderr
    table = carol("request", "list", "--society", "mas-example", *r)
    assert "Rent after the raid" in table.stdout

    # A request published with an emergency key shows who it speaks for, once attested.
    member, emergency = keys.alice, keys.dave
    made = parse_template(story.file.read_text())
    held = replace(made, identifier="held", beneficiary=member.public_hex)
    event = sign(emergency, *request_event_template(held))
    pushed = carol("event", *r, input=event.to_json().decode())
    assert pushed.code == 0, pushed.stderr
    naddr = nip19.naddr_encode("held", emergency.public_hex, 30402, [story.relay.url])
    unverified = carol("request", "show", naddr, *r)
    assert "no attestation" in unverified.stdout
    attestation = sign(member, *attestation_template(Attestation(emergency.public_hex)))
    assert carol("event", *r, input=attestation.to_json().decode()).code == 0
    verified = carol("request", "show", naddr, *r)
    assert "published by a champion for" in verified.stdout


def test_dry_run_signs_without_publishing(person: Any, keys: Any, tmp_path: Path) -> None:
    sam = person("sam", keys.alice)
    path = tmp_path / "r.md"
    path.write_text(sam("request", "template").stdout)
    dry = sam("request", "new", "--from", str(path), "--dry-run")
    assert dry.code == 0, dry.stderr
    request_event, note = (Event.from_json(line) for line in dry.lines)
    request_event.verify()
    assert request_event.kind == 30402 and note.kind == 1
    assert parse_announcement(note).request.identifier == request_event.d_tag


@pytest.mark.parametrize(
    "command",
    [
        ("request",), ("request", "template"), ("request", "new"), ("request", "show"),
        ("request", "list"), ("request", "update"), ("request", "close"), ("relay-request",),
        ("feed",), ("society",), ("society", "create"), ("society", "show"), ("society", "list"),
        ("follow",), ("unfollow",), ("following",), ("export",),
    ],
)  # fmt: skip
def test_help_everywhere(mas: Any, command: tuple[str, ...]) -> None:
    shown = mas(*command, "--help")
    assert shown.code == 0 and "Usage: mas" in shown.stdout
