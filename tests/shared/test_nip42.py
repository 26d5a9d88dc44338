"""The NIP-42 answer to a challenge: kind 22242, the relay and challenge tags, signed."""

from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.nip42 import auth_event

KEY = SecretKey(bytes.fromhex("11" * 32))


def test_the_answer_names_the_relay_and_the_challenge_and_verifies() -> None:
    event = auth_event(KEY, "wss://relay.example", "challenge-123")
    assert event.kind == 22242
    assert event.content == ""
    assert event.tags == [["relay", "wss://relay.example"], ["challenge", "challenge-123"]]
    assert event.pubkey == KEY.public_hex
    assert event.is_valid()
