"""NIP-17 DMs: kind 14 rumors wrapped per recipient, the 10050 list, and rust-nostr both ways."""

from __future__ import annotations

import nostr_sdk
import pytest

from shieldmutual.shared import kinds, nip17, nip59
from shieldmutual.shared.errors import EventError
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

ALICE, BOB, CAROL = SecretKey.generate(), SecretKey.generate(), SecretKey.generate()


def _sdk_keys(key: SecretKey) -> nostr_sdk.Keys:
    return nostr_sdk.Keys(nostr_sdk.SecretKey.from_bytes(key.secret))


def test_group_message_is_wrapped_for_each_recipient_and_the_sender():
    rumor = nip17.dm_rumor(
        ALICE.public_hex, [BOB.public_hex, CAROL.public_hex], "hi both", subject="plans"
    )
    wraps = nip17.wrap_dm(ALICE, rumor)
    assert set(wraps) == {BOB.public_hex, CAROL.public_hex, ALICE.public_hex}
    for owner, key in ((BOB.public_hex, BOB), (CAROL.public_hex, CAROL), (ALICE.public_hex, ALICE)):
        assert wraps[owner].tags == [["p", owner]]
        message = nip17.parse_dm(nip59.unwrap(key, wraps[owner]))
        assert message.sender == ALICE.public_hex
        assert message.recipients == (BOB.public_hex, CAROL.public_hex)
        assert (message.content, message.subject, message.id) == ("hi both", "plans", rumor.id)
    assert set(nip17.wrap_dm(ALICE, rumor, include_self=False)) == {
        BOB.public_hex,
        CAROL.public_hex,
    }


def test_reply_and_validation():
    rumor = nip17.dm_rumor(ALICE.public_hex, [BOB.public_hex], "yes", reply_to="ab" * 32)
    message = nip17.parse_dm(nip59.unwrap(BOB, nip17.wrap_dm(ALICE, rumor)[BOB.public_hex]))
    assert message.reply_to == "ab" * 32
    with pytest.raises(EventError, match="recipient"):
        nip17.dm_rumor(ALICE.public_hex, [], "x")
    with pytest.raises(EventError, match="text"):
        nip17.dm_rumor(ALICE.public_hex, [BOB.public_hex], "")
    other = nip59.make_rumor(ALICE.public_hex, 1, "note")
    with pytest.raises(EventError, match="kind 14"):
        nip17.parse_dm(nip59.unwrap(BOB, nip59.wrap(ALICE, BOB.public_hex, other)))


def test_dm_relay_list():
    event = nip17.dm_relay_list(ALICE, ["wss://a.example", "wss://b.example", "wss://a.example"])
    assert event.kind == kinds.DM_RELAY_LIST and event.is_valid()
    assert nip17.parse_dm_relay_list(event) == ["wss://a.example", "wss://b.example"]
    rust = nostr_sdk.nip17_extract_relay_list(nostr_sdk.Event.from_json(event.to_json().decode()))
    assert [str(url).rstrip("/") for url in rust] == ["wss://a.example", "wss://b.example"]
    with pytest.raises(EventError):
        nip17.dm_relay_list(ALICE, [])
    with pytest.raises(EventError, match="10050"):
        nip17.parse_dm_relay_list(sign(ALICE, 1, ""))


def test_rust_nostr_reads_our_dm():
    rumor = nip17.dm_rumor(ALICE.public_hex, [BOB.public_hex], "sent by mas, read by rust")
    wrapped = nip17.wrap_dm(ALICE, rumor)[BOB.public_hex]
    gift = nostr_sdk.UnwrappedGift.from_gift_wrap(
        _sdk_keys(BOB), nostr_sdk.Event.from_json(wrapped.to_json().decode())
    )
    assert gift.sender().to_hex() == ALICE.public_hex
    assert gift.rumor().kind().as_u16() == 14
    assert gift.rumor().content() == "sent by mas, read by rust"


def test_we_read_rust_nostrs_dm():
    made = nostr_sdk.nip17_make_private_msg(
        _sdk_keys(BOB), nostr_sdk.PublicKey.parse(ALICE.public_hex), "sent by rust, read by mas"
    )
    message = nip17.parse_dm(nip59.unwrap(ALICE, Event.from_json(made.as_json())))
    assert message.sender == BOB.public_hex
    assert message.recipients == (ALICE.public_hex,)
    assert message.content == "sent by rust, read by mas"
