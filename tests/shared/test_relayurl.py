"""shared/relayurl.py: a relay URL with a control, bidi or space in it is refused wherever
it enters (the config rule, society definitions, champion packages, nostr pointers)."""

from __future__ import annotations

import pytest

from shieldmutual.shared.aid.champion import Package, check_package
from shieldmutual.shared.aid.common import check_relay
from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.society import parse_society
from shieldmutual.shared.aid.vouch import Attestation, attestation_template
from shieldmutual.shared.errors import AidError, InvalidError
from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip17 import parse_dm_relay_list
from shieldmutual.shared.relayurl import is_local_host, normalize_relay_url, relay_address

HOSTILE_URLS = [
    "wss://relay.example\x1b]0;pwned\x07",
    "wss://relay.example/\x1b[2J",
    "wss://relay.example/\x9b31m",
    "wss://relay.example/\x7f",
    "wss://\u202eelpmaxe.live",
    "wss://relay.example/\u2028x",
    "wss://relay.example/\u200b",
    "wss://relay.example/a b",
    "wss://relay.example\t",
    "wss://relay.example\n",
    "\x00wss://relay.example",
    "https://relay.example",
    "javascript:alert(1)",
    "wss://" + "a" * 600 + ".example",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_relay_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidError) as caught:
        normalize_relay_url(url)
    message = str(caught.value)
    assert message.isprintable(), message  # the refusal itself shows no raw escape
    with pytest.raises(AidError):
        check_relay(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wss://Relay.Example.org/", "wss://relay.example.org"),
        (" wss://a.example ", "wss://a.example"),
        ("localhost:7777", "ws://localhost:7777"),
        ("wss://relé.example/path?x=1", "wss://relé.example/path?x=1"),
    ],
)
def test_ordinary_relay_urls_are_normalized(url: str, expected: str) -> None:
    assert normalize_relay_url(url) == expected


def test_an_event_keeps_its_relay_as_written() -> None:
    assert check_relay("wss://Relay.Example/") == "wss://Relay.Example/"
    with pytest.raises(AidError):
        check_relay(" wss://relay.example")


@pytest.mark.parametrize("url", HOSTILE_URLS[:8])
def test_a_society_definition_with_a_hostile_relay_is_refused(url: str) -> None:
    tags = [["d", "leeds"], ["t", "mas-leeds"], ["name", "Leeds"], ["relay", url]]
    event = sign(SecretKey(b"\x01" * 32), 34550, "", tags, created_at=1_700_000_000)
    with pytest.raises(AidError, match="relay must be"):
        parse_society(event)


def test_a_dm_relay_list_keeps_only_valid_relay_urls() -> None:
    tags = [["relay", url] for url in [*HOSTILE_URLS, "wss://Dm.Example/", "wss://dm.example"]]
    event = sign(SecretKey(b"\x02" * 32), 10050, "", tags, created_at=1_700_000_000)
    assert parse_dm_relay_list(event) == ["wss://dm.example"]


@pytest.mark.parametrize("url", HOSTILE_URLS[:8])
def test_a_champion_package_with_a_hostile_relay_is_refused(url: str) -> None:
    member, emergency = SecretKey(b"\x03" * 32), SecretKey(b"\x04" * 32)
    attestation = sign(member, *attestation_template(Attestation(emergency.public_hex)))
    request = AidRequest("Bail", "Sam was arrested.", "At the vigil.", "Leeds")
    package = Package(
        member.public_hex, emergency.secret.hex(), attestation, render_template(request), 3600
    )
    assert check_package(package) == package
    with pytest.raises(AidError, match="relay must be"):
        Package.from_dict({**package.to_dict(), "relays": ["wss://relay.example", url]})


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
def test_relay_address_is_host_and_port_with_the_default_port_as_none(
    url: str, address: tuple[str, int | None] | None
) -> None:
    assert relay_address(url) == address


@pytest.mark.parametrize(
    "host", ["localhost", "LocalHost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "0:0:0:0:0:0:0:1"]
)
def test_loopback_hosts_are_local(host: str) -> None:
    assert is_local_host(host)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1.nip.io", "127.evil.example", "relay.example", "10.0.0.1", "::2", "", "127."],
)
def test_a_dns_name_that_starts_like_loopback_is_not_local(host: str) -> None:
    """Finding: ``host.startswith("127.")`` took the DNS name ``127.0.0.1.nip.io`` (any
    address its owner likes) for this machine, so a relay named so in a society or a
    nevent hint was dialled without the environment's proxy, revealing the user's IP."""
    assert not is_local_host(host)


def test_a_scheme_less_dns_name_that_starts_like_loopback_gets_wss() -> None:
    assert normalize_relay_url("127.0.0.1.nip.io:7777") == "wss://127.0.0.1.nip.io:7777"
    assert normalize_relay_url("127.0.0.1:7777") == "ws://127.0.0.1:7777"
