"""NIP-42 and gift wraps from the client's side, against a real `mas-relay` process.

A wrap is served only to the authenticated key its ``p`` tag names: an anonymous reader
is refused (CLOSED ``auth-required:``), another authenticated reader gets nothing, the
recipient gets it. Sending never needs the sender's own AUTH. NIP-17 DMs interoperate
with rust-nostr through the relay, both ways.
"""

from __future__ import annotations

from typing import Any

import nostr_sdk
import pytest

from shieldmutual.client import champions
from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool import Pool, PoolOptions, RelayState
from shieldmutual.shared import kinds, nip17, nip59
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

OPTIONS = PoolOptions(connect_timeout=5, ok_timeout=5, eose_timeout=5)


def _pool(url: str, auth: SecretKey | None = None) -> Pool:
    return Pool([url], options=OPTIONS, auth=auth)


def _sdk_keys(key: SecretKey) -> nostr_sdk.Keys:
    return nostr_sdk.Keys(nostr_sdk.SecretKey.from_bytes(key.secret))


async def test_wraps_reach_only_their_authenticated_recipient(relays: Any) -> None:
    (relay,) = relays(1)
    alice, bob, carol = SecretKey.generate(), SecretKey.generate(), SecretKey.generate()
    rumor = nip17.dm_rumor(alice.public_hex, [bob.public_hex], "for bob only")
    wrap = nip17.wrap_dm(alice, rumor, include_self=False)[bob.public_hex]
    note = sign(alice, kinds.TEXT_NOTE, "a public note")
    async with _pool(relay.url) as anonymous:  # sending needs no AUTH at all
        assert (await anonymous.publish(wrap)).ok()
        assert (await anonymous.publish(note)).ok()

        wanted = [Filter.from_dict({"kinds": [kinds.GIFT_WRAP], "#p": [bob.public_hex]})]
        async with anonymous.subscribe(wanted) as sub:
            assert [e async for e in sub] == []
        stats = sub.stats[relay.url]
        assert stats.status is RelayState.CLOSED and stats.message.startswith("auth-required:")
        # A mixed filter is answered, without the wrap.
        mixed = await anonymous.fetch(
            [Filter.from_dict({"kinds": [kinds.TEXT_NOTE, kinds.GIFT_WRAP]})]
        )
        assert [e.id for e in mixed] == [note.id]
        with pytest.raises(RelayError, match="auth-required"):
            await champions.inbox(anonymous, bob)

    async with _pool(relay.url, auth=carol) as as_carol:
        assert await as_carol.fetch(wanted) == []
        assert await as_carol.fetch([Filter.from_dict({"kinds": [kinds.GIFT_WRAP]})]) == []
        assert await champions.inbox(as_carol, carol) == []

    async with _pool(relay.url, auth=bob) as as_bob:
        assert [e.id for e in await as_bob.fetch(wanted)] == [wrap.id]
        (opened,) = await champions.inbox(as_bob, bob)
        assert opened.sender == alice.public_hex and opened.rumor.content == "for bob only"


async def test_dms_interoperate_with_rust_nostr_through_the_relay(relays: Any) -> None:
    (relay,) = relays(1)
    alice, bob = SecretKey.generate(), SecretKey.generate()
    theirs = nostr_sdk.nip17_make_private_msg(
        _sdk_keys(bob), nostr_sdk.PublicKey.parse(alice.public_hex), "from rust-nostr to mas"
    )
    ours = nip17.wrap_dm(alice, nip17.dm_rumor(alice.public_hex, [bob.public_hex], "from mas"))
    async with _pool(relay.url) as send:
        assert (await send.publish(Event.from_json(theirs.as_json()))).ok()
        assert (await send.publish(ours[bob.public_hex])).ok()

    async with _pool(relay.url, auth=alice) as as_alice:
        (opened,) = await champions.inbox(as_alice, alice)
    message = nip17.parse_dm(opened)
    assert (message.sender, message.content) == (bob.public_hex, "from rust-nostr to mas")

    async with _pool(relay.url, auth=bob) as as_bob:
        mine = Filter(kinds=frozenset({kinds.GIFT_WRAP}), tags={"p": frozenset({bob.public_hex})})
        (stored,) = await as_bob.fetch([mine])
    gift = nostr_sdk.UnwrappedGift.from_gift_wrap(
        _sdk_keys(bob), nostr_sdk.Event.from_json(stored.to_json().decode())
    )
    assert gift.sender().to_hex() == alice.public_hex
    assert gift.rumor().content() == "from mas"
    assert nip59.unwrap(bob, stored).rumor.kind == kinds.DIRECT_MESSAGE
