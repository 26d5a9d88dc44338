"""Short handles (issue 13): the sealed store (client/handles.py), and every command that
takes a request or offer accepting a row number, a #id or a unique title from the last
listing, through the real CLI against a real mas-relay."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from rich.console import Console

from shieldmutual.client.cli.aidrender import requests_table
from shieldmutual.client.config import Paths
from shieldmutual.client.handles import HANDLES_FILE, MAX_ENTRIES, Handle, Handles
from shieldmutual.client.vault import Home
from shieldmutual.shared import nip19
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.feed import FeedItem, read_listing
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.event import Event

PK = "ab" * 32


def home(tmp_path: Path) -> Home:
    return Home(Paths.resolve({"MAS_HOME": str(tmp_path)}), lambda _create: bytes(range(32)))


def address(d: str) -> Address:
    return Address(30402, PK, d)


def digest(a: Address) -> str:
    return hashlib.sha256(str(a).encode()).hexdigest()


# ---- the store ---------------------------------------------------------------------------


def test_numbers_are_per_kind_and_renewed_by_each_listing(tmp_path: Path) -> None:
    store = Handles.load(home(tmp_path))
    store.start("request")
    first = store.add("request", address("rent"), "Rent after the raid", ["wss://a.example"])
    second = store.add("request", address("van"), "A van for Sunday", [])
    store.start("offer")
    offered = store.add("offer", address("lift"), "Lifts to the hospital", [])
    store.save()
    again = Handles.load(home(tmp_path))
    assert (first.number, second.number, offered.number) == (1, 2, 1)
    assert again.resolve("1", "request") == (address("rent"), ("wss://a.example",))
    assert again.resolve("1", "offer")[0] == address("lift")  # the offer listing's own row 1
    assert first.id == "#" + digest(address("rent"))[:6]  # stable: the address's hash
    again.start("request")
    again.add("request", address("van"), "A van for Sunday", [])
    assert again.resolve("1", "request")[0] == address("van")
    with pytest.raises(InvalidError, match="rows 1 to 1, not 2"):
        again.resolve("2", "request")
    with pytest.raises(InvalidError, match="no request listing remembered"):
        Handles.load(home(tmp_path / "fresh")).resolve("1", "request")


def test_short_ids_resolve_with_or_without_hash_and_lengthen_only_on_a_clash(
    tmp_path: Path,
) -> None:
    store = Handles.load(home(tmp_path))
    store.start("request")
    seen: dict[str, Address] = {}
    for n in itertools.count():  # two addresses whose hashes share six digits
        a = address(f"r{n}")
        other = seen.setdefault(digest(a)[:6], a)
        if other != a:
            break
    lone = store.add("request", address("alone"), "Alone", [])
    assert store.resolve(lone.id, "request")[0] == address("alone")
    assert store.resolve(lone.id[1:].upper(), "request")[0] == address("alone")
    store.add("request", other, "One", [])
    store.add("request", a, "Other", [])
    ids = {store.short_id(str(other)), store.short_id(str(a))}
    assert len(ids) == 2 and all(len(i) > 7 for i in ids)  # told apart
    assert store.short_id(str(address("alone"))) == lone.id  # the others' ids stay put
    with pytest.raises(InvalidError, match="matches 2 requests"):
        store.resolve("#" + digest(a)[:6], "request")
    assert store.resolve(store.short_id(str(a)), "request")[0] == a


def test_a_short_id_of_digits_only_is_not_read_as_a_row_number(tmp_path: Path) -> None:
    """About one short id in sixteen is all digits (6 of 16 hex digits are 0-9): typed
    without its '#', it must still name its request, not row 865932 of the listing."""
    store = Handles.load(home(tmp_path))
    store.start("request")
    digits = next(
        a for a in (address(f"d{n}") for n in itertools.count()) if digest(str(a))[:6].isdigit()
    )
    store.add("request", address("first"), "First", [])
    entry = store.add("request", digits, "Digits", [])
    assert entry.id[1:].isdigit()
    assert store.resolve(entry.id[1:], "request")[0] == digits
    assert store.resolve("2", "request")[0] == digits  # a short number is still a row
    with pytest.raises(InvalidError, match="rows 1 to 2, not 3"):
        store.resolve("3", "request")


def test_titles_match_case_insensitively_exact_before_partial(tmp_path: Path) -> None:
    store = Handles.load(home(tmp_path))
    store.start("request")
    store.add("request", address("rent"), "Rent after the raid", [])
    store.add("request", address("rent2"), "Rent after the raid, part two", [])
    store.add("request", address("van"), "A van for Sunday", [])
    assert store.resolve("rent  AFTER the raid", "request")[0] == address("rent")  # exact wins
    assert store.resolve("van", "request")[0] == address("van")
    with pytest.raises(InvalidError) as ambiguous:
        store.resolve("rent", "request")
    message = str(ambiguous.value)
    assert "matches 2 requests" in message and "Rent after the raid, part two" in message
    assert store.short_id(str(address("rent"))) in message
    with pytest.raises(InvalidError, match="no request you listed matches 'Lost cat'"):
        store.resolve("Lost cat", "request")
    with pytest.raises(InvalidError, match="no offer you listed"):
        store.resolve("van", "offer")  # a request's title does not name an offer


def test_the_store_is_sealed_and_bounded(tmp_path: Path) -> None:
    store = Handles.load(home(tmp_path))
    store.start("request")
    for n in range(MAX_ENTRIES + 50):
        store.add("request", address(f"d{n}"), f"Secret title {n}", [], now=n)
    store.start("offer")
    store.add("offer", address("old"), "Kept: in the last listing", [], now=-1)
    store.save()
    raw = (tmp_path / "state" / HANDLES_FILE).read_bytes()
    assert b"Secret title" not in raw and PK.encode() not in raw
    again = Handles.load(home(tmp_path))
    assert len(again.entries) == MAX_ENTRIES
    assert str(address("d0")) not in again.entries  # the least recently listed went first
    assert again.resolve("1", "offer")[0] == address("old")


# ---- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def street(relay_process: Any, person: Any, keys: Any, tmp_path: Path) -> SimpleNamespace:
    """Sam asks twice; Bob offers a lift. Bob reads from his own home."""
    relay = relay_process()
    sam = person("sam", keys.alice)
    bob = person("bob", keys.bob)
    naddrs = []
    for title in ("Rent after the raid", "Rent after the flood"):
        path = tmp_path / f"{len(naddrs)}.md"
        text = sam("request", "template").stdout.replace("Rent after the raid", title)
        path.write_text(text)
        made = sam("request", "new", "--from", str(path), "--yes", "-r", relay.url)
        assert made.code == 0, made.stderr
        naddrs.append(made.lines[-1])
    offered = bob(
        "offer", "new", "--title", "Lifts on Sundays", "--summary", "I drive.", "--location",
        "Leeds, UK", "--category", "lift", "--society", "example", "--description", "Van.",
        "--yes", "-r", relay.url,
    )  # fmt: skip
    assert offered.code == 0, offered.stderr
    return SimpleNamespace(relay=relay, sam=sam, bob=bob, naddrs=naddrs, offer=offered.lines[-1])


def nip19_coordinate(naddr: str) -> str:
    pointer = nip19.naddr_decode(naddr)
    return f"{pointer.kind}:{pointer.pubkey}:{pointer.identifier}"


def street_id(view: dict[str, Any]) -> str:
    return (
        "#"
        + hashlib.sha256(f"30402:{view['author']}:{view['identifier']}".encode()).hexdigest()[:6]
    )


def table_rows(stdout: str) -> dict[str, tuple[str, str]]:
    """Title -> (number, #id) from a listing's table (maybe in a panel), each row read on
    its own line."""
    rows = {}
    for line in stdout.splitlines():
        found = re.match(
            r"[\s│]*(\d+)\s.*?(Rent after the \w+|Lifts on Sundays).*\s(#[0-9a-f]{6,})[\s│]*$",
            line,
        )
        if found:
            rows[found[2]] = (found[1], found[3])
    return rows


def test_request_list_numbers_rows_and_commands_take_them(street: Any) -> None:
    url = street.relay.url
    before = street.bob("request", "show", "1", "-r", url)
    assert before.code == 2 and "no request listing remembered" in before.stderr
    listed = street.bob("request", "list", "--society", "example", "-r", url)
    assert listed.code == 0, listed.stderr
    assert "naddr1" not in listed.stdout  # the table names rows by handle, never the naddr
    rows = table_rows(listed.stdout)
    assert sorted(n for n, _ in rows.values()) == ["1", "2"]
    for title, (number, short) in rows.items():
        for handle in (number, short, short[1:], title.upper()):
            shown = street.bob("request", "show", handle, "--json", "-r", url)
            assert shown.code == 0, shown.stderr
            assert shown.json_lines()[0]["title"] == title
    flood = rows["Rent after the flood"][0]
    pledged = street.bob("pledge", flood, "--amount", "5", "--currency", "GBP", "-r", url)
    assert pledged.code == 0, pledged.stderr
    view = street.bob("request", "show", street.naddrs[1], "--json", "-r", url).json_lines()[0]
    assert view["progress"]["pledges"] == 1  # the pledge went to the request numbered so


def test_json_keeps_the_naddr_and_adds_the_handle(street: Any) -> None:
    listed = street.bob("request", "list", "--society", "example", "--json", "-r", street.relay.url)
    assert listed.code == 0, listed.stderr
    lines = listed.json_lines()
    assert [line["number"] for line in lines] == [1, 2]
    for line in lines:
        assert line["naddr"].startswith("naddr1") and re.fullmatch(r"#[0-9a-f]{6}", line["handle"])


def test_ambiguous_and_unknown_titles_are_usage_errors(street: Any) -> None:
    url = street.relay.url
    assert street.bob("request", "list", "--society", "example", "-r", url).code == 0
    both = street.bob("request", "show", "rent after", "-r", url)
    assert both.code == 2 and "matches 2 requests" in both.stderr
    assert "Rent after the raid" in both.stderr and "Rent after the flood" in both.stderr
    lost = street.bob("pledge", "Rent after the raid!", "--amount", "5", "--currency", "GBP")
    assert lost.code == 2 and "no request you listed matches" in lost.stderr
    assert "non-printable" not in lost.stderr and "Traceback" not in lost.stderr
    typo = street.bob("request", "show", "naddr1notreally", "-r", url)  # a broken naddr says so
    assert typo.code == 2 and "not an naddr" in typo.stderr
    words = street.bob("request", "show", "note1 on the rent", "-r", url)  # words are a title
    assert words.code == 2 and "no request you listed matches" in words.stderr


def test_offer_handles_and_a_pledge_with_both(street: Any) -> None:
    url = street.relay.url
    assert street.bob("request", "list", "--society", "example", "-r", url).code == 0
    offers = street.bob("offer", "list", "--society", "example", "-r", url)
    assert offers.code == 0, offers.stderr
    assert "naddr1" not in offers.stdout
    number, short = table_rows(offers.stdout)["Lifts on Sundays"]
    assert number == "1"
    shown = street.bob("offer", "show", short, "--json", "-r", url)
    assert shown.code == 0 and shown.json_lines()[0]["title"] == "Lifts on Sundays"
    # Row 1 of the last request listing, answered with row 1 of the last offer listing.
    pledged = street.bob("pledge", "1", "--offer", "1", "--json", "-r", url)
    assert pledged.code == 0, pledged.stderr
    tags = pledged.json_lines()[0]["event"]["tags"]
    offer = shown.json_lines()[0]
    assert ["q", f"30402:{offer['author']}:{offer['identifier']}"] in [t[:2] for t in tags]
    rent = street.bob("request", "show", "1", "--json", "-r", url).json_lines()[0]
    assert ["A", f"30402:{rent['author']}:{rent['identifier']}"] in [t[:2] for t in tags]
    # The offer's answered requests are a listing too: numbered, by #id, not by naddr.
    again = street.bob("offer", "show", "1", "-r", url)
    assert again.code == 0, again.stderr
    assert table_rows(again.stdout) == {rent["title"]: ("1", street_id(rent))}
    answered = street.bob("offer", "show", "1", "--json", "-r", url).json_lines()[0]["answered"]
    assert [(a["number"], a["handle"]) for a in answered] == [(1, street_id(rent))]


def test_a_table_never_wraps_a_handle_in_100_columns(street: Any) -> None:
    """What `request list` prints on a 100-column terminal: every row's number and #id
    whole on the row's first line, however long its title, place and societies."""
    listed = street.bob("request", "list", "--society", "example", "--json", "-r", street.relay.url)
    lines = listed.json_lines()
    feed_items = []
    for line in lines:  # long enough to need folding everywhere but the handle
        event = Event.from_dict(line["event"])
        request = read_listing(event)
        long = replace(
            request, title=request.title + " and" * 30, location=" ".join(["Leeds"] * 20)
        )
        feed_items.append(FeedItem(event, long))
    handles = {
        str(Address.of(item.event)): Handle(line["number"], line["handle"])
        for item, line in zip(feed_items, lines, strict=True)
    }
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(requests_table(feed_items, handles))
    out = console.file.getvalue()
    assert "naddr1" not in out and all(len(x) <= 100 for x in out.splitlines())
    for line in lines:
        row = next(x for x in out.splitlines() if line["handle"] in x)
        assert re.match(rf"\s*{line['number']}\s", row)  # number and #id on one line


def test_an_naddr_needs_no_home_and_no_passphrase(street: Any, mas: Any, tmp_path: Path) -> None:
    fresh = {"MAS_HOME": str(tmp_path / "nobody")}
    shown = mas("request", "show", street.naddrs[0], "--json", "-r", street.relay.url,
                env=fresh, passphrase=None)  # fmt: skip
    assert shown.code == 0, shown.stderr
    listed = mas("request", "list", "--society", "example", "--json", "-r", street.relay.url,
                 env=fresh, passphrase=None)  # fmt: skip
    assert listed.code == 0 and len(listed.json_lines()) == 2
    assert not (tmp_path / "nobody" / "state" / HANDLES_FILE).exists()  # no home made for it


def test_whois_numbers_the_requests_it_lists(street: Any) -> None:
    url = street.relay.url
    record = street.bob("whois", street.sam.npub, "-r", url)
    assert record.code == 0, record.stderr
    rows = table_rows(record.stdout)
    assert sorted(n for n, _ in rows.values()) == ["1", "2"] and "naddr1" not in record.stdout
    for title, (number, short) in rows.items():
        for handle in (number, short):
            shown = street.bob("request", "show", handle, "--json", "-r", url)
            assert shown.code == 0 and shown.json_lines()[0]["title"] == title
    data = street.bob("whois", street.sam.npub, "--json", "-r", url).json_lines()[0]
    assert {r["handle"] for r in data["requests"]} == {s for _, s in rows.values()}


async def test_a_handle_or_title_never_reaches_a_relay(street: Any, fake_relay: Any) -> None:
    """Resolved here: relays are asked for the address, as with an naddr, never the
    number, #id or title typed."""
    url = street.relay.url
    listed = await asyncio.to_thread(
        street.bob, "request", "list", "--society", "example", "-r", url
    )
    number, short = table_rows(listed.stdout)["Rent after the flood"]
    identifier = Address.parse(nip19_coordinate(street.naddrs[1])).identifier
    async with fake_relay() as spy:
        for handle in (number, short, "rent after the FLOOD"):
            shown = await asyncio.to_thread(street.bob, "request", "show", handle, "-r", spy.url)
            assert shown.code == 0, shown.stderr  # found on the relay the listing hinted
        sent = orjson.dumps(spy.reqs).decode()
    assert identifier in sent  # asked by address
    assert "flood" not in sent.lower() and short[1:] not in sent


def test_a_damaged_store_never_stops_a_listing(street: Any) -> None:
    url = street.relay.url
    assert street.bob("request", "list", "--society", "example", "-r", url).code == 0
    store = street.bob.home / "state" / HANDLES_FILE
    store.write_bytes(b"\x00" * 64)
    broken = street.bob("request", "show", "1", "-r", url)
    assert broken.code == 2 and "handles.sealed" in broken.stderr  # said, one line
    listed = street.bob("request", "list", "--society", "example", "-r", url)
    assert listed.code == 0 and "forgotten" in listed.stderr
    assert street.bob("request", "show", "2", "-r", url).code == 0  # numbered afresh
