"""What dialect.py says strfry does, on the wire: run against the dialect, and against the
real strfry too when ``STRFRY_BIN`` names one, so the record is checked against strfry."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import websockets

from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey

AUTH_REFUSAL = "ERROR: auth-required: requested filter requires authentication"


class Wire:
    """One raw websocket client: send messages, read the relay's next one."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, *message: Any) -> None:
        await self.ws.send(orjson.dumps(list(message)).decode())

    async def recv(self) -> list[Any]:
        return list(orjson.loads(await asyncio.wait_for(self.ws.recv(), 10)))

    async def publish(self, event: Event) -> list[Any]:
        await self.send("EVENT", event.to_dict())
        return await self.recv()

    async def auth(self, key: SecretKey, url: str, challenge: str) -> list[Any]:
        tags = [["relay", url], ["challenge", challenge]]
        return await self.publish_auth(sign(key, 22242, "", tags))

    async def publish_auth(self, event: Event) -> list[Any]:
        await self.send("AUTH", event.to_dict())
        return await self.recv()


@contextlib.asynccontextmanager
async def wire(url: str) -> AsyncIterator[Wire]:
    async with websockets.connect(url) as ws:
        yield Wire(ws)


async def test_no_challenge_on_connect_then_challenge_and_closed_for_a_wrap_req(
    strfry_like: Any,
) -> None:
    me = SecretKey.generate()
    mine = me.public_hex
    async with wire(strfry_like.url) as relay:
        await relay.send("REQ", "notes", {"kinds": [1], "limit": 1})
        assert await relay.recv() == ["EOSE", "notes"]  # nothing came before it
        await relay.send("REQ", "dms", {"kinds": [1059], "#p": [mine]})
        kind, challenge = await relay.recv()
        assert kind == "AUTH" and isinstance(challenge, str) and challenge
        assert await relay.recv() == ["CLOSED", "dms", AUTH_REFUSAL]
        answer = await relay.auth(me, strfry_like.url, challenge)
        assert answer[2:] == [True, "successfully authenticated"]
        await relay.send("REQ", "dms", {"kinds": [1059], "#p": [mine]})
        assert await relay.recv() == ["EOSE", "dms"]


async def test_a_wrap_goes_only_to_its_recipient_and_mixed_reqs_drop_it_silently(
    strfry_like: Any,
) -> None:
    bob, carol = SecretKey.generate(), SecretKey.generate()
    bob_hex = bob.public_hex
    wrap = sign(SecretKey.generate(), 1059, "ciphertext", [["p", bob_hex]])
    note = sign(SecretKey.generate(), 1, "public", [["p", bob_hex]])
    async with wire(strfry_like.url) as relay:
        assert (await relay.publish(wrap))[2] is True
        assert (await relay.publish(note))[2] is True
        await relay.send("REQ", "mixed", {"kinds": [1, 1059], "#p": [bob_hex]})
        got = await relay.recv()
        assert got[0] == "EVENT" and got[2]["id"] == note.id  # the wrap left out, no CLOSED
        assert await relay.recv() == ["EOSE", "mixed"]
    for reader, sees in ((carol, []), (bob, [wrap.id])):
        async with wire(strfry_like.url) as relay:
            await relay.send("REQ", "w", {"kinds": [1059]})
            _, challenge = await relay.recv()
            assert await relay.recv() == ["CLOSED", "w", AUTH_REFUSAL]
            assert (await relay.auth(reader, strfry_like.url, challenge))[2] is True
            await relay.send("REQ", "w", {"kinds": [1059]})
            seen = []
            while (got := await relay.recv())[0] == "EVENT":
                seen.append(got[2]["id"])
            assert got == ["EOSE", "w"] and seen == sees


async def test_error_prefixes_on_notice_closed_and_ok(strfry_like: Any) -> None:
    key = SecretKey.generate()
    async with wire(strfry_like.url) as relay:
        await relay.send("FOO", 1)
        assert await relay.recv() == ["NOTICE", "ERROR: bad msg: unknown cmd"]
        await relay.send("REQ", "s", {"search": "rent"})
        closed = await relay.recv()
        assert closed == ["CLOSED", "s", "ERROR: bad req: unrecognised filter item: search"]
        stray = await relay.publish_auth(sign(key, 22242, "", [["challenge", "x"]]))
        assert stray[2:] == [False, "error: no auth status available for connection"]
        bad = {**sign(key, 1, "x").to_dict(), "content": "changed"}
        await relay.send("EVENT", bad)
        refused = await relay.recv()
        assert refused[2] is False and refused[3].startswith("invalid: ")


async def test_ok_duplicate_and_replaced(strfry_like: Any) -> None:
    key = SecretKey.generate()
    newer = sign(key, 10002)
    older = sign(key, 10002, created_at=newer.created_at - 60)
    async with wire(strfry_like.url) as relay:
        assert (await relay.publish(newer))[2:] == [True, ""]
        assert (await relay.publish(newer))[2:] == [True, "duplicate: have this event"]
        assert (await relay.publish(older))[2:] == [False, "replaced: have newer event"]


def test_nip11_is_http11_keep_alive_with_content_length_for_the_exact_accept(
    strfry_like: Any,
) -> None:
    port = int(strfry_like.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        for accept, kind in (
            ("application/nostr+json", b"application/json"),
            ("application/nostr+json, */*", b"text/html"),  # not exactly: the landing page
            ("application/nostr+json", b"application/json"),  # same connection, still open
        ):
            sock.sendall(f"GET / HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n".encode())
            status = stream.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            headers = {}
            while (line := stream.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            assert headers["connection"] == "keep-alive"
            assert headers["content-type"].encode().startswith(kind)
            body = stream.read(int(headers["content-length"]))
            if kind == b"application/json":
                assert 42 in orjson.loads(body)["supported_nips"]
