"""Local state: follows and seen requests in a sealed file that nothing publishes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shieldmutual.client.config import Paths
from shieldmutual.client.errors import ConfigError
from shieldmutual.client.state import MAX_SEEN, LocalState
from shieldmutual.client.vault import Home
from shieldmutual.shared.errors import AidError


def home(tmp_path: Path) -> Home:
    return Home(Paths.resolve({"MAS_HOME": str(tmp_path)}), lambda _create: bytes(range(32)))


def test_follow_round_trip_and_file_mode(tmp_path: Path) -> None:
    state = LocalState.load(home(tmp_path))
    assert state.follow("north", ["leeds-care", "york-care"], now=10)
    assert state.follow("leeds-care", now=11)
    assert not state.follow("leeds-care")  # already followed: nothing changes
    assert state.follow("north", ["hull"])  # adds a member, keeps the first date
    state.save()
    again = LocalState.load(home(tmp_path))
    assert again.follows["north"].members == ("leeds-care", "york-care", "hull")
    assert again.follows["north"].since == 10
    assert again.follow_tags() == ["mas-leeds-care", "mas-north", "mas-york-care", "mas-hull"]
    assert stat.S_IMODE(state.path.stat().st_mode) == 0o600
    assert state.path.parent == tmp_path / "state"
    assert again.unfollow("north") and not again.unfollow("north")
    with pytest.raises(AidError):
        again.follow("Not A Slug")


def test_seen_is_bounded(tmp_path: Path) -> None:
    state = LocalState.load(home(tmp_path))
    assert state.mark_seen("30402:x:a", now=1) and not state.mark_seen("30402:x:a")
    for n in range(MAX_SEEN + 5):
        state.mark_seen(f"k{n}", now=100 + n)
    state.save()
    again = LocalState.load(home(tmp_path))
    assert len(again.seen) == MAX_SEEN
    assert not again.is_seen("30402:x:a") and again.is_seen(f"k{MAX_SEEN + 4}")


def test_damaged_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text('{"follows": {"Bad Slug": {}}}')
    with pytest.raises(ConfigError, match="damaged"):
        LocalState.load(home(tmp_path))


def test_state_is_sealed_and_an_older_plain_file_is_moved_in(tmp_path: Path) -> None:
    """state.json named every followed society (a membership list) in plain text."""
    (tmp_path / "state").mkdir()
    legacy = tmp_path / "state" / "state.json"
    legacy.write_text('{"follows": {"leeds-care": {"since": 5}}, "seen": {"30402:x:a": 6}}')
    state = LocalState.load(home(tmp_path))
    assert not legacy.exists() and set(state.follows) == {"leeds-care"}
    assert state.path.name == "local.sealed"
    raw = state.path.read_bytes()
    assert b"leeds" not in raw and b"30402" not in raw
    assert LocalState.load(home(tmp_path)).is_seen("30402:x:a")
