"""`mas pledge / confirm / update / report` against a real `mas-relay` process.

Each person has their own MAS_HOME; the request is signed with a fixed key and stored
on the relay, then the real CLI (in-process, through main()'s error boundary) helps,
confirms, updates and reports. What the relay then holds is read back through
client.aid, the same code `mas request show` uses.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from shieldmutual.client import aid
from shieldmutual.client.cli import helping
from shieldmutual.shared import nip17, nip19, nip59
from shieldmutual.shared.aid.comments import parse_pledge
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.helping import CallFlood, Payment, action_types
from shieldmutual.shared.aid.request import AidRequest, request_event_template
from shieldmutual.shared.errors import AidError, InvalidError
from shieldmutual.shared.event import sign
from tests.pooled import pull, with_pool

RENT = AidRequest(
    title="Rent after the raid",
    summary="Sam lost two weeks of work after the raid.",
    story="The social centre was raided on Tuesday.",
    location="Leeds, UK",
    amount=Decimal(400),
    currency="GBP",
    societies=("leeds-care",),
    payments=(Payment("lightning", "sam@pay.example"),),
    actions=(CallFlood("+44 113 496 0000", "Leeds Housing Office", "Pause the eviction."),),
    identifier="4f1c9a2e7b3d6a10",
)


def one_line_error(run: Any) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


def load(url: str, naddr: str) -> tuple[aid.RequestRecord, aid.Thread]:
    return with_pool(url, lambda pool: aid.load_request(pool, naddr))


@pytest.fixture
def story(relay_process: Any, person: Any, push: Any, keys: Any) -> SimpleNamespace:
    """A relay holding Sam's request; Sam, Bob (helps) and Carol (a bystander)."""
    relay = relay_process()
    sam, bob, carol = (
        person("sam", keys.alice),
        person("bob", keys.bob),
        person("carol", keys.carol),
    )
    request = sign(keys.alice, *request_event_template(RENT))
    push(relay.url, request)
    naddr = Address.of(request).naddr((relay.url,))
    return SimpleNamespace(relay=relay, url=relay.url, sam=sam, bob=bob, carol=carol, naddr=naddr)


# ---- pure helpers ------------------------------------------------------------------------


def test_money_is_checked_before_any_key_is_unlocked() -> None:
    assert helping.money("12.5", "GBP") == (Decimal("12.5"), "GBP")
    assert helping.money(None, None) == (None, None)
    with pytest.raises(InvalidError, match="go together"):
        helping.money("5", None)
    with pytest.raises(AidError, match="plain positive number"):
        helping.money("-5", "GBP")
    with pytest.raises(AidError, match="currency"):
        helping.money("5", "£")


def test_action_types_of_a_request() -> None:
    assert action_types(RENT.actions) == ["call"]


# ---- the commands against a real relay ----------------------------------------------------


def test_public_pledge_confirm_update_report(story: Any, tmp_path: Path) -> None:
    r = ("-r", story.url)
    pledged = story.bob("pledge", story.naddr, "--amount", "50", "--currency", "GBP",
                        "--action", "call", *r, "--json")  # fmt: skip
    assert pledged.code == 0, pledged.stderr
    result = pledged.json_lines()[0]
    assert result["kind"] == 1111 and result["acks"] == 1 and result["private"] is False
    assert nip19.nevent_decode(result["pointer"]).id == result["id"]
    assert result["relays"][0]["status"] == "accepted"

    # Naming Bob needs his consent; with it, the confirmation replies to his pledge.
    refused = story.sam("confirm", story.naddr, "--helper", story.bob.npub, *r)
    assert refused.code == 2 and "consent" in one_line_error(refused)
    confirmed = story.sam("confirm", story.naddr, "--amount", "50", "--currency", "GBP",
                          "--helper", story.bob.npub, "--helper-consents", *r)  # fmt: skip
    assert confirmed.code == 0, confirmed.stderr
    assert "accepted" in confirmed.stderr  # the per-relay table
    assert nip19.nevent_decode(confirmed.lines[0]).author == story.sam.pubkey

    news = story.sam("update", story.naddr, *r, input="Half the rent is covered.\n")
    assert news.code == 0, news.stderr
    report_file = tmp_path / "report.md"
    report_file.write_text("# Where the rent went\n\n## Spent\n\n- 400 GBP rent\n")
    reported = story.sam("report", story.naddr, "--from", str(report_file), *r, "--json")
    assert reported.code == 0, reported.stderr
    report_pointer = nip19.naddr_decode(reported.json_lines()[0]["pointer"])
    assert report_pointer.kind == 30023 and report_pointer.identifier == "4f1c9a2e7b3d6a10-report"

    _, thread = load(story.url, story.naddr)
    assert [p.amount for p in thread.pledges] == [Decimal(50)]
    (bobs,) = thread.pledges
    assert bobs.action == "call" and bobs.origin.pubkey == story.bob.pubkey
    (confirmation,) = thread.confirmations
    assert confirmation.helper == story.bob.pubkey
    assert confirmation.pledge_id == bobs.origin.id
    assert thread.progress.received == {"GBP": Decimal(50)}
    assert [u.text for u in thread.updates] == ["Half the rent is covered."]
    (report,) = thread.reports
    assert report.title == "Where the rent went" and report.societies == ("leeds-care",)
    assert report.body == "## Spent\n\n- 400 GBP rent"

    # Publishing the report again edits it and keeps its first publication time.
    report_file.write_text("# Where the rent went\n\n- 400 GBP rent\n- 20 GBP fares\n")
    again = story.sam("report", story.naddr, "--from", str(report_file), *r)
    assert again.code == 0, again.stderr
    _, thread = load(story.url, story.naddr)
    (edited,) = thread.reports
    assert edited.body.endswith("20 GBP fares") and edited.published_at == report.published_at


def test_confirmation_without_a_helper_names_nobody(story: Any) -> None:
    done = story.sam("confirm", story.naddr, "-m", "Thank you all!", "-r", story.url)
    assert done.code == 0, done.stderr
    _, thread = load(story.url, story.naddr)
    (confirmation,) = thread.confirmations
    assert confirmation.helper is None and confirmation.note == "Thank you all!"
    event = next(e for e in thread.events if e.id == confirmation.origin.id)
    assert {t[1] for t in event.tags if t[0] == "p"} == {story.sam.pubkey}


def test_private_pledge_reaches_only_the_requester(
    story: Any, keys: Any, relay_process: Any, push: Any
) -> None:
    # Sam asks for private messages on another relay too (NIP-17 kind 10050).
    inbox = relay_process()
    push(story.url, nip17.dm_relay_list(keys.alice, [inbox.url]))
    pledge = ("pledge", story.naddr, "--amount", "100", "--currency", "GBP", "--private")
    # Finding: a private note on the command line shows in `ps` and the shell history.
    on_the_line = story.bob(*pledge, "-m", "From the night shift.", "-r", story.url)
    assert on_the_line.code == 2 and "shows in `ps`" in on_the_line.stderr
    done = story.bob(*pledge, "-m", "-", "-r", story.url, "--json", input="From the night shift.")
    assert done.code == 0, done.stderr
    result = done.json_lines()[0]
    assert result["kind"] == 1059 and result["private"] is True
    assert {r["relay"] for r in result["relays"] if r["ok"]} == {story.url, inbox.url}
    assert result["event"]["pubkey"] != story.bob.pubkey  # a one-time key
    assert story.sam.npub in result["pointer"]

    # Nothing public: no comment by Bob, no event by Bob at all.
    assert pull(story.url, {"authors": [story.bob.pubkey]}) == []
    # Only Sam, authenticated, gets the wrap; Carol gets nothing.
    assert pull(story.url, {"kinds": [1059]}, auth=keys.carol) == []
    (wrap,) = pull(story.url, {"kinds": [1059], "#p": [story.sam.pubkey]}, auth=keys.alice)
    assert wrap.id == result["id"]
    assert [e.id for e in pull(inbox.url, {"kinds": [1059]}, auth=keys.alice)] == [wrap.id]
    opened = nip59.unwrap(keys.alice, wrap)
    assert opened.sender == story.bob.pubkey
    pledge = parse_pledge(opened.rumor)
    assert pledge.private and pledge.amount == Decimal(100)
    assert pledge.note == "From the night shift."
    assert str(pledge.request.address) == f"30402:{story.sam.pubkey}:4f1c9a2e7b3d6a10"


def test_only_the_person_helped_confirms_updates_and_reports(story: Any, tmp_path: Path) -> None:
    r = ("-r", story.url)
    report_file = tmp_path / "r.md"
    report_file.write_text("# Mine\n\nsomething")
    for args in (
        ("confirm", story.naddr, *r),
        ("update", story.naddr, "I am not Sam", *r),
        ("report", story.naddr, "--from", str(report_file), *r),
    ):
        refused = story.carol(*args)
        assert refused.code == 1, refused.stderr
        assert "only the request's author" in one_line_error(refused)
    _, thread = load(story.url, story.naddr)
    assert not thread.events  # nothing was published


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("pledge", "{naddr}"), 2, "an amount"),
        (("pledge", "{naddr}", "--amount", "5"), 2, "go together"),
        (("pledge", "{naddr}", "--action", "signwave"), 2, "no 'signwave' action"),
        (("pledge", "naddr1notreally", "--amount", "5", "--currency", "GBP"), 2, "naddr"),
        (("pledge", "30402:" + "cd" * 32 + ":gone", "--action", "call"), 1, "no relay holds"),
        (("confirm", "{naddr}", "--helper-consents"), 2, "needs --helper"),
        (("confirm", "{naddr}", "--helper", "npub1nope", "--helper-consents"), 2, ""),
        (("update", "{naddr}", "   "), 2, "empty"),
        (("report", "{naddr}", "--from", "/nonexistent/r.md"), 2, "No such file"),
    ],
)
def test_bad_input_is_one_line(story: Any, args: tuple[str, ...], code: int, fragment: str) -> None:
    run = story.bob(*(a.format(naddr=story.naddr) for a in args), "-r", story.url)
    assert run.code == code, run.stderr
    assert fragment in one_line_error(run)


def test_no_relay_reachable_is_exit_3(story: Any) -> None:
    story.relay.terminate()
    run = story.bob("pledge", story.naddr, "--action", "call", "-r", story.url)
    assert run.code == 3, run.stderr
    assert "no relay answered" in one_line_error(run)


def test_every_command_has_help(mas: Any) -> None:
    for command in ("pledge", "confirm", "update", "report"):
        shown = mas(command, "--help")
        assert shown.code == 0 and "--json" in shown.stdout and "REQUEST" in shown.stdout
