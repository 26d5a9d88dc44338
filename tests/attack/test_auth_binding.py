"""Issue 10 #5: NIP-42 AUTH must name this relay, whatever Host header the client sent.

The relay used to add each client's Host header to the names it answers to, so a
malicious relay at evil.example could forward our challenge to alice, get her AUTH
event for ``wss://evil.example`` and replay it here over a connection that claims
``Host: evil.example``, then read alice's gift wraps.
"""

from __future__ import annotations

import hashlib

import pytest

from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey

PUBLIC_URL = "wss://relay.example.org"


@pytest.mark.parametrize("config", ["", f'[server]\nurl = "{PUBLIC_URL}"\n'], ids=["no-url", "url"])
async def test_auth_for_the_host_header_is_refused_and_serves_no_wraps(
    arena, connect, keys, config
):
    relay = await arena(config)
    alice = keys.alice.public_hex
    sender = await connect(relay.url)
    one_time = SecretKey(hashlib.sha256(b"auth-binding-wrap").digest())
    wrap = sign(one_time, 1059, "opaque", [["p", alice]])
    assert (await sender.publish(wrap))[2] is True

    evil = await connect("ws://evil.example", host="127.0.0.1", port=relay.port, proxy=None)
    ok = await evil.auth(keys.alice, "wss://evil.example")
    assert ok[2] is False, ok
    assert ok[3].startswith("invalid:"), ok
    reply = await evil.refused("REQ", "wraps", {"kinds": [1059], "#p": [alice]})
    assert reply.startswith("auth-required:"), reply
    served = await evil.req("any", {"#p": [alice]})
    assert wrap.id not in {e["id"] for e in served}

    # The relay's own name still works, so the refusal above is about the name alone.
    own = PUBLIC_URL if config else relay.url
    honest = await connect(relay.url)
    assert (await honest.auth(keys.alice, own))[2] is True
    assert [e["id"] for e in await honest.req("mine", {"kinds": [1059], "#p": [alice]})] == [
        wrap.id
    ]
    await relay.finish()
