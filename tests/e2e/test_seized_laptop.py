"""Issue 9, "seized laptop": what a full session leaves on disk names nobody, and cron
works through the agent with no passphrase anywhere.

One person ("quietfox") lives a whole session through the real CLI against a real
relay: follows societies, reads the feed (so requests are "seen"), is a champion for
three members, names a champion of their own, sends a DM, pledges in public and in
private, vouches, checks in. Then the analyst walks every file under their MAS_HOME: no
society slug, relay URL or host:port, npub or hex key (theirs or anyone's), name or
message text; modes 0600/0700; and sizes that do not move between following 1 and 5
societies or championing 1 and 3 members.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tomllib
from contextlib import suppress
from pathlib import Path
from typing import Any

from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest

MAS = str(Path(sys.executable).parent / "mas")
PASSPHRASE = "e2e passphrase"  # tests/e2e/conftest.py's, which reaches mas on a pipe only
SOCIETIES = ("otter-mutual", "heron-aid", "badger-care", "kestrel-fund", "vole-share")
DM_TEXT = "the spare key is under the blue pot"
PLEDGE_NOTE = "I can bring the van on Saturday"
VOUCH_REASON = "ran the night shelter rota with me"
REQUEST_TITLE = "Boiler broke in the flat on Mill Lane"
PETNAME = "sisterjo"  # what quietfox calls the friend in the address book


def _request_file(tmp_path: Path, title: str, society: str) -> Path:
    request = AidRequest(
        title=title,
        summary="Help is needed this week.",
        story="A story that only the requester's friends should connect to them.",
        location="Leeds",
        language="en",
        societies=(society,),
    )
    path = tmp_path / f"{society}-{len(title)}.md"
    path.write_text(render_template(request), encoding="utf-8")
    return path


def _sizes(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): p.stat().st_size for p in home.rglob("*") if p.is_file()}


def _analyse(home: Path, forbidden: dict[str, str]) -> None:
    """What someone holding the disk (and not the passphrase) can learn: nothing named."""
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            assert mode == 0o700, f"{path} is {oct(mode)}"
            continue
        assert mode == 0o600, f"{path} is {oct(mode)}"
        data = path.read_bytes()
        for what, text in forbidden.items():
            assert text.encode() not in data, f"{path} names {what} ({text}) in the clear"
            assert text.lower().encode() not in data.lower(), f"{path} names {what}"
        # Every file is one of four known kinds, none of them readable text with content.
        if path.name == "config.toml":
            assert set(tomllib.loads(data.decode())) <= {"seal_identities", "timeouts"}
        elif path.name == "home.key":
            assert data.startswith(b"ncryptsec1") and len(data) < 200
        elif path.suffix == ".lock":
            assert data == b""
        else:
            assert path.suffix == ".sealed" and data.startswith(b"MAS1"), path


def test_a_seized_laptop_names_nobody(people: Any, one_relay: Any, tmp_path: Path) -> None:
    me, asker, friend, champion = (people(n) for n in ("quietfox", "asker", "friend", "guard"))
    members = [people(f"member{i}") for i in range(3)]

    # Following: the sizes are the same with 1 and with 5 societies.
    me("follow", SOCIETIES[0])
    one_society = _sizes(me.home)
    me("follow", *SOCIETIES[1:])
    assert _sizes(me.home) == one_society
    assert me("following").stdout.count("mas-") == len(SOCIETIES)

    # A request in a followed society is seen in the feed, pledged to in public and in
    # private; a DM goes to a friend, and a vouch is published.
    request = _request_file(tmp_path, REQUEST_TITLE, SOCIETIES[1])
    naddr = asker("--json", "request", "new", "--from", str(request), "--yes").json_lines()[0]
    (seen,) = me("--json", "feed", "--once").json_lines()
    assert seen["title"] == REQUEST_TITLE
    me("pledge", naddr["naddr"], "--amount", "20", "--currency", "GBP")
    me(
        "pledge",
        naddr["naddr"],
        "--amount",
        "5",
        "--currency",
        "GBP",
        "--private",
        input=PLEDGE_NOTE,
    )
    me("dm", "send", friend.npub, input=DM_TEXT)
    assert DM_TEXT in friend("dm", "read", "--json").stdout
    me("vouch", friend.npub, "--reason", VOUCH_REASON)
    me("contacts", "add", PETNAME, friend.npub)
    me("contacts", "add", "asker", asker.npub)
    assert PETNAME in me("dm", "read").stdout + me("whois", friend.npub).stdout

    # Being a champion: the sizes are the same for 1 and for 3 members.
    emergency = _request_file(tmp_path, "If I go quiet, call my sister", SOCIETIES[2])
    for count, member in enumerate(members, 1):
        member("champion", "add", me.npub, "--request", str(emergency), "--every", "12h")
        me("champion", "watch", "--once", "--json", "--no-bell")
        me("champion", "accept", member.npub)
        me("champion", "watch", "--once", "--json", "--no-bell")
        if count == 1:
            one_member = _sizes(me.home)
    assert len(me("champion", "watch", "--once", "--json", "--no-bell").json_lines()) == 3
    assert _sizes(me.home) == one_member

    # Having a champion, and checking in.
    me("champion", "add", champion.npub, "--request", str(emergency))
    champion("champion", "watch", "--once", "--json", "--no-bell")
    champion("champion", "accept", me.npub)
    me("checkin")

    port = one_relay.url.rsplit(":", 1)[1]
    forbidden = {
        "the relay": one_relay.url,
        "the relay's host:port": f"127.0.0.1:{port}",
        "the identity's name": me.name,
        "the user's npub": me.npub,
        "the user's key": me.pubkey,
        "a DM": DM_TEXT,
        "a private pledge": PLEDGE_NOTE,
        "a vouch": VOUCH_REASON,
        "a seen request": REQUEST_TITLE,
        "a contact's petname": PETNAME,
    }
    forbidden |= {f"society {slug}": slug for slug in SOCIETIES}
    for other in (asker, friend, champion, *members):
        forbidden |= {f"{other.name}'s npub": other.npub, f"{other.name}'s key": other.pubkey}
    _analyse(me.home, forbidden)


def test_cron_checks_in_through_the_agent_with_no_passphrase_anywhere(
    people: Any, tmp_path: Path
) -> None:
    me, champion = people("quietfox"), people("guard")
    emergency = _request_file(tmp_path, "If I go quiet, call my sister", "otter-mutual")
    me("champion", "add", champion.npub, "--request", str(emergency))
    unlocked = me("unlock", "--for", "10m", "--json").json_lines()[0]
    pid = unlocked["pid"]
    try:
        # What cron gives: no terminal, a bare environment with no passphrase in any form.
        cron_env = {
            "MAS_HOME": str(me.home),
            "PATH": "/usr/bin:/bin",
            "MAS_PRIVATE_DELAY": me.env["MAS_PRIVATE_DELAY"],
        }
        done = subprocess.run(
            [MAS, "checkin", "--json"], env=cron_env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=120, start_new_session=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert champion.npub in done.stdout

        secret = PASSPHRASE.encode()
        for path in me.home.rglob("*"):
            if path.is_file():
                assert secret not in path.read_bytes(), path
        for name in ("environ", "cmdline"):
            raw = Path(f"/proc/{pid}/{name}").read_bytes()
            assert secret not in raw and b"MAS_PASSPHRASE" not in raw

        me("lock")
        locked = subprocess.run(
            [MAS, "checkin"], env=cron_env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=60, start_new_session=True,
        )  # fmt: skip
        assert locked.returncode == 4 and "mas unlock" in locked.stderr
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
