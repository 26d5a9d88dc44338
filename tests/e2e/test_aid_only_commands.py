"""Every publishing `mas` command that the two stories (test_story.py, test_champions.py)
do not run, against an aid-only relay (``[policy] aid_only = true``): each must exit 0
with its events acknowledged, since a community relay has to carry all of the project's
own traffic, not only what wears a society tag.

Each test first shows the relay really is aid-only: an event without aid tags is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.shared import kinds

ONLY_AID = pytest.mark.parametrize("relay_config", ["aid-only"], indirect=True)
SOCIETY = "mas-leeds-care"
DAY = 24 * 3600
EMERGENCY_FILE = """\
---
title: Ada has been detained
summary: Ada was detained at the march; a lawyer is needed before the hearing.
location: York
language: en
societies: york-care
---

## Story

If you read this, I could not check in. Please help with the legal costs.
"""


def _publish(someone: Any, *args: str, input: str | None = None) -> list[dict[str, Any]]:
    """Run a publishing command with --json (exit 0 is asserted by ``someone``) and check
    that every row reporting acks or per-relay results says the relay took it."""
    rows = someone(*args, "--json", input=input).json_lines()
    assert rows, args
    for row in rows:
        if "acks" in row:
            assert row["acks"] == 1, (args, row)
        if "results" in row:
            assert all(result["ok"] for result in row["results"]), (args, row)
    return rows


def _aid_only(someone: Any) -> None:
    refused = someone("event", "-c", "not mutual aid", "--json", code=3)
    assert "blocked: this relay only accepts mutual aid traffic" in refused.stdout + refused.stderr


@ONLY_AID
def test_every_other_publishing_command_is_carried(
    relays: Any, relay_config: str, person: Callable[..., Any]
) -> None:
    (relay,) = relays(1, config=relay_config)
    sam, bob = person("sam", relay.url), person("bob", relay.url)
    _aid_only(sam)

    # Names and where private messages go: kind 0 and kind 10050.
    _publish(sam, "id", "profile", "--name", "Sam", "--lud16", "sam@pay.example")
    _publish(sam, "dm", "relays", relay.url)
    _publish(bob, "dm", "relays", relay.url)

    # A society, a request made from flags, a note by hand with a society tag.
    _publish(sam, "society", "create", "leeds-care", "--name", "Leeds Care")
    (made,) = _publish(sam, "request", "new", "--title", "Boiler repair", "--summary",
                       "No heating.", "--story", "The boiler broke in the cold snap.",
                       "--location", "Leeds", "--amount", "300", "--currency", "GBP",
                       "--society", SOCIETY, "--yes")  # fmt: skip
    naddr = made["naddr"]
    _publish(sam, "event", "-c", "Soup at the centre on Friday", "-t", f"t={SOCIETY}")

    # An offer, a pledge of it, a private pledge, a DM both ways.
    (offer,) = _publish(bob, "offer", "new", "--title", "Plumbing help", "--summary",
                        "I fix boilers.", "--description", "Gas safe, weekends.",
                        "--location", "Leeds", "--category", "skill", "--society", SOCIETY,
                        "--yes")  # fmt: skip
    _publish(bob, "pledge", naddr, "--offer", offer["naddr"])
    _publish(bob, "pledge", naddr, "--amount", "20", "--currency", "GBP", "--private")
    _publish(bob, "dm", "send", sam.npub, input="I can come on Saturday.")
    inbox = sam("dm", "read", "--json").json_lines()
    assert "I can come on Saturday." in [message["content"] for message in inbox]

    # Exports read the thread from the aid-only relay in every format.
    for fmt in ("markdown", "html", "text", "json"):
        assert "Boiler repair" in sam("export", naddr, "--format", fmt).stdout
    mail = sam("export", naddr, "-f", "email", "--to", "list@example.org", "--from", "s@x.org")
    assert "Boiler repair" in mail.stdout

    # The request edited, then closed; the offer edited, answered in public, closed.
    _publish(sam, "request", "update", naddr, "--title", "Boiler repair (parts)", "--yes")
    _publish(sam, "request", "close", naddr, "--yes")
    _publish(bob, "offer", "update", offer["naddr"], "--when", "Saturdays", "--yes")
    _publish(sam, "offer", "reply", offer["naddr"], "Thank you, Saturday suits me.")
    _publish(bob, "offer", "close", offer["naddr"])

    # A vouch taken back: a NIP-09 deletion of it (there is no `vouch --withdraw`).
    (vouch,) = _publish(bob, "vouch", sam.npub)
    _publish(bob, "event", "-k", str(kinds.DELETION), "-e", vouch["id"], "-c", "withdrawn",
             "-t", f"k={kinds.LABEL}")  # fmt: skip

    (shown,) = bob("request", "show", naddr, "--json").json_lines()
    assert shown["status"] == "closed" and shown["title"] == "Boiler repair (parts)"


@ONLY_AID
def test_a_champion_keeps_the_request_going(
    relays: Any, relay_config: str, person: Callable[..., Any], tmp_path: Path
) -> None:
    """The champion commands after activation: facts, funded, news and the report, all
    signed by the emergency key, none of them wearing a society tag of its own."""
    (relay,) = relays(1, config=relay_config)
    member, champion, reader = (person(n, relay.url) for n in ("ada", "champion", "reader"))
    _aid_only(member)
    emergency = tmp_path / "emergency.md"
    emergency.write_text(EMERGENCY_FILE)
    member("champion", "add", champion.npub, "--request", str(emergency), "--every", "12h")
    champion("champion", "watch", "--once", "--no-bell")
    champion("champion", "accept", member.npub)

    silent = str(int(time.time()) + 2 * DAY)  # judged later, never by sleeping
    (activated,) = _publish(champion, "champion", "activate", member.npub, "--yes", "--now",
                            silent, "--facts", "-", input="Held since Monday.")  # fmt: skip
    naddr = activated["naddr"]
    _publish(champion, "champion", "fact", member.npub, input="The hearing is on Friday.")
    _publish(champion, "champion", "status", member.npub, "funded")
    _publish(champion, "champion", "update", member.npub, input="The lawyer is paid.")
    report = tmp_path / "report.md"
    report.write_text("# Where the money went\n\n600 GBP to the lawyer.\n")
    _publish(champion, "champion", "report", member.npub, "--from", str(report))

    (shown,) = reader("request", "show", naddr, "--json").json_lines()
    assert shown["status"] == "funded" and shown["champion"]["status"] == "verified"
    assert [u["text"] for u in shown["progress"]["updates"]] == ["The lawyer is paid."]
    assert [r["title"] for r in shown["reports"]] == ["Where the money went"]
