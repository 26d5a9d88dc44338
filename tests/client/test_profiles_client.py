"""client/profiles.py against a real relay: a profile edit keeps the fields it did not change."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from shieldmutual.client import profiles
from shieldmutual.client.errors import RelayError
from shieldmutual.client.pool import Pool, PoolOptions

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def test_an_edit_merges_with_the_published_profile(relay: Any, keys: Any) -> None:
    me = keys.alice
    connect = partial(Pool, [relay.url], options=OPTIONS)
    first = await profiles.edit_profile(connect, me.public_hex, {"name": "Sam"}, me)
    assert first.current is None and first.report is not None and first.report.ok(1)

    second = await profiles.edit_profile(connect, me.public_hex, {"about": "York"}, me)
    assert second.fields == {"name": "Sam", "about": "York"}
    assert second.report is not None and second.report.ok(1)

    read = await profiles.edit_profile(connect, me.public_hex, {}, None)
    assert read.report is None and read.current is not None
    assert read.current.fields == {"name": "Sam", "about": "York"}


async def test_nothing_is_published_when_no_relay_answered(keys: Any, silent_relay: Any) -> None:
    connect = partial(Pool, [silent_relay.url], options=PoolOptions(connect_timeout=0.5))
    with pytest.raises(RelayError, match="no relay answered"):
        await profiles.edit_profile(connect, keys.alice.public_hex, {"name": "x"}, keys.alice)
