"""Progress people can trust (issue 11 §C, and §B's revoked mark): the real CLI (in
process) against a real mas-relay.

Sam asks for 400 GBP; Bob pledges (in two currencies, and once privately); Sam confirms
what arrived. Carol, a stranger, reads the request in `request show`, `request list`,
`feed` (piped lines and JSON) and every export: asked, confirmed received, pledged,
the shares of the asked amount and the time left, and "funded" once Sam says so. A
request from an emergency key its member revoked is marked in each of those views.
"""

from __future__ import annotations

import email
import email.policy
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from shieldmutual.shared import nip19
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.aid.vouch import (
    Attestation,
    Revocation,
    attestation_template,
    revocation_template,
)
from shieldmutual.shared.event import sign

DAY = 86400

REQUEST_FILE = """\
---
title: Rent after the raid
summary: Sam lost two weeks of work after the raid on the social centre.
location: Leeds, UK
language: en
amount: 400
currency: GBP
deadline: {deadline}
societies: leeds-care
lightning: sam@pay.example
---

## Story

The social centre was raided on Tuesday. Sam was held for two days.
"""


@dataclass
class At:
    """Someone's `mas` against one relay: ``who("request", "show", naddr)`` adds ``-r``
    and asserts exit 0."""

    person: Any
    url: str

    def __call__(self, *args: str, input: str | None = None) -> Any:
        done = self.person(*args, "-r", self.url, input=input)
        assert done.code == 0, f"{self.person.name}: mas {' '.join(args)}\n{done.stderr}"
        return done


@pytest.fixture
def asked(relay_process: Any, person: Any, keys: Any, tmp_path: Path) -> Any:
    """Sam's request (400 GBP, deadline in three days and a bit) on one relay, and Bob
    and Carol reading the same relay."""
    relay = relay_process()
    sam, bob, carol = (
        At(person(name, key), relay.url)
        for name, key in (("sam", keys.alice), ("bob", keys.bob), ("carol", keys.carol))
    )
    deadline = datetime.fromtimestamp(time.time() + 3 * DAY + 2 * 3600, UTC)
    path = tmp_path / "rent.md"
    path.write_text(REQUEST_FILE.format(deadline=deadline.strftime("%Y-%m-%dT%H:%M:%SZ")))
    (made,) = sam("request", "new", "--from", str(path), "--yes", "--json").json_lines()
    return sam, bob, carol, made["naddr"]


def test_figures_in_show_list_feed_and_every_export(asked: Any) -> None:
    sam, bob, carol, naddr = asked
    bob("pledge", naddr, "--amount", "100", "--currency", "GBP")
    bob("pledge", naddr, "--amount", "20", "--currency", "EUR")
    sam("confirm", naddr, "--amount", "50", "--currency", "GBP")

    (view,) = carol("request", "show", naddr, "--json").json_lines()
    progress = view["progress"]
    assert progress["asked"] == {"amount": "400", "currency": "GBP"}
    assert progress["received"] == {"GBP": "50"} and progress["percent_received"] == 12
    # 20 EUR is listed beside the pounds, never converted into the 400 GBP asked.
    assert progress["pledged"] == {"EUR": "20", "GBP": "100"}
    assert progress["percent_pledged"] == 25
    assert progress["state"] == "open" and progress["time_left"] == "3 days left"
    assert 3 * DAY < progress["seconds_left"] <= 3 * DAY + 2 * 3600
    assert progress["private_pledges"] == 0 and view["champion"]["status"] == "none"
    shown = carol("request", "show", naddr).stdout
    assert "50 GBP (12% of 400 GBP)" in shown and "100 GBP (25% of 400 GBP), 20 EUR" in shown
    assert "3 days left" in shown and "not money received" in shown

    listed = carol("request", "list", "--society", "mas-leeds-care", "--json").json_lines()
    assert [item["progress"]["percent_received"] for item in listed] == [12]
    table = carol("request", "list", "--society", "mas-leeds-care").stdout
    assert "50 GBP (12%)" in table and "100 GBP (25%)" in table and "3 days" in table

    carol("follow", "mas-leeds-care")
    (fed,) = carol("feed", "--once", "--json").json_lines()
    assert fed["progress"]["percent_pledged"] == 25 and fed["champion"]["status"] == "none"
    (line,) = carol("feed", "--once").stdout.splitlines()  # piped: one line per request
    assert "received 50 GBP (12% of 400 GBP)" in line and "3 days left" in line

    figures = "Confirmed received: 50 GBP (12% of 400 GBP) in 1 confirmation"
    for fmt in ("markdown", "text", "html"):
        assert figures in carol("export", naddr, "-f", fmt).stdout, fmt
    mail = carol("export", naddr, "-f", "email", "--to", "list@example.org").stdout
    message = email.message_from_string(mail, policy=email.policy.default)
    assert figures in message.get_body(("plain",)).get_content()
    assert figures in message.get_body(("html",)).get_content()
    data = orjson.loads(carol("export", naddr, "-f", "json").stdout)
    assert data["progress"]["percent_received"] == 12

    # Funded: every view says so plainly, and no longer counts down.
    sam("request", "update", naddr, "--status", "funded", "--yes")
    (view,) = carol("request", "show", naddr, "--json").json_lines()
    assert view["progress"]["state"] == "funded"
    assert "Funded: the person asking says they have what they needed." in carol(
        "request", "show", naddr
    ).stdout.replace("\n", " ")
    (line,) = carol("feed", "--once").stdout.splitlines()
    assert "funded; received" in line and "days left" not in line
    assert "- Funded: the person asking" in carol("export", naddr).stdout


def test_a_private_pledge_counts_only_in_the_recipients_view(asked: Any) -> None:
    sam, bob, carol, naddr = asked
    bob("pledge", naddr, "--amount", "10", "--currency", "GBP")
    bob("pledge", naddr, "--amount", "70", "--currency", "GBP", "--private",
        "-m", "-", input="From a friend at work.")  # fmt: skip

    (mine,) = sam("request", "show", naddr, "--json").json_lines()
    assert mine["progress"]["pledges"] == 2 and mine["progress"]["private_pledges"] == 1
    assert mine["progress"]["pledged"] == {"GBP": "80"}
    assert mine["progress"]["percent_pledged"] == 20
    assert sorted(p["private"] for p in mine["pledges"]) == [False, True]  # same second
    assert "80 GBP (20% of 400 GBP) (incl. 1 private)" in sam("request", "show", naddr).stdout

    # Nobody else's view counts or reveals it: not the pledger's, not a stranger's, and
    # not Sam's own when asked to leave private pledges out.
    views = [bob("request", "show", naddr, "--json"), carol("request", "show", naddr, "--json")]
    views.append(sam("request", "show", naddr, "--json", "--no-private"))
    for done in views:
        (view,) = done.json_lines()
        assert view["progress"]["pledged"] == {"GBP": "10"}
        assert view["progress"]["private_pledges"] == 0 and len(view["pledges"]) == 1
    assert "private" not in carol("export", naddr, "-f", "text").stdout


def test_a_request_from_a_revoked_key_is_marked_everywhere(
    relay_process: Any, person: Any, keys: Any, push: Any
) -> None:
    relay = relay_process()
    carol = At(person("carol", keys.carol), relay.url)
    member, emergency = keys.alice, keys.dave
    held = AidRequest(
        title="Bail for Ann",
        summary="Ann was arrested at the protest.",
        story="Her champions asked for help while she is held.",
        location="Leeds, UK",
        amount=None,
        societies=("leeds-care",),
        identifier="held",
        beneficiary=member.public_hex,
        published_at=int(time.time()) - 60,
    )
    attested = sign(member, *attestation_template(Attestation(emergency.public_hex)))
    push(relay.url, sign(emergency, *request_event_template(held)), attested)
    naddr = nip19.naddr_encode("held", emergency.public_hex, 30402, [relay.url])
    (view,) = carol("request", "show", naddr, "--json").json_lines()
    assert view["champion"]["status"] == "verified"

    revoked = sign(member, *revocation_template(Revocation(emergency.public_hex)))
    push(relay.url, revoked)
    warning = "has revoked the emergency key that published this"
    (view,) = carol("request", "show", naddr, "--json").json_lines()
    assert view["champion"]["status"] == "revoked" and warning in view["champion"]["notice"]
    assert warning in carol("request", "show", naddr).stdout.replace("\n", " ")

    listed = carol("request", "list", "--society", "mas-leeds-care", "--json").json_lines()
    assert [item["champion"]["status"] for item in listed] == ["revoked"]
    assert "REVOKED KEY" in carol("request", "list", "--society", "mas-leeds-care").stdout
    carol("follow", "mas-leeds-care")
    (fed,) = carol("feed", "--once", "--json").json_lines()
    assert fed["champion"]["status"] == "revoked"
    (line,) = carol("feed", "--once").stdout.splitlines()
    assert "[REVOKED KEY]" in line

    for fmt in ("markdown", "text", "html"):
        assert warning in carol("export", naddr, "-f", fmt).stdout, fmt
        # Leaving the figures out never leaves the warning out.
        assert warning in carol("export", naddr, "-f", fmt, "--no-progress").stdout, fmt
    mail = carol("export", naddr, "-f", "email").stdout
    message = email.message_from_string(mail, policy=email.policy.default)
    assert warning in message.get_body(("plain",)).get_content()
    data = orjson.loads(carol("export", naddr, "-f", "json", "--no-progress").stdout)
    assert data["champion"]["status"] == "revoked"
