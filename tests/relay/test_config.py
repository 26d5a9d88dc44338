"""relay/config.py: the TOML file, flags on top, and errors that name the setting."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from shieldmutual.relay import config as config_mod
from shieldmutual.relay.config import Config
from shieldmutual.shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_documents_every_key_with_the_default_values():
    path = ROOT / "docker" / "relay.toml"
    data = tomllib.loads(path.read_text())
    defaults = Config()
    for section in ("server", "limits", "rate_limits", "policy", "info", "store", "mirror"):
        fields = {f.name for f in dataclasses.fields(getattr(defaults, section))}
        assert set(data[section]) == fields, section
    assert config_mod.load(path) == defaults


def test_config_file_then_flags(tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\n'
        "[limits]\nmax_subscriptions = 3\n"
        "[rate_limits]\nevents_per_second = 0\n"
        f'[policy]\naid_only = true\nblocked_pubkeys = ["{"ab" * 32}"]\n'
    )
    config = config_mod.load(path)
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9000)
    assert config.limits.max_subscriptions == 3
    assert config.rate_limits.events_per_second == 0.0
    assert config.policy.aid_only and config.policy.blocked_pubkeys == frozenset({"ab" * 32})
    assert config.restricted_writes
    flagged = config_mod.with_flags(config, port=0, db="/tmp/x.db")
    assert (flagged.server.host, flagged.server.port, flagged.server.db) == (
        "0.0.0.0",
        0,
        "/tmp/x.db",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[limits]\nmax_subscriptons = 1\n", "unknown setting [limits] max_subscriptons"),
        ("[limit]\n", "unknown table [limit]"),
        ('[limits]\nmax_limit = "10"\n', "[limits] max_limit must be an integer"),
        ("[limits]\nmax_limit = -1\n", "must not be negative"),
        ("[policy]\naid_only = 1\n", "[policy] aid_only must be true or false"),
        ('[policy]\nblocked_pubkeys = ["nope"]\n', "64-character lowercase hex"),
        ("[limits]\ndefault_limit = 600\nmax_limit = 500\n", "default_limit <= max_limit"),
        ("[limits]\nmax_subid_length = 65\n", "max_subid_length must be 1 to 64"),
        ("[server]\nport = 70000\n", "port must be at most 65535"),
        ('[server]\nurls = ["relay.example.org"]\n', "must be ws:// or wss:// URLs"),
        ("[server]\nmax_outgoing_bytes = 1\n", "max_outgoing_bytes is no longer used: set"),
        ("[server]\nmax_memory = 1048576\n", "max_memory must be at least max_connection"),
        ("[rate_limits]\nquery_seconds_burst = 0\n", "query_seconds_burst must be more than 0"),
        ('[server]\nurl = "https://relay.example.org"\n', "must be ws:// or wss:// URLs"),
        ("not toml [", "is not valid TOML"),
    ],
)
def test_config_errors_name_the_setting(tmp_path, text, message):
    path = tmp_path / "relay.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_mod.load(path)
