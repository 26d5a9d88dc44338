"""client/bridge_state.py: the bridge's lists and record, sealed, checked, and shared
safely between `mas bridge email add` and a running bridge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shieldmutual.client.bridge_state import DIGEST, BridgeRecord, ListEntry
from shieldmutual.client.config import Paths
from shieldmutual.client.errors import ConfigError
from shieldmutual.client.vault import Home

LIST = "north-aid@lists.example"
RELAY = "wss://relay.society.example"


def home(folder: Path) -> Home:
    return Home(Paths.resolve({"MAS_HOME": str(folder)}), lambda _create: bytes(range(32)))


def entry(address: str = LIST, **changes: Any) -> ListEntry:
    fields: dict[str, Any] = {"societies": ("north",), "relays": (RELAY,), **changes}
    return ListEntry(address, **fields)


def test_the_record_names_no_list_society_relay_or_title_in_the_clear(tmp_path: Path) -> None:
    record = BridgeRecord(home(tmp_path))
    coordinate = "30402:" + "ab" * 32 + ":boiler"
    with record.edit() as lists:
        made = entry(mode=DIGEST, extras=("update",), list_id="north-aid.lists.example")
        made.sent["r:" + coordinate] = 1767225700
        made.known[coordinate] = {"status": "active", "title": "Boiler repair for Sam"}
        lists[LIST] = made
    assert (
        BridgeRecord.load(record.home).lists[LIST].known[coordinate]["title"].startswith("Boiler")
    )
    words = [LIST, "north-aid", "mas-north", "relay.society.example", "Boiler", coordinate]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [w for w in words if w.encode() in data], path


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"address": "List <a@b.example>"}, "plain email address"),
        ({"address": "a@b.example\r\nBcc: evil@x.example"}, "plain email address"),
        ({"societies": ("North Side",)}, "slug"),
        ({"societies": ()}, "at least one society"),
        ({"relays": ("http://relay.example",)}, "ws"),
        ({"mode": "hourly"}, "mode"),
        ({"extras": ("pledge",)}, "unknown extras"),
        ({"list_id": "north aid\r\nBcc: x"}, "List-Id"),
        ({"rate": 0}, "rate"),
    ],
)
def test_a_list_that_makes_no_sense_is_refused(changes: dict[str, Any], why: str) -> None:
    address = changes.pop("address", LIST)
    with pytest.raises(ConfigError, match=why):
        entry(address, **changes)


def test_edits_from_two_places_keep_each_other(tmp_path: Path) -> None:
    """`mas bridge email add` while the bridge runs: each edit re-reads the file."""
    running, adding = BridgeRecord.load(home(tmp_path)), BridgeRecord.load(home(tmp_path))
    with adding.edit() as lists:
        lists[LIST] = entry()
    with running.edit() as lists:
        lists["york@lists.example"] = entry("york@lists.example")
    assert sorted(BridgeRecord.load(home(tmp_path)).lists) == [LIST, "york@lists.example"]
