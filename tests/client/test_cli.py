"""The `mas` CLI without relays: identities, codec, verify, event --dry-run, and the error
boundary (one line on stderr, the documented exit code, never a traceback)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from shieldmutual.client import unlock
from shieldmutual.shared import nip19, nip49
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

SECRET = SecretKey(bytes.fromhex("33" * 32))
NSEC = nip19.nsec_encode(SECRET.secret)
NPUB = nip19.npub_encode(SECRET.public_hex)


def one_line_error(run: Any) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in run.stderr
    return lines[0]


# ---- identities ----------------------------------------------------------------------------


def test_new_list_use_show(mas: Any, mas_home: Path) -> None:
    first = mas("id", "new", "alice", "--json")
    assert first.code == 0, first.stderr
    alice = first.json_lines()[0]
    assert alice["name"] == "alice" and alice["default"] is True  # the first is the default
    bob = mas("id", "new", "bob", "--json").json_lines()[0]
    assert bob["default"] is False

    listed = mas("id", "list", "--json").json_lines()
    assert [i["name"] for i in listed] == ["alice", "bob"]
    table = mas("id", "list")
    assert "alice" in table.stdout and alice["npub"] in table.stdout

    assert mas("id", "use", "bob").code == 0
    shown = mas("id", "show", "--json").json_lines()[0]
    assert shown["name"] == "bob" and shown["npub"] == bob["npub"]
    assert nip19.nprofile_decode(shown["nprofile"]).pubkey == bob["pubkey"]
    assert mas("--as", "alice", "id", "show", "--json").json_lines()[0]["name"] == "alice"
    assert mas("id", "show", "--as", "alice", "--json").json_lines()[0]["name"] == "alice"

    key_file = mas_home / "keys" / "identities.sealed"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"alice" not in key_file.read_bytes()  # names are sealed too


def test_import_nsec_from_stdin_and_export(mas: Any) -> None:
    result = mas("id", "import", "me", input=NSEC + "\n")
    assert result.code == 0, result.stderr
    assert NPUB in result.stdout
    assert "warning" not in result.stderr

    sealed = mas("id", "export", "me")
    assert sealed.stdout.startswith("ncryptsec1")
    assert nip49.decrypt(sealed.stdout.strip(), "test passphrase") == SECRET.secret

    refused = mas("id", "export", "me", "--reveal")  # not a terminal, no --yes
    assert refused.code == 2
    one_line_error(refused)
    revealed = mas("id", "export", "me", "--reveal", "--yes")
    assert revealed.code == 0 and revealed.stdout.strip() == NSEC
    assert "warning" in revealed.stderr


def test_import_hex_and_ncryptsec_and_argument_refused(mas: Any) -> None:
    argument = mas("id", "import", "hexkey", SECRET.secret.hex())
    assert argument.code == 2 and "never taken on the command line" in argument.stderr
    hex_import = mas("id", "import", "hexkey", input=SECRET.secret.hex())
    assert hex_import.code == 0

    theirs = nip49.encrypt(SECRET.secret, "their passphrase", log_n=4)
    wrong = mas("id", "import", "sealed", input=theirs)
    assert wrong.code == 4
    assert "wrong passphrase" in one_line_error(wrong)
    other_home = mas("id", "import", "sealed", input=theirs, passphrase="their passphrase")
    assert other_home.code == 4 and "wrong passphrase" in one_line_error(other_home)
    sealed = nip49.encrypt(SECRET.secret, "test passphrase", log_n=4)
    ok = mas("id", "import", "sealed", input=sealed)
    assert ok.code == 0 and NPUB in ok.stdout
    assert mas("id", "export", "sealed").stdout.strip() == sealed  # stored unchanged


@pytest.mark.parametrize("secret", ["nsec1bogus", "hello", "00" * 32, ""])
def test_import_bad_secret(mas: Any, secret: str) -> None:
    result = mas("id", "import", "x", input=secret)
    assert result.code == 2
    one_line_error(result)


def test_throwaway(mas: Any) -> None:
    shown = mas("id", "new", "--throwaway", "--json").json_lines()[0]
    assert shown["npub"].startswith("npub1") and shown["nsec"] is None
    assert mas("id", "list", "--json").lines == []  # nothing stored
    revealed = mas("id", "new", "--throwaway", "--reveal", "--json").json_lines()[0]
    key = SecretKey.from_hex(nip19.nsec_decode(revealed["nsec"]))
    assert key.public_hex == revealed["pubkey"]
    kept = mas("id", "new", "burner", "--throwaway", "--json").json_lines()[0]
    assert kept["throwaway"] is True
    assert "throwaway" in mas("id", "list").stdout


def test_remove(mas: Any) -> None:
    mas("id", "new", "alice")
    refused = mas("id", "remove", "alice")
    assert refused.code == 2 and "--yes" in one_line_error(refused)
    assert mas("id", "remove", "alice", "--yes").code == 0
    assert mas("id", "list", "--json").lines == []
    missing = mas("id", "remove", "alice", "--yes")
    assert missing.code == 1 and "no identity named 'alice'" in one_line_error(missing)


def test_identity_errors(mas: Any) -> None:
    none = mas("event", "-c", "x", "--dry-run")
    assert none.code == 1 and "mas id new" in one_line_error(none)
    mas("id", "new", "a")
    mas("id", "new", "b")
    mas("id", "remove", "a", "--yes")  # the default is gone; one identity is left
    assert mas("event", "-c", "x", "--dry-run").code == 0
    mas("id", "new", "c")  # becomes the default, as none is set
    mas("id", "new", "d")
    mas("id", "remove", "c", "--yes")  # b and d are left, neither is the default
    several = mas("event", "-c", "x", "--dry-run")
    assert several.code == 1 and "--as" in one_line_error(several)
    taken = mas("id", "new", "b")
    assert taken.code == 1 and "already exists" in one_line_error(taken)
    bad = mas("id", "new", "../evil")
    assert bad.code == 1
    one_line_error(bad)


def test_wrong_and_missing_passphrase(mas: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    mas("id", "new", "alice")
    wrong = mas("event", "-c", "x", "--dry-run", passphrase="nope")
    assert wrong.code == 4 and "wrong passphrase" in one_line_error(wrong)
    monkeypatch.setattr(unlock, "_terminal_available", lambda: False)
    missing = mas("event", "-c", "x", "--dry-run", passphrase=None)
    assert missing.code == 4 and "--passphrase-fd" in one_line_error(missing)


# ---- event --dry-run, verify --------------------------------------------------------------


def test_event_from_flags(mas: Any) -> None:
    mas("id", "import", "me", input=NSEC)
    target = "ab" * 32
    result = mas(
        "event", "--dry-run", "-k", "30402", "-c", "rent due", "-t", "t=mas-hill",
        "-t", "e=" + target + ";wss://r.example;root", "-p", NPUB, "-d", "req-1",
        "--created-at", "1714521600",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    event = Event.from_json(result.lines[0])
    event.verify()
    assert event.kind == 30402 and event.content == "rent due"
    assert event.pubkey == SECRET.public_hex and event.created_at == 1714521600
    assert event.tags == [
        ["t", "mas-hill"],
        ["e", target, "wss://r.example", "root"],
        ["p", SECRET.public_hex],
        ["d", "req-1"],
    ]


def test_event_templates_and_signed_events_from_stdin(mas: Any) -> None:
    mas("id", "import", "me", input=NSEC)
    other = sign(SecretKey.generate(), 1, "someone else's", [])
    stdin = "\n".join(
        [
            '{"kind": 1, "content": "template", "tags": [["t", "a"]]}',
            other.to_json().decode(),
            '{\n  "content": "pretty\\nprinted"\n}',
        ]
    )
    result = mas("event", "--dry-run", "-t", "x=y", input=stdin)
    assert result.code == 0, result.stderr
    events = [Event.from_json(line) for line in result.lines]
    assert [e.content for e in events] == ["template", "someone else's", "pretty\nprinted"]
    assert events[0].tags == [["t", "a"], ["x", "y"]] and events[0].pubkey == SECRET.public_hex
    # -t changes it, so the signed event is re-signed as a template by us
    assert events[1].pubkey == SECRET.public_hex
    unchanged = mas("event", "--dry-run", input=other.to_json().decode())
    assert unchanged.lines == [other.to_json().decode()]  # passed on byte for byte


@pytest.mark.parametrize(
    ("stdin", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"kind": "one"}', "kind"),
        ('{"content": 5}', "content"),
    ],
)
def test_event_bad_stdin(mas: Any, stdin: str, fragment: str) -> None:
    mas("id", "import", "me", input=NSEC)
    result = mas("event", "--dry-run", input=stdin)
    assert result.code == 2
    assert fragment in one_line_error(result)


def test_event_forged_stdin_is_refused(mas: Any) -> None:
    data = sign(SECRET, 1, "x", []).to_dict()
    data["content"] = "changed"
    result = mas("event", "--dry-run", input=orjson.dumps(data).decode())
    assert result.code == 2 and "id does not match" in one_line_error(result)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["event", "-k", "x"], "--kind"),
        (["event", "--nope"], "No such option"),
        (["event", "-c", "x", "--created-at", "whenever"], "cannot read time"),
        (["event", "-c", "x", "-t", "=v"], "key=value"),
        (["event", "-c", "x", "-p", "npub1bad"], "bech32"),
        (["req", "-k", "1", "--since", "soon"], "cannot read time"),
        (["req", "-a", "zz"], "public key"),
        (["req", "-t", "ab=x"], "one letter"),
        (["req", "-r", "http://x"], "ws://"),
        (["decode", "npub1xyz"], "bech32"),
        (["encode", "npub", "1234"], "public key"),
        (["relays", "add", "ftp://x"], "ws://"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(mas: Any, args: list[str], fragment: str) -> None:
    mas("id", "new", "alice")
    result = mas(*args)
    assert result.code == 2, (result.stdout, result.stderr)
    assert fragment in one_line_error(result)


def test_verify_passes_valid_events_through(mas: Any) -> None:
    good = sign(SECRET, 1, "ok", [])
    bad = good.to_dict() | {"content": "tampered"}
    stdin = "\n".join([good.to_json().decode(), orjson.dumps(bad).decode(), "[]"])
    result = mas("verify", input=stdin)
    assert result.code == 1
    assert result.lines == [good.to_json().decode()]
    assert "1 valid, 2 invalid" in result.stderr
    as_json = mas("verify", "--json", input=stdin).json_lines()
    assert [r["valid"] for r in as_json] == [True, False, False]
    assert as_json[1]["id"] == good.id and "does not match" in as_json[1]["error"]
    assert mas("verify", input=good.to_json().decode()).code == 0
    empty = mas("verify", input="")
    assert empty.code == 2 and "no events" in one_line_error(empty)


# ---- encode / decode -----------------------------------------------------------------------


def test_encode_decode_all_forms(mas: Any) -> None:
    pk, eid = SECRET.public_hex, "cd" * 32
    assert mas("encode", "npub", pk).stdout.strip() == NPUB
    assert mas("encode", "note", eid).stdout.strip() == nip19.note_encode(eid)
    nsec = mas("encode", "nsec", input=SECRET.secret.hex())
    assert nsec.stdout.strip() == NSEC and "warning" not in nsec.stderr
    assert "warning" in mas("encode", "nsec", SECRET.secret.hex()).stderr
    nprofile = mas("encode", "nprofile", NPUB, "-r", "wss://a.example").stdout.strip()
    nevent = mas("encode", "nevent", eid, "-r", "wss://a.example", "-a", pk, "-k", "1")
    naddr = mas("encode", "naddr", "-d", "req-1", "-a", pk, "-k", "30402", "-r", "wss://b.example")
    assert nevent.code == naddr.code == 0

    decoded = mas("decode", NPUB, "nostr:" + NSEC, nip19.note_encode(eid))
    assert decoded.lines == [pk, SECRET.secret.hex(), eid]
    pointers = mas("decode", nprofile, nevent.stdout.strip(), naddr.stdout.strip()).json_lines()
    assert pointers[0] == {"type": "nprofile", "pubkey": pk, "relays": ["wss://a.example"]}
    assert pointers[1] == {
        "type": "nevent", "id": eid, "relays": ["wss://a.example"], "author": pk, "kind": 1
    }  # fmt: skip
    assert pointers[2] == {
        "type": "naddr", "identifier": "req-1", "pubkey": pk, "kind": 30402,
        "relays": ["wss://b.example"],
    }  # fmt: skip
    assert mas("decode", "--json", NPUB).json_lines() == [{"type": "npub", "hex": pk}]
    assert mas("decode", input=NPUB + "\n" + nip19.note_encode(eid)).lines == [pk, eid]


# ---- relays list (config) ------------------------------------------------------------------


def test_relays_add_remove_list(mas: Any, mas_home: Path) -> None:
    assert mas("relays", "list", "--json").lines == []
    mas("relays", "add", "wss://a.example", "b.example", "wss://a.example/", "--no-check")
    listed = [r["relay"] for r in mas("relays", "list", "--json").json_lines()]
    assert listed == ["wss://a.example", "wss://b.example"]
    assert "b.example" not in (mas_home / "config.toml").read_text()  # sealed, elsewhere
    assert b"b.example" not in (mas_home / "settings.sealed").read_bytes()
    assert mas("relays", "remove", "wss://a.example").code == 0
    missing = mas("relays", "remove", "wss://zzz.example")
    assert missing.code == 3
    one_line_error(missing)
    assert [r["relay"] for r in mas("relays", "list", "--json").json_lines()] == ["wss://b.example"]


def test_damaged_config_is_one_line(mas: Any, mas_home: Path) -> None:
    mas_home.mkdir(parents=True)
    (mas_home / "config.toml").write_text("relays = [")
    result = mas("relays", "list")
    assert result.code == 2 and "not valid TOML" in one_line_error(result)


def test_unreachable_relay_exit_3(mas: Any) -> None:
    mas("id", "new", "alice")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{s.getsockname()[1]}"
    published = mas("event", "-c", "x", "-r", dead)
    assert published.code == 3
    assert "unreachable" in published.stderr and "connection refused" in published.stderr
    assert one_line_error_at_end(published)
    queried = mas("req", "-k", "1", "-r", dead)
    assert queried.code == 3 and queried.stdout == ""
    checked = mas("relays", "check", dead, "--json")
    assert checked.code == 3 and checked.json_lines()[0]["ok"] is False


def one_line_error_at_end(run: Any) -> bool:
    last = run.stderr.strip().splitlines()[-1]
    return last.startswith("error: ") and "Traceback" not in run.stderr


# ---- the console script itself --------------------------------------------------------------


def test_console_script_no_tty_no_passphrase(tmp_path: Path) -> None:
    """The real `mas` binary, detached from any terminal: no prompt possible, exit 4."""
    mas_bin = Path(sys.executable).with_name("mas")
    env = {**os.environ, "MAS_HOME": str(tmp_path), "MAS_SCRYPT_LOG_N": "4"}
    env.pop("MAS_PASSPHRASE", None)
    result = subprocess.run(
        [str(mas_bin), "id", "new", "alice"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert result.returncode == 4
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    help_text = subprocess.run(
        [str(mas_bin), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "Exit codes" in help_text


def test_a_key_from_an_older_home_is_resealed_under_the_home_passphrase(
    mas: Any, mas_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before one passphrase sealed the home, each key file had its own passphrase."""
    keys = mas_home / "keys"
    keys.mkdir(parents=True)
    old = nip49.encrypt(SECRET.secret, "its own", log_n=4)
    record = f'name = "me"\npubkey = "{SECRET.public_hex}"\nncryptsec = "{old}"\n'
    (keys / "me.toml").write_text(record)
    scripted = mas("event", "-c", "x", "--dry-run")  # a script has one passphrase: it stops
    assert scripted.code == 4 and "wrong passphrase" in one_line_error(scripted)
    assert not (keys / "me.toml").exists()  # the list itself is sealed already

    def person_types(prompt: str) -> str:
        return "its own" if "not this home's" in prompt else "test passphrase"

    monkeypatch.setattr(unlock, "_terminal_available", lambda: True)
    monkeypatch.setattr(unlock.getpass, "getpass", person_types)
    asked = mas("event", "-c", "x", "--dry-run", passphrase=None)
    assert asked.code == 0, asked.stderr
    monkeypatch.undo()
    assert mas("event", "-c", "x", "--dry-run").code == 0  # now the home's opens it
