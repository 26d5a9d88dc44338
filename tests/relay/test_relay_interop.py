"""Interop with rust-nostr (``nostr_sdk``), an independent implementation.

Events signed by nostr_sdk are published to our relay and read back; what comes back
must parse and verify in nostr_sdk with the same ids. Then nostr_sdk's own ``Client``
is the client for a round trip, with and without NIP-42 authentication.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import nostr_sdk
import orjson

from shieldmutual.relay.nip11 import document
from shieldmutual.shared.event import Event

WAIT = timedelta(seconds=5)


def rust_events(keys: nostr_sdk.Keys) -> list[nostr_sdk.Event]:
    now = int(time.time())
    made = []
    specs = [
        (1, "plain note", [nostr_sdk.Tag.hashtag("mas-riverside")]),
        (1, 'quotes " backslash \\ newline \n tab \t emoji 🤝 nul \x00', []),
        (
            30402,
            "aid request",
            [nostr_sdk.Tag.identifier("req-1"), nostr_sdk.Tag.parse(["t", "mutualaid"])],
        ),
        (0, '{"name":"rusty"}', []),
        (7, "+", [nostr_sdk.Tag.parse(["e", "ab" * 32])]),
    ]
    for i, (kind, content, tags) in enumerate(specs):
        builder = nostr_sdk.EventBuilder(nostr_sdk.Kind(kind), content).tags(tags)
        builder = builder.custom_created_at(nostr_sdk.Timestamp.from_secs(now - i))
        made.append(builder.finalize(keys))
    return made


async def test_events_signed_by_rust_nostr_round_trip_with_identical_ids(relay, connect):
    keys = nostr_sdk.Keys.generate()
    theirs = rust_events(keys)
    client = await connect(relay.url)
    for event in theirs:
        await client.send_raw(f'["EVENT",{event.as_json()}]')
        ok = await client.expect(lambda m, e=event: m[0] == "OK" and m[1] == e.id().to_hex())
        assert ok[2:] == [True, ""], ok
    back = await client.req("r", {"authors": [keys.public_key().to_hex()]})
    assert len(back) == len(theirs)
    by_id = {e.id().to_hex(): e for e in theirs}
    for data in back:
        parsed = nostr_sdk.Event.from_json(orjson.dumps(data).decode())
        assert parsed.verify()
        original = by_id[parsed.id().to_hex()]
        assert parsed.content() == original.content()
        assert Event.from_dict(data).is_valid()


async def test_nostr_sdk_client_publishes_and_fetches(relay):
    keys = nostr_sdk.Keys.generate()
    client = nostr_sdk.Client()
    await client.add_relay(nostr_sdk.RelayUrl.parse(relay.url))
    await client.connect(WAIT)
    try:
        sent = []
        for event in rust_events(keys):
            output = await client.send_event(event)
            assert not output.failed, output.failed
            assert [url.__str__() for url in output.success]
            sent.append(output.id.to_hex())
        wanted = nostr_sdk.Filter().author(keys.public_key()).kinds([nostr_sdk.Kind(1)])
        fetched = await client.fetch_events(nostr_sdk.ReqTarget.auto([wanted]), WAIT)
        assert sorted(e.id().to_hex() for e in fetched) == sorted(sent[:2])
        assert all(e.verify() for e in fetched)
    finally:
        await client.shutdown()


async def test_nostr_sdk_client_authenticates_with_nip42(start_relay):
    relay = await start_relay(policy={"auth_required": True})
    keys = nostr_sdk.Keys.generate()
    # The authenticator is called back from a Rust thread; uniffi needs to be told
    # which Python event loop runs its async callbacks.
    nostr_sdk.uniffi_set_event_loop(asyncio.get_running_loop())
    client = nostr_sdk.ClientBuilder().authenticator(nostr_sdk.SignerAuthenticator(keys)).build()
    await client.add_relay(nostr_sdk.RelayUrl.parse(relay.url))
    await client.connect(WAIT)
    try:
        event = rust_events(keys)[0]
        output = await asyncio.wait_for(client.send_event(event), 10)
        assert not output.failed, output.failed
        wanted = nostr_sdk.Filter().id(event.id())
        fetched = await client.fetch_events(nostr_sdk.ReqTarget.auto([wanted]), WAIT)
        assert [e.id().to_hex() for e in fetched] == [event.id().to_hex()]
    finally:
        await client.shutdown()
        nostr_sdk.uniffi_set_event_loop(None)  # type: ignore[arg-type]


def test_nip11_document_parses_in_nostr_sdk(relay):
    text = orjson.dumps(document(relay.config)).decode()
    doc = nostr_sdk.RelayInformationDocument.from_json(text)
    assert doc.name() == relay.config.info.name
    assert 42 in doc.supported_nips()
