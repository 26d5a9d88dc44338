"""The relays the compatibility suite runs the story against, each started for real.

``compat_relay`` is parametrized over every relay this machine can start:

* ``mas-relay``: ours, open config (the shared ``relay_process`` fixture);
* ``nostr-relay``: the PyPI relay (a test dependency), a subprocess under uvicorn with
  its NIP-42 authentication on, so it sends a challenge on connect;
* ``strfry-dialect``: ``dialect.py``, strfry's behaviour as read from its source;
* ``strfry``: the real binary, only when ``STRFRY_BIN`` names one (opt-in: CI has none),
  configured as the issue found it: NIP-42 on, ``restrictedReadKinds = "4, 1059"``.

The people and the CLI come from tests/e2e/conftest.py (``person``, ``mas_env``...),
loaded by path since tests/ is no package under ``--import-mode=importlib``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.harness import RelayProcess, free_port

HERE = Path(__file__).parent
START_TIMEOUT = 30.0


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_e2e = _load("compat_e2e_fixtures", HERE.parent / "e2e" / "conftest.py")
dialect = _load("compat_dialect", HERE / "dialect.py")

# The e2e fixtures this suite shares: the same people at the same real `mas`.
mas_env = _e2e.mas_env
spawn = _e2e.spawn
run_mas = _e2e.run_mas
person = _e2e.person
emergency_request = _e2e.emergency_request

STRFRY_BIN = os.environ.get("STRFRY_BIN", "")
RELAYS = ["mas-relay", "nostr-relay", "strfry-dialect"] + (["strfry"] if STRFRY_BIN else [])


@dataclass
class CompatRelay:
    name: str
    url: str


def _subprocess(cmd: list[str], port: int, cwd: Path) -> Iterator[str]:
    relay = RelayProcess(cmd, cwd=cwd)
    try:
        yield relay.wait_listening(port, START_TIMEOUT)
    finally:
        relay.close()


NOSTR_RELAY_CONFIG = """\
storage:
  sqlalchemy.url: sqlite+aiosqlite:///{db}
gunicorn:
  bind: 127.0.0.1:{port}
authentication:
  enabled: true
  relay_urls: [ws://127.0.0.1:{port}]
"""
# nostr-relay's own config.yaml spells the list 'valid_urls', but auth.py reads
# 'relay_urls' (1.14); anonymous may still save and query, as its defaults say.

# nofiles = 0: leave the open-file limit alone (its default asks for more than a test
# machine allows, and strfry exits).
STRFRY_CONFIG = """\
db = "{db}/"
relay {{
    bind = "127.0.0.1"
    port = {port}
    nofiles = 0
    auth {{
        enabled = true
        serviceUrl = "ws://127.0.0.1:{port}"
        restrictedReadKinds = "4, 1059"
        restrictReadToInvolvedPubkey = true
    }}
}}
"""


def _nostr_relay(tmp: Path) -> Iterator[str]:
    port = free_port()
    config = tmp / "nostr-relay.yaml"
    config.write_text(NOSTR_RELAY_CONFIG.format(db=tmp / "nostr-relay.sqlite3", port=port))
    exe = str(Path(sys.executable).parent / "nostr-relay")
    cmd = [exe, "-c", str(config), "serve", "--use-uvicorn"]
    yield from _subprocess(cmd, port, tmp)


def _strfry(tmp: Path) -> Iterator[str]:
    port = free_port()
    db = tmp / "strfry-db"
    db.mkdir()
    config = tmp / "strfry.conf"
    config.write_text(STRFRY_CONFIG.format(db=db, port=port))
    cmd = [STRFRY_BIN, f"--config={config}", "relay"]
    yield from _subprocess(cmd, port, tmp)


def _start(name: str, tmp_path: Path, relay_process: Callable[..., Any]) -> Iterator[CompatRelay]:
    if name == "mas-relay":
        yield CompatRelay(name, relay_process().url)
    elif name == "strfry-dialect":
        with dialect.DialectRelay() as relay:
            yield CompatRelay(name, relay.url)
    else:
        start = _nostr_relay if name == "nostr-relay" else _strfry
        for url in start(tmp_path):
            yield CompatRelay(name, url)


@pytest.fixture(params=RELAYS)
def compat_relay(
    request: pytest.FixtureRequest, tmp_path: Path, relay_process: Callable[..., Any]
) -> Iterator[CompatRelay]:
    yield from _start(request.param, tmp_path, relay_process)


@pytest.fixture(params=[name for name in RELAYS if "strfry" in name])
def strfry_like(
    request: pytest.FixtureRequest, tmp_path: Path, relay_process: Callable[..., Any]
) -> Iterator[CompatRelay]:
    """The dialect, and the real strfry beside it when there is one: what the dialect
    claims strfry does is checked against strfry itself."""
    yield from _start(request.param, tmp_path, relay_process)
