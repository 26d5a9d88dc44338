"""Issue 10 #4: an unauthenticated client must learn nothing about someone's gift wraps.

The relay used to apply a filter's ``limit`` (and COUNT) before removing the wraps the
client may not see, so ``{"#p": [alice], "limit": n}`` came back short by exactly the
number of alice's wraps among the newest n, and bisecting ``until`` dated each one. The
test asks the same questions of two relays holding the same public notes, one of them
also holding wraps for alice (stored by an authenticated sender), and wants the same
answers from both.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

NOW = int(time.time())
START = NOW - 200  # everything below is dated in [START, NOW - 5]


def wraps_for(recipient: str) -> list[Event]:
    """Kind 1059 events as they look on the wire: a one-time key, the recipient's p tag,
    opaque content; dated between and after the public notes."""
    out = []
    for i, at in enumerate((START + 15, START + 55, START + 95, START + 135, NOW - 5)):
        one_time = SecretKey(hashlib.sha256(b"wrap-key-%d" % i).digest())
        out.append(sign(one_time, 1059, f"opaque-ciphertext-{i}", [["p", recipient]], at))
    return out


async def transcript(client: Any, alice: str) -> list[Any]:
    """Every answer an unauthenticated observer gets to questions about alice."""
    answers: list[Any] = []

    async def ask(verb: str, sub_id: str, flt: dict[str, Any]) -> None:
        await client.send(verb, sub_id, flt)
        if verb == "COUNT":
            reply = await client.expect(lambda m: m[0] in ("COUNT", "CLOSED") and m[1] == sub_id)
            answers.append([flt, reply[0], reply[2]])
            return
        events: list[str] = []
        while True:
            reply = await client.expect(
                lambda m: m[0] in ("EVENT", "EOSE", "CLOSED") and m[1] == sub_id
            )
            if reply[0] == "EVENT":
                events.append(reply[2]["id"])
                continue
            answers.append([flt, reply[0], events, reply[2] if reply[0] == "CLOSED" else None])
            await client.send("CLOSE", sub_id)
            return

    for n in range(1, 9):
        await ask("REQ", f"limit{n}", {"#p": [alice], "limit": n})
        await ask("REQ", f"mixed{n}", {"#p": [alice], "kinds": [1, 1059], "limit": n})
    for until in range(START, NOW + 1, 10):  # bisecting by time, one step at a time
        await ask("REQ", f"until{until}", {"#p": [alice], "until": until, "limit": 1})
    await ask("COUNT", "count", {"#p": [alice]})
    await ask("COUNT", "count-mixed", {"#p": [alice], "kinds": [1, 1059]})
    await ask("COUNT", "count-since", {"#p": [alice], "since": START + 50})
    await ask("COUNT", "count-wraps", {"#p": [alice], "kinds": [1059]})
    await ask("REQ", "wraps", {"#p": [alice], "kinds": [1059]})
    return answers


async def test_limits_counts_and_until_reveal_nothing_about_wraps(arena, connect, keys):
    alice = keys.alice.public_hex
    notes = [
        sign(keys.carol, 1, f"public note {i} for alice", [["p", alice]], START + 40 * i)
        for i in range(5)
    ]
    answers = []
    for with_wraps in (True, False):
        relay = await arena()
        carol = await connect(relay.url)
        for event in notes:
            assert (await carol.publish(event))[2] is True
        if with_wraps:
            sender = await connect(relay.url)
            assert (await sender.auth(keys.bob, relay.url))[2] is True
            for event in wraps_for(alice):
                assert (await sender.publish(event))[2] is True
        observer = await connect(relay.url)
        answers.append(await transcript(observer, alice))
        await relay.finish()
    with_wraps, without = answers
    differing = [(a, b) for a, b in zip(with_wraps, without, strict=True) if a != b]
    assert differing == [], f"{len(differing)} answers differ, first: {differing[:2]}"
