"""Issue 11 §E, "people have names", with the real CLI over a real relay.

Profiles (kind 0) published and merged by `mas id profile`, read back by `mas req -k 0`;
petnames from `mas contacts` shown wherever a person is, sealed at rest; a stranger
whose profile name copies a contact's petname shown so nobody mistakes them; and
`mas whois` answering "have they helped me / others, do people I trust vouch for them".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shieldmutual.client.cli.fmt import short_npub
from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest


def _request(people_dir: Path, who: Any, title: str) -> str:
    request = AidRequest(
        title=title,
        summary="Help is needed this week.",
        story="The boiler broke.",
        location="Leeds",
        language="en",
        amount=None,
        societies=("otter-mutual",),
    )
    path = people_dir / f"{who.name}.md"
    path.write_text(render_template(request), encoding="utf-8")
    return str(
        who("--json", "request", "new", "--from", str(path), "--yes").json_lines()[0]["naddr"]
    )


def _error_line(run: Any) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


def test_profile_is_published_merged_and_read_back(people: Any) -> None:
    sam = people("sam")
    # Another app wrote a profile first: its fields survive our edits.
    other_app = json.dumps({"name": "Sam", "nip05": "sam@example.org"})
    sam("event", "-k", "0", "-c", other_app, "--created-at", "1 hour ago")
    sam("id", "profile", "--name", "Sam T", "--lud16", "Sam@GetAlby.com")
    published = sam("id", "profile", "--about", "I fix bikes", "--json").json_lines()[0]
    assert published["kind"] == 0 and published["profile"]["lud16"] == "sam@getalby.com"

    (event,) = sam("req", "-k", "0", "-a", sam.npub).json_lines()  # one replaceable kind 0
    assert json.loads(event["content"]) == {
        "name": "Sam T",
        "nip05": "sam@example.org",
        "lud16": "sam@getalby.com",
        "about": "I fix bikes",
    }
    sam("id", "profile", "--name", "")  # "" removes a field, the others stay
    shown = sam("id", "profile", "--show", "--json").json_lines()[0]
    assert (shown["name"], shown["about"], shown["lud16"]) == (
        None,
        "I fix bikes",
        "sam@getalby.com",
    )
    assert "lud16" in sam("id", "profile", "--show").stdout

    for args, fragment in (
        (("--lud16", "not-an-address"), "Lightning address"),
        (("--picture", "javascript:alert(1)"), "http(s) URL"),
        ((), "--show"),
    ):
        run = sam("id", "profile", *args, code=2)
        assert fragment in _error_line(run)


def test_contacts_add_list_remove_and_sealed_at_rest(people: Any) -> None:
    me, rosa = people("quietfox"), people("rosa")
    me("contacts", "add", "sisterjo", rosa.npub)
    assert me("contacts", "list", "--json").json_lines() == [
        {"petname": "sisterjo", "pubkey": rosa.pubkey, "npub": rosa.npub}
    ]
    assert "sisterjo" in me("contacts", "list").stdout
    for args, code in (
        (("add", "quietfox", rosa.npub), 1),  # one of my identities' names
        (("add", "~rosa", rosa.npub), 2),  # not a petname: could pass for a profile name
        (("add", "other", rosa.npub), 1),  # already sisterjo
        (("add", "me2", me.npub), 1),  # my own key is named by its identity
        (("remove", "nobody"), 1),
    ):
        _error_line(me("contacts", *args, code=code))
    for path in me.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            for text in ("sisterjo", rosa.npub, rosa.pubkey):
                assert text.encode() not in data, f"{path} names {text} in the clear"
    me("contacts", "remove", "sisterjo")
    assert me("contacts", "list", "--json").json_lines() == []


def test_whois_answers_and_names_people_apart_from_an_impostor(people: Any, tmp_path: Path) -> None:
    me, bob, carol, rosa, mallory = (
        people(n) for n in ("quietfox", "bob", "carol", "rosa", "mallory")
    )
    bob("id", "profile", "--name", "Bob the Builder", "--lud16", "bob@getalby.com")
    mallory("id", "profile", "--name", "rosa")  # impersonates my contact
    me("contacts", "add", "rosa", rosa.npub)

    mine = _request(tmp_path, me, "Boiler broke")
    bob("pledge", mine, "--amount", "20", "--currency", "GBP")
    me("confirm", mine, "--amount", "20", "--currency", "GBP",
       "--helper", bob.npub, "--helper-consents")  # fmt: skip
    hers = _request(tmp_path, carol, "Van for the move")
    bob("pledge", hers, "--amount", "10", "--currency", "GBP")
    carol("confirm", hers, "--helper", bob.npub, "--helper-consents")
    rosa("vouch", bob.npub, "--reason", "fixed the shelter roof")
    mallory("vouch", bob.npub, "--reason", "trust me")

    data = me("whois", bob.npub, "--json").json_lines()[0]
    assert (data["petname"], data["name"]) == (None, "Bob the Builder")
    assert data["profile"]["lud16"] == "bob@getalby.com"
    answers = data["answers"]
    helped = answers["helped_me"]
    assert helped["answer"] is True
    assert [h["recipient"] for h in helped["confirmed_by_you"]] == [me.pubkey]
    assert helped["confirmed_by_you"][0]["recipient_petname"] == "quietfox"
    assert [p["amount"] for p in helped["pledged_to_you"]] == ["20 GBP"]
    forward = answers["paid_forward"]
    assert forward["answer"] is True
    assert [h["recipient"] for h in forward["confirmed_by_others"]] == [carol.pubkey]
    assert [p["amount"] for p in forward["pledged_to_others"]] == ["10 GBP"]
    trusted = answers["vouched_by_trusted"]
    assert trusted["answer"] is True
    assert [
        (v["voucher"], v["voucher_petname"], v["why_trusted"]) for v in trusted["vouchers"]
    ] == [(rosa.pubkey, "rosa", "your contact")]
    impostor = next(v for v in data["vouches"] if v["voucher"] == mallory.pubkey)
    assert (impostor["voucher_petname"], impostor["voucher_name"], impostor["trusted"]) == (
        None, "rosa", False,
    )  # fmt: skip

    shown = me("whois", bob.npub).stdout
    for words in (
        "Have they helped you?",
        "you confirmed their help 1 time",
        "Have they helped others?",
        "1 person confirmed their help",
        "Do people you trust vouch for them?",
        f"~Bob the Builder ({short_npub(bob.pubkey)})",
        "zaps to: bob@getalby.com",
        f"~rosa ({short_npub(mallory.pubkey)})",  # the impostor, marked and keyed
    ):
        assert words in shown, words
    vouch_rows = [line for line in shown.splitlines() if "trust me" in line]
    assert len(vouch_rows) == 1 and "~rosa" in vouch_rows[0]
    rosa_rows = [line for line in shown.splitlines() if "fixed the shelter roof" in line]
    assert len(rosa_rows) == 1 and " rosa " in rosa_rows[0] and "~" not in rosa_rows[0]

    # Answers are the reader's: to Mallory, Bob helped others, not her, and the only
    # vouch she trusts is her own.
    theirs = mallory("whois", bob.npub, "--json").json_lines()[0]["answers"]
    assert theirs["helped_me"]["answer"] is False and theirs["paid_forward"]["answer"] is True
    assert [v["why_trusted"] for v in theirs["vouched_by_trusted"]["vouchers"]] == ["your identity"]


def test_dm_read_shows_the_petname_and_never_a_strangers_profile_name(people: Any) -> None:
    me, rosa, mallory = people("quietfox"), people("rosa"), people("mallory")
    mallory("id", "profile", "--name", "rosa")
    me("contacts", "add", "rosa", rosa.npub)
    rosa("dm", "send", me.npub, input="from the real rosa")
    mallory("dm", "send", me.npub, input="from someone calling themself rosa")

    read = {m["content"]: m for m in me("dm", "read", "--json").json_lines()}
    assert read["from the real rosa"]["from_petname"] == "rosa"
    assert read["from someone calling themself rosa"]["from_petname"] is None
    me("dm", "send", "rosa", input="a reply, addressed by petname")
    assert "addressed by petname" in rosa("dm", "read", "--from", me.npub, "--json").stdout
    rows = me("dm", "read").stdout.splitlines()
    real = next(line for line in rows if "from the real rosa" in line)
    fake = next(line for line in rows if "calling themself" in line)
    assert " rosa " in real and short_npub(mallory.pubkey) in fake and "rosa " not in fake


def test_feed_and_request_views_name_the_author_and_mark_the_impostor(
    people: Any, tmp_path: Path
) -> None:
    me, rosa, mallory = people("quietfox"), people("rosa"), people("mallory")
    mallory("id", "profile", "--name", "rosa")
    me("contacts", "add", "rosa", rosa.npub)
    real = _request(tmp_path, rosa, "Roof leaks")
    fake = _request(tmp_path, mallory, "Cash needed today")
    rosa("pledge", fake, "--amount", "5", "--currency", "GBP")
    me("follow", "otter-mutual")

    lines = me("feed", "--once").stdout.splitlines()
    (roof,) = [line for line in lines if "Roof leaks" in line]
    (cash,) = [line for line in lines if "Cash needed" in line]
    assert "— by rosa —" in roof
    assert f"— by ~rosa ({short_npub(mallory.pubkey)}) —" in cash
    by_title = {i["title"]: i for i in me("feed", "--once", "--json").json_lines()}
    assert by_title["Roof leaks"]["author_petname"] == "rosa"
    assert (by_title["Cash needed today"]["author_petname"],
            by_title["Cash needed today"]["author_name"]) == (None, "rosa")  # fmt: skip
    listed = {i["title"]: i for i in me("request", "list", "--json").json_lines()}
    assert listed["Cash needed today"]["author_name"] == "rosa"

    shown = me("request", "show", fake).stdout
    by_row = next(line for line in shown.splitlines() if " by " in f" {line.strip()} ")
    assert f"~rosa ({short_npub(mallory.pubkey)})" in by_row
    pledge_row = next(line for line in shown.splitlines() if "5 GBP" in line and "rosa" in line)
    assert "~" not in pledge_row  # the real Rosa pledged: her petname, plain
    assert me("request", "show", real, "--json").json_lines()[0]["author_petname"] == "rosa"
