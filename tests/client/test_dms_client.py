"""client/dms.py against a real relay: your inbox (as you, NIP-42) and your DM relay list."""

from __future__ import annotations

from functools import partial
from typing import Any

from shieldmutual.client import dms
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared import nip17, nip59
from shieldmutual.shared.aid.champion import checkin_rumor

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_the_inbox_opens_messages_and_hides_champion_traffic(relay: Any, keys: Any) -> None:
    sam, bob, carol = keys.alice, keys.bob, keys.carol
    send = partial(Pool, [relay.url], options=OPTIONS, auth=sam)
    wraps = [
        nip59.wrap(sam, bob.public_hex, nip17.dm_rumor(sam.public_hex, [bob.public_hex], "hi")),
        nip59.wrap(sam, bob.public_hex, checkin_rumor(sam.public_hex, bob.public_hex, 3600)),
        nip59.wrap(carol, bob.public_hex, nip17.dm_rumor(carol.public_hex, [bob.public_hex], "c")),
    ]
    async with send() as pool:
        for wrap in wraps:
            assert (await pool.publish(wrap)).ok(1)

    connect = partial(Pool, [relay.url], options=OPTIONS, auth=bob)
    shown = await dms.read_messages(connect, bob)
    assert sorted(m.content for m in shown) == ["c", "hi"]
    everything = await dms.read_messages(connect, bob, champion_traffic=True)
    assert len(everything) == 3
    only_sam = await dms.read_messages(connect, bob, sender=sam.public_hex)
    assert [m.content for m in only_sam] == ["hi"]


async def test_the_dm_relay_list_is_published_then_found(relay: Any, keys: Any) -> None:
    me = keys.alice
    connect = partial(Pool, [relay.url], options=OPTIONS)
    assert await dms.relay_list(connect, me.public_hex) == []
    listed = nip17.dm_relay_list(me, ["wss://inbox.example"])
    assert (await dms.publish_relay_list(connect, listed)).ok(1)
    assert await dms.relay_list(connect, me.public_hex) == ["wss://inbox.example"]
