"""Champions see a request through, over two real relays, each person with their own
MAS_HOME and the real `mas`: the hand-over refuses the unedited template and warns about
a street address; activation waits for the member to be overdue (judged with --now,
never by sleeping) unless a private reason is given, and tells the member; then two
champions, one after the other, add facts, mark it funded, post news and the spending
report, all on one request signed by the emergency key and counted as the member's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from shieldmutual.shared import nip19
from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.event import Event

TWELVE_HOURS = 12 * 3600


def _request_file(tmp_path: Path, location: str = "Leeds") -> Path:
    request = AidRequest(
        title="Sam has been detained",
        summary="Sam was detained; a lawyer is needed before the hearing.",
        story="If you read this, I could not check in. Please help with legal costs.",
        location=location,
        language="en",
        societies=("leeds-care",),
    )
    path = tmp_path / f"emergency-{len(location)}.md"
    path.write_text(render_template(request), encoding="utf-8")
    return path


def _events(someone: Any, *kinds: int, relay: str | None = None) -> list[Event]:
    args = [a for k in kinds for a in ("-k", str(k))] + (["-r", relay] if relay else [])
    return [Event.from_dict(orjson.loads(line)) for line in someone("req", *args).lines]


def _overdue_time() -> str:
    """A time at which a member on a 12-hour interval who checked in now is overdue."""
    return str(int(time.time()) + TWELVE_HOURS + TWELVE_HOURS // 4 + 60)


def _members_champions(
    tmp_path: Path, relays: Any, person: Callable[..., Any]
) -> tuple[Any, Any, Any, list[Any]]:
    """A member with two champions who both accepted, on two relays. What the public sees
    is read with the member's `mas` (`req`, `request show` sign nothing)."""
    nodes = relays(2)
    urls = [n.url for n in nodes]
    member, c1, c2 = (person(n, *urls) for n in ("member", "champion1", "champion2"))
    member("champion", "add", c1.npub, "--request", str(_request_file(tmp_path)), "--every", "12h")
    member("champion", "add", c2.npub)
    for champion in (c1, c2):
        champion("champion", "watch", "--once", "--no-bell")
        champion("champion", "accept", member.npub)
    return member, c1, c2, nodes


def test_champion_add_refuses_the_template_and_warns_on_an_address(
    tmp_path: Path, relays: Any, person: Any
) -> None:
    """Finding: `champion add` handed over `mas request template` unedited (the example's
    rent story, payment addresses and phone number, for someone else), and took a street
    address and postcode as the location without a word."""
    (relay,) = relays(1)
    member, champion = person("member", relay.url), person("champion", relay.url)
    template = tmp_path / "template.md"
    template.write_text(member("request", "template").stdout, encoding="utf-8")
    refused = member("champion", "add", champion.npub, "--request", str(template), code=2)
    assert "unedited example from `mas request template`" in refused.stderr
    assert "sam@pay.example" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert member("champion", "list", "--json").json_lines() == []  # nothing recorded, or sent
    assert champion("champion", "watch", "--once", "--no-bell").stderr.strip() == ""

    precise = _request_file(tmp_path, location="12 High Street, Leeds LS1 4AB")
    added = member("champion", "add", champion.npub, "--request", str(precise))
    warning = " ".join(added.stderr.split())
    assert "UK postcode (LS1 4AB)" in warning and "street address (12 High Street)" in warning
    assert [row["npub"] for row in member("champion", "list", "--json").json_lines()] == [
        champion.npub
    ]  # a warning, not a refusal: only the person knows what is safe
    coarse = member("champion", "add", champion.npub, "--request", str(_request_file(tmp_path)))
    assert "street address" not in coarse.stderr and "postcode" not in coarse.stderr
    # `request new --from` gives the same warning.
    drafted = member("request", "new", "--from", str(precise), "--dry-run")
    assert "street address (12 High Street)" in " ".join(drafted.stderr.split())


def test_activation_waits_for_overdue_or_a_private_reason_and_tells_the_member(
    tmp_path: Path, relays: Any, person: Any
) -> None:
    """Finding: `champion activate` published for a member who had checked in an hour
    before, and the member was never told who had spoken for them."""
    member, c1, c2, _ = _members_champions(tmp_path, relays, person)
    third = member
    early = c1("champion", "activate", member.npub, "--yes", code=2)
    assert "is not overdue" in early.stderr and "--reason -" in early.stderr
    assert _events(third, 30402, 1985, 1) == []  # nothing was published

    reason = "Her sister Ana called me at 9: Sam was taken at the march."
    argv = c1("champion", "activate", member.npub, "--yes", "--reason", reason, code=2)
    assert "shows in `ps`" in argv.stderr  # the reason can name people: never on argv
    done = c1("champion", "activate", member.npub, "--yes", "--reason", "-", "--json",
              input=reason)  # fmt: skip
    (result,) = done.json_lines()
    assert not result["overdue"] and not result["edited"] and result["notice_acks"] >= 1
    naddr = result["naddr"]

    # The member reads who activated and when, and why; nobody else can.
    (notice,) = member("dm", "read", "--json").json_lines()
    assert notice["from"] == c1.npub and c1.npub in notice["content"]
    assert reason in notice["content"] and naddr in notice["content"]
    assert "published your emergency request" in notice["content"]
    public = [e.to_json().decode() for e in _events(third, 30402, 1985, 1, 1111, 30023)]
    assert public and not [text for text in public if "Ana" in text or c1.pubkey in text]

    # Overdue (judged at a later time), a second champion needs no reason, and edits the
    # request the first one published.
    later = _overdue_time()
    (again,) = c2(
        "champion", "activate", member.npub, "--yes", "--now", later, "--json"
    ).json_lines()
    assert again["overdue"] and again["edited"] and again["naddr"] == naddr


def test_two_champions_keep_one_request_going(tmp_path: Path, relays: Any, person: Any) -> None:
    """Finding: champions could do nothing after activation (no news, no facts, no funded,
    no report), and a second champion's activation replaced the first one's facts."""
    member, c1, c2, nodes = _members_champions(tmp_path, relays, person)
    third = member
    later = _overdue_time()
    first_fact = "Sam was held at the north station on Monday."
    c1("champion", "activate", member.npub, "--yes", "--now", later, "--facts", "-",
       input=first_fact)  # fmt: skip
    second_fact = "The hearing is on Friday; the lawyer needs 800 GBP."
    c2("champion", "activate", member.npub, "--yes", "--now", later, "--facts", "-",
       input=second_fact)  # fmt: skip
    extra = "Ana will collect Sam's things from the flat."
    (fact,) = c1("champion", "fact", member.npub, "--json", input=extra).json_lines()
    naddr = fact["request"]
    (funded,) = c2("champion", "status", member.npub, "funded", "--json").json_lines()
    assert funded["pointer"] == naddr and funded["kind"] == 30402
    news = "The lawyer is paid. Thank you all."
    (update,) = c2("champion", "update", member.npub, "--json", input=news).json_lines()
    assert update["kind"] == 1111 and update["pointer"].startswith("nevent1")
    report = tmp_path / "report.md"
    report.write_text("# Where the money went\n\n800 GBP to the lawyer, on Thursday.\n")
    (spent,) = c2("champion", "report", member.npub, "--from", str(report), "--json").json_lines()
    assert spent["kind"] == 30023
    # Nothing left to change: nothing is published.
    same = c1("champion", "status", member.npub, "funded")
    assert "nothing changed" in same.stderr

    # Exactly one request address on every relay, signed by E, never by a person.
    requests = _events(third, 30402)
    assert len({(e.pubkey, e.d_tag) for e in requests}) == 1
    (emergency,) = {e.pubkey for e in requests}
    assert emergency not in (member.pubkey, c1.pubkey, c2.pubkey)
    assert nip19.naddr_decode(naddr).pubkey == emergency
    for node in nodes:
        (held,) = _events(third, 30402, relay=node.url)  # each relay: the one latest version
        assert held.id == requests[0].id

    shown = third("request", "show", naddr, "--json").json_lines()[0]
    details = shown["details"]
    places = [details.index(text) for text in (first_fact, second_fact, extra)]
    assert places == sorted(places) and details.count("Added by a champion on") == 3
    assert shown["status"] == "funded"
    assert shown["champion"]["status"] == "verified"
    assert [u["text"] for u in shown["progress"]["updates"]] == [news]  # the recipient's
    (counted,) = shown["reports"]
    assert counted["title"] == "Where the money went" and counted["author"] == emergency
    human = " ".join(third("request", "show", naddr).stdout.split())
    assert news in human and "Where the money went" in human
