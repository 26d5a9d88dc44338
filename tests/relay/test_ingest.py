"""relay/ingest.py: NIP-42 AUTH events and the relay addresses they may name."""

from __future__ import annotations

import time

import pytest

from shieldmutual.relay.ingest import check_auth, relay_address
from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey

ALICE = SecretKey(bytes([1]) * 32)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("ws://127.0.0.1:7777", ("127.0.0.1", 7777)),
        ("WS://Relay.Example.org:7777/", ("relay.example.org", 7777)),
        ("wss://relay.example.org", ("relay.example.org", None)),
        ("wss://relay.example.org:443/nostr", ("relay.example.org", None)),
        ("ws://relay.example.org:80", ("relay.example.org", None)),
        ("ws://[::1]:7777", ("::1", 7777)),
        ("relay.example.org:7777", ("relay.example.org", 7777)),
        ("ws://", None),
        ("ws://host:notaport", None),
    ],
)
def test_relay_address(url, address):
    assert relay_address(url) == address


def test_check_auth_happy_path_and_window():
    now = int(time.time())
    tags = [["relay", "ws://127.0.0.1:7777"], ["challenge", "c"]]
    here = {("127.0.0.1", 7777)}
    assert check_auth(sign(ALICE, 22242, "", tags, created_at=now), "c", here, now) is None
    late = sign(ALICE, 22242, "", tags, created_at=now - 601)
    assert "minutes" in (check_auth(late, "c", here, now) or "")
    early = sign(ALICE, 22242, "", tags, created_at=now + 601)
    assert "minutes" in (check_auth(early, "c", here, now) or "")
