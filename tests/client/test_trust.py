"""`mas whois` and `mas vouch` against a real `mas-relay`: facts from relays, weighed locally.

The public record is built by real commands where one exists (pledge, confirm, vouch)
and by signed events otherwise (the request, its funded version, a champion's request);
`mas whois` must then report exactly those facts, marking vouches from people the
reader trusts (their own identities and whom they vouched for).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from shieldmutual.client.cli.fmt import short_npub
from shieldmutual.shared import nip19
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.report import Report, report_template
from shieldmutual.shared.aid.request import AidRequest, Status, request_event_template
from shieldmutual.shared.aid.vouch import (
    Attestation,
    Revocation,
    attestation_template,
    revocation_template,
)
from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey

FOOD = AidRequest(
    title="Food for the week",
    summary="Groceries while the benefits claim is stuck.",
    story="The claim has been stuck for a month.",
    location="York, UK",
    amount=Decimal(60),
    currency="GBP",
    societies=("york-care",),
    identifier="food-week",
    published_at=1_767_000_000,
)


def one_line_error(run: Any) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


@pytest.fixture
def world(relay_process: Any, person: Any, push: Any, keys: Any) -> SimpleNamespace:
    """Sam asks (request), Bob pledges and is thanked by name, Carol and Dave vouch for Bob,
    and Sam vouches for Dave: from Sam's side, Dave's vouch is trusted and Carol's is not."""
    relay = relay_process()
    r = ("-r", relay.url)
    sam, bob = person("sam", keys.alice), person("bob", keys.bob)
    carol, dave = person("carol", keys.carol), person("dave", keys.dave)
    request = sign(keys.alice, *request_event_template(FOOD), created_at=1_767_000_000)
    push(relay.url, request)
    naddr = Address.of(request).naddr((relay.url,))
    assert bob("pledge", naddr, "--amount", "20", "--currency", "GBP", *r).code == 0
    confirmed = sam("confirm", naddr, "--amount", "20", "--currency", "GBP",
                    "--helper", bob.npub, "--helper-consents", *r)  # fmt: skip
    assert confirmed.code == 0, confirmed.stderr
    for voucher, subject, reason in (
        (carol, bob, "Bob fixed my boiler"),
        (dave, bob, "Known him for years"),
        (sam, dave, ""),
    ):
        vouched = voucher("vouch", subject.npub, "--reason", reason, *r)
        assert vouched.code == 0, vouched.stderr
    return SimpleNamespace(url=relay.url, r=r, request=request, naddr=naddr, sam=sam, bob=bob,
                           carol=carol, dave=dave)  # fmt: skip


# ---- the commands against a real relay ----------------------------------------------------


def test_whois_a_helper_marks_trusted_vouches(world: Any) -> None:
    shown = world.sam("whois", world.bob.npub, *world.r, "--json")
    assert shown.code == 0, shown.stderr
    bob = shown.json_lines()[0]
    assert bob["pubkey"] == world.bob.pubkey and bob["yours"] is False
    assert bob["pledges_made"] == 1 and bob["requests"] == [] and bob["first_seen"] is not None
    (helped,) = bob["help_confirmed"]
    assert helped["recipient"] == world.sam.pubkey and helped["amount"] == "20 GBP"
    assert helped["request"] == f"30402:{world.sam.pubkey}:food-week"
    vouches = {v["voucher"]: v for v in bob["vouches"]}
    assert vouches.keys() == {world.carol.pubkey, world.dave.pubkey}
    assert vouches[world.dave.pubkey]["trusted"] is True
    assert vouches[world.dave.pubkey]["why_trusted"] == "you vouched for them"
    assert vouches[world.carol.pubkey]["trusted"] is False
    assert vouches[world.carol.pubkey]["reason"] == "Bob fixed my boiler"
    assert bob["vouches"][0]["voucher"] == world.dave.pubkey  # trusted ones first

    # Trust is the reader's: from Carol's side, neither vouch comes from someone she trusts
    # except her own.
    theirs = world.carol("whois", world.bob.npub, *world.r, "--json").json_lines()[0]
    marks = {v["voucher"]: v["why_trusted"] for v in theirs["vouches"]}
    assert marks == {world.carol.pubkey: "your identity", world.dave.pubkey: None}

    table = world.sam("whois", world.bob.npub, *world.r)
    assert table.code == 0, table.stderr
    for words in (
        "pledges made",
        "help confirmed",
        "you vouched for them",
        short_npub(world.dave.pubkey),
    ):
        assert words in table.stdout


def test_whois_a_requester_shows_outcomes_and_reports(world: Any, keys: Any, push: Any) -> None:
    shown = world.sam("whois", "sam", *world.r, "--json").json_lines()[0]  # an identity name
    assert shown["yours"] is True
    (request,) = shown["requests"]
    assert request["title"] == "Food for the week" and request["status"] == "open"
    assert request["reported"] is False and shown["unreported"] == []

    # Funded without a report: listed as unreported, not judged.
    version = sign(keys.alice, *request_event_template(replace(FOOD, status=Status.FUNDED)),
                   created_at=1_767_000_100)  # fmt: skip
    push(world.url, version)
    shown = world.sam("whois", world.sam.npub, *world.r, "--json").json_lines()[0]
    assert shown["requests"][0]["status"] == "funded"
    assert shown["unreported"] == [f"30402:{world.sam.pubkey}:food-week"]

    report = Report("Where it went", "All on food.", Address.of(version), identifier="food-rep",
                    societies=("york-care",))  # fmt: skip
    push(world.url, sign(keys.alice, *report_template(report)))
    shown = world.sam("whois", world.sam.npub, *world.r, "--json").json_lines()[0]
    assert shown["requests"][0]["reported"] is True and shown["unreported"] == []
    assert shown["reports"] == [f"30023:{world.sam.pubkey}:food-rep"]
    assert shown["requests_by_status"] == {"open": 0, "funded": 1, "closed": 0}


def test_whois_counts_a_members_thanks_for_a_champion_request(
    world: Any, person: Any, push: Any
) -> None:
    """Help confirmed by a member on a request their champion published (signed by the
    emergency key) counts only through the member's attestation of that key."""
    member_key, emergency = SecretKey.generate(), SecretKey.generate()
    member = person("member", member_key)
    on_behalf = replace(FOOD, identifier="on-behalf", beneficiary=member_key.public_hex)
    request = sign(emergency, *request_event_template(on_behalf))
    attestation = sign(member_key, *attestation_template(Attestation(emergency.public_hex)))
    push(world.url, request, attestation)
    naddr = Address.of(request).naddr((world.url,))
    thanks = member("confirm", naddr, "--helper", world.bob.npub, "--helper-consents", *world.r)
    assert thanks.code == 0, thanks.stderr

    bob = world.sam("whois", world.bob.npub, *world.r, "--json").json_lines()[0]
    by = {h["recipient"]: h["request"] for h in bob["help_confirmed"]}
    assert by[member_key.public_hex] == str(Address.of(request))
    assert len(by) == 2  # Sam's thanks too


def test_whois_marks_a_request_published_with_a_revoked_emergency_key(
    world: Any, push: Any
) -> None:
    """Issue 11 §B: a removed champion's key still publishing in the member's name is
    shown in whois, marked, never counted as the member's own request."""
    member, emergency = SecretKey.generate(), SecretKey.generate()
    on_behalf = replace(FOOD, identifier="held", beneficiary=member.public_hex)
    push(
        world.url,
        sign(emergency, *request_event_template(on_behalf)),
        sign(member, *attestation_template(Attestation(emergency.public_hex))),
        sign(member, *revocation_template(Revocation(emergency.public_hex))),
    )
    who = nip19.npub_encode(member.public_hex)
    data = world.sam("whois", who, *world.r, "--json").json_lines()[0]
    (request,) = data["requests"]
    assert request["revoked_key"] is True and request["by_champion"] is False
    assert data["requests_by_status"] == {"open": 0, "funded": 0, "closed": 0}
    shown = world.sam("whois", who, *world.r)
    assert shown.code == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if "Food for the week" in line)
    assert "revoked" in row and "does not speak for them" in shown.stdout


def test_whois_takes_a_petname(world: Any) -> None:
    assert world.sam("contacts", "add", "bobby", world.bob.npub).code == 0
    data = world.sam("whois", "bobby", *world.r, "--json").json_lines()[0]
    assert (data["pubkey"], data["petname"]) == (world.bob.pubkey, "bobby")
    unknown = world.sam("whois", "nobody-here", *world.r)
    assert unknown.code == 2 and "no npub, nprofile" in one_line_error(unknown)


def test_vouch_output_and_errors(world: Any) -> None:
    done = world.carol("vouch", world.dave.npub, *world.r, "--json")
    assert done.code == 0, done.stderr
    result = done.json_lines()[0]
    assert result["kind"] == 1985 and result["subject"] == world.dave.pubkey
    assert result["event"]["tags"] == [
        ["L", "mas"],
        ["l", "vouch", "mas"],
        ["p", world.dave.pubkey],
    ]
    assert "publicly links you" in done.stderr

    for args, code, fragment in (
        (("vouch", world.carol.npub), 2, "yourself"),
        (("vouch", "npub1nothing"), 2, ""),
        (("whois", "not-a-key"), 2, ""),
    ):
        run = world.carol(*args, *world.r)
        assert run.code == code, run.stderr
        assert fragment in one_line_error(run)


def test_whois_with_no_relay_answering_is_exit_3(person: Any, keys: Any) -> None:
    me = person("me", keys.alice)
    run = me("whois", me.npub, "-r", "ws://127.0.0.1:9", "--timeout", "2")
    assert run.code == 3, run.stderr
    assert "no relay answered" in one_line_error(run)


def test_help(mas: Any) -> None:
    for command in ("whois", "vouch"):
        shown = mas(command, "--help")
        assert shown.code == 0 and "NPUB" in shown.stdout and "--json" in shown.stdout
