"""The whole story of a request, end to end, over two real relays and the real `mas`.

Two societies, Leeds and York, are joined in a syndicate (The North). Sam, in Leeds,
asks for help; Carol relays the request into York; Erin follows only York and sees it
in her feed, although the request itself never reached her relay; Bob pledges; Sam
posts an update, confirms Bob's help (naming him, with his consent), marks the request
funded and publishes a spending report; and `mas whois` then shows it all: Sam's
request, funded and reported, and Bob's pledge and confirmed help, with a vouch Erin can
weigh because it comes from someone she vouched for.

Everyone has their own MAS_HOME, keys and relay list, as different people would:

    relay A (Leeds)   Sam, Bob, Carol
    relay B (York)    Erin, Bob, Carol
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from shieldmutual.shared import nip19

MAS = str(Path(sys.executable).parent / "mas")

REQUEST_FILE = """\
---
title: Rent after the raid
summary: Sam lost two weeks of work after the raid on the social centre.
location: Leeds, UK
language: en
geohash: gcwcv
amount: 400
currency: GBP
societies: leeds-care
lightning: sam@pay.example
call: +44 113 496 0000 | Leeds Housing Office | Please pause the eviction notice for Sam.
---

## Story

The social centre was raided on Tuesday. Sam was held for two days.
"""

REPORT_FILE = """\
# Where the rent money went

## Received

50 GBP from Bob, 350 GBP in cash at the food share.

## Spent

- 400 GBP rent for January
"""


@dataclass
class Person:
    """Someone with their own `mas` setup; ``person("whois", ...)`` runs the real CLI."""

    name: str
    env: dict[str, Any]  # spawn(...)'s keyword arguments: the environment and the passphrase pipe
    npub: str = ""
    pubkey: str = ""

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [MAS, *args], input=input, stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, text=True, timeout=60, **self.env,
        )  # fmt: skip
        assert done.returncode == 0, f"{self.name}: mas {' '.join(args)}\n{done.stderr}"
        return done

    def json(self, *args: str, input: str | None = None) -> list[Any]:
        out = self("--json", *args, input=input).stdout
        return [orjson.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def people(
    tmp_path: Path, mas_env: dict[str, str], spawn: Callable[..., dict[str, Any]]
) -> Callable[..., Person]:
    def make(name: str, *relays: str) -> Person:
        who = Person(name, spawn({**mas_env, "MAS_HOME": str(tmp_path / f"home-{name}")}))
        (me,) = who.json("id", "new", name)
        who.npub, who.pubkey = me["npub"], me["pubkey"]
        who("relays", "add", *relays)
        return who

    return make


def test_a_request_from_one_society_is_helped_through_another(
    relays: Any, people: Callable[..., Person], tmp_path: Path, relay_config: str | None
) -> None:
    leeds, york = (relay.url for relay in relays(2, config=relay_config))
    sam, carol = people("sam", leeds), people("carol", leeds, york)
    bob, erin = people("bob", leeds, york), people("erin", york)

    # Two societies joined in a syndicate (definitions name no people).
    carol("society", "create", "leeds-care", "--name", "Leeds Care")
    carol("society", "create", "york-care", "--name", "York Care")
    (north,) = carol.json("society", "create", "north", "--name", "The North",
                          "--member", "mas-leeds-care", "--member", "mas-york-care")  # fmt: skip
    assert north["acks"] == 2
    (shown,) = erin.json("society", "show", "mas-north")
    members = sorted(m.split(":")[-1].removeprefix("mas-") for m in shown["members"])
    assert members == ["leeds-care", "york-care"]

    # Sam asks for help in Leeds: the request and its announcement reach relay A only.
    request_file = tmp_path / "rent.md"
    request_file.write_text(REQUEST_FILE)
    (published,) = sam.json("request", "new", "--from", str(request_file), "--yes")
    naddr = published["naddr"]
    address = nip19.naddr_decode(naddr)
    assert address.pubkey == sam.pubkey and published["acks"] == 1
    assert erin.json("req", "-k", "30402") == []  # not on York's relay

    # Carol relays it into York; Erin follows only York and sees it in her feed.
    (relayed,) = carol.json("relay-request", naddr, "--to", "mas-york-care")
    assert relayed["acks"] == 2 and relayed["into"] == ["mas-york-care"]
    erin("follow", "mas-york-care")
    (seen,) = erin.json("feed", "--once")
    assert seen["title"] == "Rent after the raid" and seen["author"] == sam.pubkey
    assert seen["societies"] == ["leeds-care"]
    assert [v["into"] for v in seen["via"]] == [["mas-york-care"]]
    assert seen["via"][0]["by"] == carol.pubkey

    # Bob pledges from the link Erin shared; Sam posts news, confirms, and reports.
    shared_link = seen["naddr"]
    (pledge,) = bob.json("pledge", shared_link, "--amount", "50", "--currency", "GBP",
                         "--action", "call")  # fmt: skip
    assert pledge["acks"] == 2
    sam("update", naddr, input="The housing office agreed to pause the notice.")
    (thanks,) = sam.json("confirm", naddr, "--amount", "50", "--currency", "GBP",
                         "--helper", bob.npub, "--helper-consents")  # fmt: skip
    assert thanks["helper"] == bob.pubkey
    sam("request", "update", naddr, "--status", "funded", "--yes")
    report_file = tmp_path / "report.md"
    report_file.write_text(REPORT_FILE)
    (report,) = sam.json("report", naddr, "--from", str(report_file))
    assert nip19.naddr_decode(report["pointer"]).kind == 30023

    # Anyone reading relay A sees the whole thread under the request.
    (view,) = bob.json("request", "show", naddr)
    assert view["status"] == "funded"
    assert view["progress"]["pledged"] == {"GBP": "50"}
    assert view["progress"]["received"] == {"GBP": "50"}
    assert [u["text"] for u in view["progress"]["updates"]] == [
        "The housing office agreed to pause the notice."
    ]
    assert [p["author"] for p in view["pledges"]] == [bob.pubkey]
    assert [c["helper"] for c in view["confirmations"]] == [bob.pubkey]
    assert [r["title"] for r in view["reports"]] == ["Where the rent money went"]
    assert [s["into"] for s in view["syndications"]] == [["york-care"]]

    # Erin vouches for Carol; Carol vouches for Bob: Erin's whois marks it as trusted.
    erin("vouch", carol.npub, "--reason", "We run the York food share together")
    carol("vouch", bob.npub, "--reason", "Bob turned up every week")
    both = ("-r", leeds, "-r", york)
    (helper,) = erin.json("whois", bob.npub, *both)
    assert helper["pledges_made"] == 1
    assert [(h["recipient"], h["amount"]) for h in helper["help_confirmed"]] == [
        (sam.pubkey, "50 GBP")
    ]
    (vouch,) = helper["vouches"]
    assert vouch["voucher"] == carol.pubkey and vouch["trusted"] is True
    assert vouch["why_trusted"] == "you vouched for them"

    (asker,) = erin.json("whois", sam.npub, *both)
    (made,) = asker["requests"]
    assert made["title"] == "Rent after the raid" and made["status"] == "funded"
    assert made["reported"] is True and asker["unreported"] == []
    assert asker["reports"] == [report["address"]]
    table = erin("whois", sam.npub, *both).stdout
    assert "Rent after the raid" in table and "funded" in table
