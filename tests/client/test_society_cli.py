"""`mas society create/show/list` and `mas follow/unfollow/following` with a real relay.

The privacy promise is tested directly: following (even with --members, which reads
the syndicate's definition from the relay) leaves the relay holding exactly what it
held before, and the follow lives only in a 0600 file under MAS_HOME.
"""

from __future__ import annotations

import stat
from typing import Any

from shieldmutual.shared import nip19
from tests.pooled import pull


def test_follow_is_local_only(mas: Any, mas_home: Any) -> None:
    assert mas("following").code == 0
    done = mas("follow", "mas-leeds-care", "york", "--json")
    assert done.code == 0, done.stderr
    assert [line["tag"] for line in done.json_lines()] == ["mas-leeds-care", "mas-york"]
    assert "nothing was published" in done.stderr
    listed = mas("following", "--json").json_lines()
    assert [f["tag"] for f in listed] == ["mas-leeds-care", "mas-york"]
    state_file = mas_home / "state" / "local.sealed"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert b"leeds-care" not in state_file.read_bytes()  # sealed: no membership list on disk

    gone = mas("unfollow", "mas-york")
    assert gone.code == 0 and "no longer following mas-york" in gone.stdout
    missing = mas("unfollow", "mas-york")
    assert missing.code == 1 and missing.stderr.startswith("error: not following mas-york")
    bad = mas("follow", "Not A Slug")
    assert bad.code == 2 and bad.stderr.count("\n") == 1


def test_create_show_list_and_follow_a_syndicate_publishing_nothing(
    mas: Any, relay_process: Any
) -> None:
    relay = relay_process()
    assert mas("id", "new", "carol").code == 0
    r = ("-r", relay.url)
    leeds = mas("society", "create", "leeds-care", "--name", "Leeds Care", "--language", "en",
                "--description", "Neighbours helping.", *r)  # fmt: skip
    assert leeds.code == 0, leeds.stderr
    assert nip19.naddr_decode(leeds.lines[-1]).identifier == "leeds-care"
    assert "accepted" in leeds.stderr
    york = mas("society", "create", "mas-york-care", "--json", *r).json_lines()[0]
    assert york["tag"] == "mas-york-care" and york["acks"] == 1
    north = mas("society", "create", "north", "--member", "mas-leeds-care",
                "--member", york["pointer"], "--json", *r)  # fmt: skip
    assert north.code == 0, north.stderr

    shown = mas("society", "show", "mas-north", "--json", *r).json_lines()
    assert [s["members"] for s in shown] == [["mas-leeds-care", "mas-york-care"]]
    assert "Leeds Care" in mas("society", "show", "leeds-care", *r).stdout
    unknown = mas("society", "show", "mas-nowhere", *r)
    assert unknown.code == 1 and "no relay holds a definition" in unknown.stderr

    before = {e.id for e in pull(relay.url, {"limit": 5000})}
    followed = mas("follow", "mas-north", "--members", *r, "--json")
    assert followed.code == 0, followed.stderr
    assert followed.json_lines()[0]["members"] == ["leeds-care", "york-care"]
    assert {e.id for e in pull(relay.url, {"limit": 5000})} == before  # following published nothing

    listed = {row["tag"]: row for row in mas("society", "list", "--json", *r).json_lines()}
    assert set(listed) == {"mas-leeds-care", "mas-york-care", "mas-north"}
    assert listed["mas-north"]["following"] and not listed["mas-york-care"]["following"]
    table = mas("society", "list", *r)
    assert "Leeds Care" in table.stdout and "*" in table.stdout

    local_only = mas("society", "create", "quiet", "--no-publish")
    assert local_only.code == 0 and local_only.stdout.strip() == "mas-quiet"
    assert {e.id for e in pull(relay.url, {"limit": 5000})} == before
