"""client/societies.py against a real relay: definitions published, found, discovered, and
a syndicate's members looked up by slug."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from shieldmutual.client import societies
from shieldmutual.client.aid import require_acks
from shieldmutual.client.errors import ClientError
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.request import request_event_template
from shieldmutual.shared.aid.society import Society
from shieldmutual.shared.event import sign

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_a_syndicate_names_its_members_by_address(
    relay: Any, keys: Any, rent_request: Any
) -> None:
    sam, bob = keys.alice, keys.bob
    connect = partial(Pool, [relay.url], options=OPTIONS)
    leeds, _ = await societies.publish_definition(connect, sam, Society("leeds-care", "Leeds"), [])
    york = Address(34550, bob.public_hex, "york-care")
    north, report = await societies.publish_definition(
        connect, sam, Society("north", "The North"), ["leeds-care", york]
    )
    require_acks(report)
    assert north.members == (leeds.address(sam.public_hex), york)

    (found,) = await societies.definitions(connect, "north")
    assert found.society.members == north.members and found.event.pubkey == sam.public_hex
    assert await societies.syndicate_members(connect, ["north"]) == {
        "north": ["leeds-care", "york-care"]
    }
    async with connect() as pool:
        require_acks(await pool.publish(sign(sam, *request_event_template(rent_request()))))
    discovered = await societies.discover(connect, limit=10)
    assert {r.society.slug for r in discovered.records} == {"leeds-care", "north"}
    assert discovered.requests["leeds-care"] == 1


async def test_two_descriptions_of_one_slug_need_a_choice(relay: Any, keys: Any) -> None:
    connect = partial(Pool, [relay.url], options=OPTIONS)
    for author in (keys.alice, keys.bob):
        await societies.publish_definition(connect, author, Society("york", "York"), [])
    found = await societies.definitions(connect, "york")
    with pytest.raises(ClientError, match="described by several people"):
        societies.pick_definition(found, "york")
    mine = societies.pick_definition(found, "york", keys.bob.public_hex)
    assert mine.event.pubkey == keys.bob.public_hex
    (only,) = await societies.definitions(connect, "york", [keys.alice.public_hex])
    assert only.event.pubkey == keys.alice.public_hex
