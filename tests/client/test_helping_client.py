"""client/helping.py without the CLI, against a real relay: a pledge is counted in the
request's thread, the person helped confirms it, and anyone else's update is refused
before anything is published."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shieldmutual.client import helping
from shieldmutual.client.aid import load_request, parse_pointer, require_acks
from shieldmutual.client.errors import ClientError
from shieldmutual.client.pool import Pool, PoolOptions, PublishReport
from shieldmutual.client.private_send import Outgoing
from shieldmutual.shared.aid.request import request_event_template
from shieldmutual.shared.event import sign

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_pledge_confirm_and_refused_update(relay: Any, keys: Any, rent_request: Any) -> None:
    request = rent_request()
    event = sign(keys.alice, *request_event_template(request))
    async with Pool([relay.url], options=OPTIONS) as pool:
        require_acks(await pool.publish(event))
        target = parse_pointer(request.address(event.pubkey).naddr((relay.url,)))

        promise = helping.Promise(Decimal(20), "GBP", note="for the rent")
        sent = await helping.pledge(pool, keys.bob, target, promise, private=False)
        assert isinstance(sent, PublishReport)
        require_acks(sent)
        wrapped = await helping.pledge(pool, keys.carol, target, promise, private=True)
        assert isinstance(wrapped, Outgoing) and wrapped.to == keys.alice.public_hex

        thanks = helping.Promise(Decimal(20), "GBP", note="arrived")
        done = await helping.confirm(
            pool, keys.alice, target, thanks, helper=keys.bob.public_hex, helper_consents=True
        )
        require_acks(done)
        _, thread = await load_request(pool, target)
        assert thread.progress.pledged == {"GBP": Decimal(20)}
        (confirmation,) = thread.confirmations
        assert confirmation.pledge_id == sent.event.id

        with pytest.raises(ClientError, match="only the request's author"):
            await helping.post_update(pool, keys.bob, target, "not mine to say")
        _, after = await load_request(pool, target)
        assert after.updates == ()
