"""shared/nip42.py: the AUTH answer a client signs, and the relay's check of it (kind
22242, the challenge it was sent, a relay tag naming this relay, dated near now, signed)."""

from __future__ import annotations

import pytest

from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip01prefix import BAD_ID, BAD_SIGNATURE
from shieldmutual.shared.nip42 import AUTH_WINDOW, auth_event, check_auth

KEY = SecretKey(bytes.fromhex("11" * 32))
NOW = 1_700_000_000
HERE = frozenset({("127.0.0.1", 7777), ("relay.example", None)})
TAGS = [["relay", "ws://127.0.0.1:7777"], ["challenge", "c"]]


def answer(tags: list[list[str]] = TAGS, kind: int = 22242, at: int = NOW) -> Event:
    return sign(KEY, kind, "", tags, created_at=at)


def test_the_answer_names_the_relay_and_the_challenge_and_verifies() -> None:
    event = auth_event(KEY, "wss://relay.example", "challenge-123")
    assert event.kind == 22242
    assert event.content == ""
    assert event.tags == [["relay", "wss://relay.example"], ["challenge", "challenge-123"]]
    assert event.pubkey == KEY.public_hex
    assert event.is_valid()


def test_the_built_answer_passes_the_relays_check() -> None:
    event = auth_event(KEY, "wss://Relay.Example:443/", "c")
    assert check_auth(event, "c", HERE, event.created_at) is None


@pytest.mark.parametrize("skew", [-AUTH_WINDOW, 0, AUTH_WINDOW])
def test_an_answer_dated_within_the_window_is_accepted(skew: int) -> None:
    assert check_auth(answer(at=NOW + skew), "c", HERE, NOW) is None


@pytest.mark.parametrize("skew", [-AUTH_WINDOW - 1, AUTH_WINDOW + 1])
def test_an_answer_dated_outside_the_window_is_refused(skew: int) -> None:
    assert check_auth(answer(at=NOW + skew), "c", HERE, NOW) == (
        "invalid: AUTH event must be dated within 10 minutes of now"
    )


@pytest.mark.parametrize(
    ("event", "refusal"),
    [
        (answer(kind=1), "invalid: AUTH event must be kind 22242"),
        (answer([["relay", "ws://127.0.0.1:7777"], ["challenge", "other"]]), "challenge"),
        (answer([["relay", "ws://127.0.0.1:7777"]]), "challenge"),
        (answer([["challenge", "c"]]), "invalid: AUTH event needs a 'relay' tag"),
        (answer([["relay", "ws://127.0.0.1:7778"], ["challenge", "c"]]), "another relay"),
        (answer([["relay", "wss://evil.example"], ["challenge", "c"]]), "another relay"),
        (answer([["relay", "ws://"], ["challenge", "c"]]), "another relay"),
    ],
)
def test_a_wrong_answer_is_refused_as_invalid(event: Event, refusal: str) -> None:
    message = check_auth(event, "c", HERE, NOW)
    assert message is not None
    assert message.startswith("invalid: ")
    assert refusal in message


def test_a_tampered_answer_is_refused_for_its_id_then_its_signature() -> None:
    good = answer()
    moved = Event(good.id, good.pubkey, good.created_at + 1, good.kind, good.tags, "", good.sig)
    assert check_auth(moved, "c", HERE, NOW) == BAD_ID
    forged = Event(good.id, good.pubkey, good.created_at, good.kind, good.tags, "", "00" * 64)
    assert check_auth(forged, "c", HERE, NOW) == BAD_SIGNATURE
