"""NIP-59 gift wraps: every layer checked, timestamps hidden, and rust-nostr agrees both ways."""

from __future__ import annotations

import time

import nostr_sdk
import orjson
import pytest

from shieldmutual.shared import kinds, nip44, nip59
from shieldmutual.shared.errors import CryptoError, EventError
from shieldmutual.shared.event import Event, Rumor, sign
from shieldmutual.shared.keys import SecretKey

ALICE, BOB, EVE = SecretKey.generate(), SecretKey.generate(), SecretKey.generate()


def _rumor(text: str = "hello", author: SecretKey = ALICE) -> nip59.Rumor:
    return nip59.make_rumor(author.public_hex, 14, text, [["p", BOB.public_hex]])


def test_round_trip_reveals_sender_and_rumor_to_the_recipient_only():
    rumor = _rumor()
    wrapped = nip59.wrap(ALICE, BOB.public_hex, rumor)
    assert wrapped.kind == kinds.GIFT_WRAP and wrapped.is_valid()
    assert wrapped.tags == [["p", BOB.public_hex]]
    assert wrapped.pubkey not in (ALICE.public_hex, BOB.public_hex)  # one-time key
    opened = nip59.unwrap(BOB, wrapped)
    assert opened.sender == ALICE.public_hex
    assert opened.rumor == rumor and opened.wrap_id == wrapped.id
    assert opened.seal.kind == kinds.SEAL and opened.seal.tags == []
    with pytest.raises(CryptoError):
        nip59.unwrap(EVE, wrapped)
    assert nip59.try_unwrap(EVE, wrapped) is None
    # Nothing readable on the outside: not the text, not the author.
    outside = wrapped.to_json().decode()
    assert "hello" not in outside and ALICE.public_hex not in outside


def test_every_wrap_uses_a_fresh_key_and_past_timestamps():
    now = int(time.time())
    wraps = [nip59.wrap(ALICE, BOB.public_hex, _rumor(), now=now) for _ in range(20)]
    assert len({w.pubkey for w in wraps}) == 20
    for w in wraps:
        assert now - nip59.MAX_TWEAK <= w.created_at <= now
        assert now - nip59.MAX_TWEAK <= nip59.unwrap(BOB, w).seal.created_at <= now
    # Randomized, not a constant offset: 20 draws over 172801 values are not all equal.
    assert len({w.created_at for w in wraps}) > 1


def test_rumor_is_unsigned_and_its_id_is_checked():
    rumor = _rumor()
    assert "sig" not in rumor.to_dict()
    assert nip59.Rumor.from_dict(rumor.to_dict()) == rumor
    no_id = {k: v for k, v in rumor.to_dict().items() if k != "id"}
    assert nip59.Rumor.from_dict(no_id).id == rumor.id
    with pytest.raises(EventError, match="rumor id"):
        nip59.Rumor.from_dict({**rumor.to_dict(), "content": "changed"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "14"}, "kind"),
        ({"pubkey": "A" * 64}, "pubkey"),
        ({"tags": [["p", 1]]}, "tag"),
        ({"created_at": -1}, "created_at"),
        ({"content": None}, "content"),
    ],
)
def test_a_rumor_is_checked_by_its_own_rules_without_a_signature(change, message):
    """Issue 16 point 8: no zero-signature shim; the rumor's field rules are the event's."""
    with pytest.raises(EventError, match=message):
        Rumor.from_dict({**_rumor().to_dict(), **change})
    data = {k: v for k, v in _rumor().to_dict().items() if k != "kind"}
    with pytest.raises(EventError, match="rumor is missing field 'kind'"):
        Rumor.from_dict(data)


def test_a_signed_event_is_a_rumor_with_a_signature():
    """One unsigned event type: whatever reads a rumor reads a signed event too."""
    event = sign(ALICE, 1, "hi", [["t", "x"]])
    assert isinstance(event, Rumor)
    assert Rumor.from_dict(event.to_dict()).to_dict() == {
        k: v for k, v in event.to_dict().items() if k != "sig"
    }
    assert nip59.Rumor is Rumor


def test_a_rumor_claiming_another_author_is_refused():
    """Eve seals a rumor that says Alice wrote it: the seal's signer gives her away."""
    forged = _rumor(author=ALICE)
    key = nip44.get_conversation_key(EVE.secret, BOB.public_key)
    bad_seal = sign(EVE, kinds.SEAL, nip44.encrypt(forged.to_json().decode(), key), [])
    wrapped = nip59.gift_wrap(bad_seal, BOB.public_hex)
    with pytest.raises(EventError, match="impersonation"):
        nip59.unwrap(BOB, wrapped)
    with pytest.raises(EventError, match="rumor's author"):
        nip59.seal(EVE, BOB.public_hex, forged)


def test_tampered_or_wrong_layers_are_refused():
    wrapped = nip59.wrap(ALICE, BOB.public_hex, _rumor())
    data = wrapped.to_dict()
    with pytest.raises(EventError):  # content changed: id no longer matches
        nip59.unwrap(BOB, Event.from_dict({**data, "content": data["content"][:-4] + "AAA="}))
    not_a_wrap = sign(ALICE, 1, "hi")
    with pytest.raises(EventError, match="1059"):
        nip59.unwrap(BOB, not_a_wrap)
    # A wrap whose inside is not a seal.
    one_time = SecretKey.generate()
    inner = sign(ALICE, 1, "not a seal").to_json().decode()
    key = nip44.get_conversation_key(one_time.secret, BOB.public_key)
    odd = sign(one_time, kinds.GIFT_WRAP, nip44.encrypt(inner, key), [["p", BOB.public_hex]])
    with pytest.raises(EventError, match="seal is kind"):
        nip59.unwrap(BOB, odd)


def test_extra_tags_ride_on_the_wrap():
    wrapped = nip59.wrap(ALICE, BOB.public_hex, _rumor(), extra_tags=[["expiration", "9"]])
    assert wrapped.tags == [["p", BOB.public_hex], ["expiration", "9"]]


# --- rust-nostr, an independent implementation ------------------------------------------


def _sdk_keys(key: SecretKey) -> nostr_sdk.Keys:
    return nostr_sdk.Keys(nostr_sdk.SecretKey.from_bytes(key.secret))


def test_rust_nostr_unwraps_our_gift_wrap():
    rumor = _rumor("from mas to rust")
    wrapped = nip59.wrap(ALICE, BOB.public_hex, rumor)
    theirs = nostr_sdk.UnwrappedGift.from_gift_wrap(
        _sdk_keys(BOB), nostr_sdk.Event.from_json(wrapped.to_json().decode())
    )
    assert theirs.sender().to_hex() == ALICE.public_hex
    assert orjson.loads(theirs.rumor().as_json()) == rumor.to_dict()


def test_we_unwrap_rust_nostrs_gift_wrap():
    their_rumor = (
        nostr_sdk.EventBuilder(nostr_sdk.Kind(14), "from rust to mas")
        .tags([nostr_sdk.Tag.public_key(nostr_sdk.PublicKey.parse(BOB.public_hex))])
        .finalize_unsigned(_sdk_keys(ALICE).public_key())
        .ensure_id()
    )
    made = nostr_sdk.nip59_make_gift_wrap(
        _sdk_keys(ALICE), nostr_sdk.PublicKey.parse(BOB.public_hex), their_rumor
    )
    opened = nip59.unwrap(BOB, Event.from_json(made.as_json()))
    assert opened.sender == ALICE.public_hex
    assert opened.rumor.content == "from rust to mas"
    assert opened.rumor.id == their_rumor.id().to_hex()
