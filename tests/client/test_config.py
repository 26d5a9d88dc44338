"""Config paths (platformdirs or MAS_HOME), the TOML round trip, relay URL rules."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shieldmutual.client.config import (
    Config,
    Paths,
    Timeouts,
    normalize_relay_url,
    normalize_relays,
    write_private,
)
from shieldmutual.client.errors import ConfigError


def test_mas_home_puts_everything_under_one_folder(tmp_path: Path) -> None:
    paths = Paths.resolve({"MAS_HOME": str(tmp_path)})
    assert paths.config_file == tmp_path / "config.toml"
    assert paths.keys_dir == tmp_path / "keys"
    assert paths.state_dir == tmp_path / "state"


def test_platform_dirs_without_mas_home() -> None:
    paths = Paths.resolve({})
    assert "shieldmutual" in str(paths.config_file)
    assert "shieldmutual" in str(paths.keys_dir)
    assert paths.config_file.name == "config.toml"


def test_missing_file_is_defaults(tmp_path: Path) -> None:
    config = Config.load(tmp_path / "nope.toml")
    assert config.relays == [] and config.identity is None and config.timeouts == Timeouts()


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    config = Config(["wss://a.example", "ws://127.0.0.1:7777"], 'odd "name"\\', Timeouts(1, 2, 3))
    config.save(path)
    again = Config.load(path)
    again.apply_private(config.private_part(), "sealed")
    assert again.relays == config.relays
    assert again.identity == config.identity
    assert again.timeouts == Timeouts(1.0, 2.0, 3.0)


def test_the_plain_file_names_nothing_and_is_private(tmp_path: Path) -> None:
    """config.toml was 0644 and listed the relays (where one talks) and the identity."""
    path = tmp_path / "home" / "config.toml"
    Config(["wss://private.example"], "alice", seal_identities=False).save(path)
    text = path.read_text()
    assert "private.example" not in text and "alice" not in text
    assert "seal_identities = false" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not Config.load(path).seal_identities


def test_an_older_plain_config_is_read_and_marked_for_sealing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('identity = "alice"\nrelays = ["wss://a.example"]\n')
    config = Config.load(path)
    assert config.plain_private and config.relays == ["wss://a.example"]
    assert config.identity == "alice"


def test_tighten_fixes_an_older_home(tmp_path: Path) -> None:
    paths = Paths.resolve({"MAS_HOME": str(tmp_path / "home")})
    (tmp_path / "home" / "state" / "deep").mkdir(parents=True, mode=0o755)
    for folder in (tmp_path / "home", tmp_path / "home" / "state"):
        folder.chmod(0o755)
    old = tmp_path / "home" / "state" / "deep" / "old.json"
    old.write_text("{}")
    old.chmod(0o644)
    paths.tighten()
    for path in (tmp_path / "home", tmp_path / "home" / "state" / "deep"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "text",
    [
        "relays = 'x'",
        "relays = [1]",
        "identity = 3",
        "[timeouts]\nconnect = -1",
        "[timeouts]\nfoo = 1",
        "timeouts = 1",
        "not toml at all [",
        "relays = ['http://x']",
    ],
)
def test_bad_config_is_one_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        Config.load(path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wss://Relay.Example.org/", "wss://relay.example.org"),
        ("relay.example.org", "wss://relay.example.org"),
        ("localhost:7777", "ws://localhost:7777"),
        ("127.0.0.1:7777", "ws://127.0.0.1:7777"),
        ("WS://127.0.0.1:7777/path", "ws://127.0.0.1:7777/path"),
        ("wss://[::1]:7000", "wss://[::1]:7000"),
        (" wss://a.example ", "wss://a.example"),
    ],
)
def test_normalize(url: str, expected: str) -> None:
    assert normalize_relay_url(url) == expected


@pytest.mark.parametrize(
    "url", ["", "http://a.example", "wss://", "wss://a.example:99999", "wss://u:p@a.example"]
)
def test_normalize_rejects(url: str) -> None:
    with pytest.raises(ConfigError):
        normalize_relay_url(url)


def test_normalize_relays_dedupes_keeping_order() -> None:
    assert normalize_relays(["b.example", "wss://a.example", "wss://b.example/"]) == [
        "wss://b.example",
        "wss://a.example",
    ]


def test_write_private_mode_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "d" / "f"
    write_private(path, b"one")
    write_private(path, b"two")
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["f"]
