"""client/relayinfo.check_relays (`mas relays check`/`add`): every relay at once, in order."""

from __future__ import annotations

from typing import Any

from shieldmutual.client.relayinfo import check_relays


async def test_each_relay_is_checked_and_reported_in_the_order_given(
    relay: Any, silent_relay: Any
) -> None:
    silent, live = await check_relays([silent_relay.url, relay.url], timeout=0.5)
    assert (silent.relay, silent.ok) == (silent_relay.url, False)
    assert silent.error is not None
    assert (live.relay, live.ok) == (relay.url, True) and live.info
