"""`mas champion`, `mas checkin` and `mas dm`: refusals before anything is sent, and the
sealed records, run in-process against a real `mas-relay` subprocess where relays matter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip19 import npub_encode

NOWHERE = ["-r", "ws://127.0.0.1:9"]  # never contacted: every case fails before the network


def _identity(mas: Any, name: str = "sam") -> dict[str, Any]:
    made = mas("id", "new", name, "--json")
    assert made.code == 0, made.stderr
    return made.json_lines()[0]


def _request(tmp_path: Path) -> Path:
    path = tmp_path / "request.md"
    path.write_text(render_template(AidRequest("Help", "Sam needs help.", "Story.", "Leeds")))
    return path


def _sealed_files(mas_home: Path) -> list[Path]:
    return list((mas_home / "state").rglob("*.sealed"))


def _contents(mas_home: Path) -> dict[Path, bytes]:
    """Every file's bytes: any write changes them, since each seal takes a fresh nonce."""
    return {p: p.read_bytes() for p in mas_home.rglob("*") if p.is_file()}


def test_refusals_come_before_anything_is_sent(mas: Any, mas_home: Path, tmp_path: Path) -> None:
    me = _identity(mas)
    before = _contents(mas_home)
    friend = npub_encode(SecretKey.generate().public_hex)
    broken = tmp_path / "broken.md"
    broken.write_text("no front matter here\n")

    bad_file = mas("champion", "add", friend, "--request", str(broken), *NOWHERE)
    assert bad_file.code == 2 and "error:" in bad_file.stderr
    bad_interval = mas("champion", "add", friend, "--every", "soon", *NOWHERE)
    assert bad_interval.code == 2 and "duration" in bad_interval.stderr
    myself = mas("champion", "add", me["npub"], "--request", str(_request(tmp_path)), *NOWHERE)
    assert myself.code == 1 and "your own champion" in myself.stderr
    no_request = mas("champion", "add", friend, *NOWHERE)
    assert no_request.code == 1 and "--request" in no_request.stderr
    assert mas("champion", "remove", friend, *NOWHERE).code == 1
    lonely = mas("checkin", *NOWHERE)
    assert lonely.code == 1 and "no champions" in lonely.stderr
    assert mas("dm", "send", friend, *NOWHERE, input="").code == 2
    assert _contents(mas_home) == before  # nothing was recorded either


def test_records_are_sealed_and_need_the_passphrase(
    mas: Any, mas_home: Path, tmp_path: Path, relay_process: Any
) -> None:
    relay = relay_process()
    _identity(mas)
    champion = SecretKey.generate()
    npub = npub_encode(champion.public_hex)
    added = mas("champion", "add", npub, "--request", str(_request(tmp_path)), "-r", relay.url)
    assert added.code == 0, added.stderr
    (listed,) = mas("champion", "list", "--json").json_lines()
    assert listed["npub"] == npub and listed["role"] == "my-champion"
    (sealed,) = _sealed_files(mas_home)
    assert champion.public_hex.encode() not in sealed.read_bytes()
    assert npub.encode() not in sealed.read_bytes()
    wrong = mas("champion", "list", passphrase="not it")
    assert wrong.code == 4 and npub not in wrong.stdout + wrong.stderr
    # Someone with nothing to watch sees nothing, and nothing is published on a timer.
    watched = mas("champion", "watch", "--once", "--json", "-r", relay.url)
    assert watched.code == 0 and watched.lines == []
    nobody = mas("champion", "activate", npub, "--yes", "-r", relay.url)
    assert nobody.code == 1 and "no champion hand-over" in nobody.stderr


def test_files_do_not_count_identities_with_champions(
    mas: Any, mas_home: Path, tmp_path: Path, relay_process: Any
) -> None:
    """One vault file per identity told a seized laptop how many identities here have
    champions, and whether any has: with none, one or three, the same names and sizes."""
    relay = relay_process()
    request = str(_request(tmp_path))
    names = ["ash", "birch", "cedar"]
    for name in names:
        _identity(mas, name)

    def sizes() -> dict[str, int]:
        files = (p for p in mas_home.rglob("*") if p.is_file())
        return {str(p.relative_to(mas_home)): p.stat().st_size for p in files}

    def add(name: str) -> None:
        npub = npub_encode(SecretKey.generate().public_hex)
        added = mas("champion", "add", npub, "--request", request, "--as", name, "-r", relay.url)
        assert added.code == 0, added.stderr

    none = sizes()
    add(names[0])
    assert sizes() == none
    for name in names[1:]:
        add(name)
    assert sizes() == none
    for name in names:
        assert len(mas("champion", "list", "--json", "--as", name).json_lines()) == 1


def test_acting_refusals_come_before_anything_is_sent(
    mas: Any, mas_home: Path, tmp_path: Path
) -> None:
    """A champion's private text never comes from argv, two texts never race for stdin, and
    empty or invalid input is refused (exit 2) before a relay is dialled or a file written."""
    _identity(mas)
    before = _contents(mas_home)
    member = npub_encode(SecretKey.generate().public_hex)
    both = mas("champion", "activate", member, "--facts", "-", "--reason", "-", *NOWHERE,
               input="Held.")  # fmt: skip
    assert both.code == 2 and "cannot both read stdin" in both.stderr
    named = mas("champion", "activate", member, "--reason", "Ana saw it", "--yes", *NOWHERE)
    assert named.code == 2 and "shows in `ps`" in named.stderr
    assert mas("champion", "status", member, "paid", *NOWHERE).code == 2
    for command in ("fact", "update"):
        empty = mas("champion", command, member, *NOWHERE, input=" \n")
        assert empty.code == 2 and "is empty" in empty.stderr
    untitled = tmp_path / "spent.md"
    untitled.write_text("Spent on the lawyer.\n")
    no_title = mas("champion", "report", member, "--from", str(untitled), *NOWHERE)
    assert no_title.code == 2 and "title" in no_title.stderr
    assert _contents(mas_home) == before


def test_every_command_has_help(mas: Any) -> None:
    for command in (
        ["dm", "send"], ["dm", "read"], ["dm", "relays"], ["champion", "add"],
        ["champion", "list"], ["champion", "remove"], ["champion", "watch"],
        ["champion", "activate"], ["champion", "accept"], ["champion", "decline"], ["checkin"],
        ["champion", "update"], ["champion", "fact"], ["champion", "status"],
        ["champion", "report"],
    ):  # fmt: skip
        shown = mas(*command, "--help")
        assert shown.code == 0 and "Usage: mas " + " ".join(command) in shown.stdout
