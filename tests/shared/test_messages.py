"""Every NIP-01 message parses and encodes both ways, with prefixed errors."""

from __future__ import annotations

import orjson
import pytest

from shieldmutual.shared.event import sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.messages import (
    ClientAuth,
    ClientClose,
    ClientCount,
    ClientEvent,
    ClientReq,
    ParseError,
    RelayAuth,
    RelayClosed,
    RelayCount,
    RelayEose,
    RelayEvent,
    RelayNotice,
    RelayOk,
    event_frame,
    parse_client_message,
    parse_relay_message,
)

KEY = SecretKey(bytes.fromhex("33" * 32))
EVENT = sign(KEY, 1, "hi", [["t", "mas-x"]], created_at=1700000000)
FILTER = Filter(kinds=frozenset({1}), tags={"t": frozenset({"mas-x"})}, limit=5)


@pytest.mark.parametrize(
    "message",
    [
        ClientEvent(EVENT),
        ClientReq("sub", (FILTER, Filter())),
        ClientCount("c1", (FILTER,)),
        ClientClose("sub"),
        ClientAuth(EVENT),
    ],
)
def test_client_messages_round_trip(message: object) -> None:
    assert parse_client_message(message.encode()) == message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "message",
    [
        RelayEvent("sub", EVENT),
        RelayOk(EVENT.id, True, ""),
        RelayOk(EVENT.id, False, "invalid: bad signature"),
        RelayEose("sub"),
        RelayClosed("sub", "auth-required: log in first"),
        RelayNotice("hello"),
        RelayAuth("challenge-1"),
        RelayCount("c1", 42),
    ],
)
def test_relay_messages_round_trip(message: object) -> None:
    assert parse_relay_message(message.encode()) == message  # type: ignore[attr-defined]


def test_ok_always_has_four_elements_and_a_prefix() -> None:
    encoded = orjson.loads(RelayOk(EVENT.id, True).encode())
    assert encoded == ["OK", EVENT.id, True, ""]
    assert RelayOk(EVENT.id, True, "duplicate: already have it").prefix == "duplicate"
    assert RelayOk(EVENT.id, False, "no prefix here").prefix == ""


def test_event_frame_matches_the_ordinary_encoding() -> None:
    framed = event_frame("sub", EVENT.to_json())
    assert orjson.loads(framed) == orjson.loads(RelayEvent("sub", EVENT).encode())


@pytest.mark.parametrize(
    ("text", "message", "sub_id", "event_id"),
    [
        (b"not json", None, None, None),
        (b"{}", "message must be a JSON array starting with a verb string", None, None),
        (b"[]", "message must be a JSON array starting with a verb string", None, None),
        (b"[1]", "message must be a JSON array starting with a verb string", None, None),
        (b'["HELLO"]', "unknown message type 'HELLO'", None, None),
        (b'["REQ"]', "REQ needs a subscription id", None, None),
        (b'["REQ",""]', "subscription id must be a string of 1 to 64 chars", None, None),
        (b'["REQ",' + b'"' + b"s" * 65 + b'"]', None, None, None),
        (b'["REQ",7,{}]', "subscription id must be a string of 1 to 64 chars", None, None),
        (b'["REQ","s"]', "REQ needs at least one filter", "s", None),
        (
            b'["REQ","s",{"kinds":"1"}]',
            "filter 'kinds' must be integers from 0 to 65535",
            "s",
            None,
        ),
        (b'["COUNT","c",[]]', "filter must be a JSON object", "c", None),
        (b'["CLOSE"]', "CLOSE takes exactly one subscription id", None, None),
        (b'["EVENT"]', "EVENT takes exactly one event", None, None),
        (b'["EVENT",{"id":"x"}]', "event is missing field 'pubkey'", None, "x"),
        (b'["AUTH",5]', "event must be a JSON object", None, None),
    ],
)
def test_client_parse_errors(
    text: bytes, message: str | None, sub_id: str | None, event_id: str | None
) -> None:
    with pytest.raises(ParseError) as info:
        parse_client_message(text)
    error = info.value
    if message is not None:
        assert str(error) == message
    assert error.wire().startswith("invalid: ")
    assert error.subscription_id == sub_id
    assert error.event_id == event_id


@pytest.mark.parametrize(
    "text",
    [
        b'["OK","abc",true]',
        b'["OK","abc","true",""]',
        b'["EOSE"]',
        b'["COUNT","c",{"count":"1"}]',
        b'["EVENT","s",{}]',
        b'["NOTICE",1]',
        b'["WHAT"]',
    ],
)
def test_relay_parse_errors(text: bytes) -> None:
    with pytest.raises(ParseError):
        parse_relay_message(text)


def test_closed_without_reason_is_tolerated() -> None:
    assert parse_relay_message(b'["CLOSED","s"]') == RelayClosed("s", "")
