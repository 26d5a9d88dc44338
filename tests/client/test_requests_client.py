"""client/requests.py without the CLI, against a real relay: publishing a request with its
announcement, reading it with its thread and names, relaying it into societies, and
the author's view failing over to the public one."""

from __future__ import annotations

from typing import Any

import pytest

from shieldmutual.client.aid import parse_pointer, require_acks
from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.client.requests import (
    publish_request,
    read_request,
    syndicate,
    with_private_pledges,
)
from shieldmutual.shared.aid.notes import Announcement, announcement_template
from shieldmutual.shared.aid.request import request_event_template
from shieldmutual.shared.event import sign

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_publish_read_and_relay_a_request(relay: Any, keys: Any, rent_request: Any) -> None:
    request = rent_request()
    event = sign(keys.alice, *request_event_template(request))
    note = sign(keys.alice, *announcement_template(Announcement.of(request, event.pubkey)))
    async with Pool([relay.url], options=OPTIONS) as pool:
        report, noted = await publish_request(pool, event, note)
        require_acks(report)
        assert noted is not None and noted.ok()
        _, none = await publish_request(pool, event, None)
        assert none is None  # --no-announce publishes the request alone

        pointer = parse_pointer(request.address(event.pubkey).naddr((relay.url,)))
        view = await read_request(pool, pointer)
        assert view.found.event.id == event.id and view.thread.pledges == ()

        done = await syndicate(pool, keys.bob, pointer, ["leeds-care", "york-aid"])
        require_acks(done.report)
        assert done.already == ("leeds-care",)
        again = await read_request(pool, pointer)
        assert [s.origin.pubkey for s in again.thread.syndications if s.origin] == [
            keys.bob.public_hex
        ]


async def test_private_pledges_fail_with_a_relay_error(
    relay: Any, keys: Any, unused_tcp_port: int, rent_request: Any
) -> None:
    request = rent_request()
    event = sign(keys.alice, *request_event_template(request))
    async with Pool([relay.url], options=OPTIONS) as pool:
        require_acks(await pool.publish(event))
        view = await read_request(
            pool, parse_pointer(request.address(event.pubkey).naddr((relay.url,)))
        )
    async with Pool([f"ws://127.0.0.1:{unused_tcp_port}"], options=OPTIONS) as dead:
        with pytest.raises(RelayError):
            await with_private_pledges(dead, keys.alice, view)
