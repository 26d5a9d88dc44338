"""Issue 10 #1: timestamps past SQLite's 64-bit integers in a filter.

``since >= 2**63`` or ``until = 2**64 - 1`` used to reach SQLite's parameter binding,
which raised OverflowError inside the query task: no reply at all, a traceback in the
log, and the subscription stayed registered for live events.
"""

from __future__ import annotations

from typing import Any

HUGE = [
    ("since-2^63", {"since": 2**63}),
    ("until-2^64-1", {"until": 2**64 - 1}),
    ("both", {"kinds": [1], "since": 2**63, "until": 2**64 - 1}),
]


async def closed_reply(client: Any, verb: str, sub_id: str, flt: dict[str, Any]) -> list[Any]:
    """Send REQ or COUNT; the relay's first answer about ``sub_id``."""
    await client.send(verb, sub_id, flt)
    return await client.expect(lambda m: m[0] in ("EOSE", "COUNT", "CLOSED") and m[1] == sub_id)


async def test_out_of_range_timestamps_are_refused_and_hold_no_subscription(
    arena, connect, note, keys
):
    relay = await arena()
    attacker = await connect(relay.url)
    for sub_id, flt in HUGE:
        for verb in ("REQ", "COUNT"):
            reply = await closed_reply(attacker, verb, f"{verb}-{sub_id}", flt)
            assert reply[0] == "CLOSED", f"{verb} {flt}: {reply}"
            assert reply[2].startswith("invalid:"), reply
    # A note every one of those filters' other fields would match: none may deliver it.
    publisher = await connect(relay.url)
    ok = await publisher.publish(note(keys.bob, "live after the refusals"))
    assert ok[2] is True, ok
    delivered = [m for m in await attacker.barrier() if m[0] == "EVENT"]
    assert delivered == []
    await relay.canary_rounds(5)
    await relay.finish()
