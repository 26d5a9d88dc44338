"""client/publish.publish_each against a real relay: events published as they arrive, and
what was sent before bad input still answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest

from shieldmutual.client.pool import Pool, PoolOptions, PublishReport
from shieldmutual.client.publish import publish_each
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.event import Event

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


async def _stream(events: list[Event], then: Exception | None = None) -> AsyncIterator[Event]:
    for event in events:
        yield event
    if then is not None:
        raise then


async def test_every_event_is_published_and_reported(relay: Any, keys: Any, note: Any) -> None:
    notes = [note(keys.alice, f"note {n}") for n in range(5)]
    reports: list[PublishReport] = []
    connect = partial(Pool, [relay.url], options=OPTIONS)
    count = await publish_each(connect, _stream(notes), reports.append, at_once=2)
    assert count == 5 and all(r.ok(1) for r in reports)
    assert {r.event.id for r in reports} == {e.id for e in notes}


async def test_bad_input_stops_reading_but_what_was_sent_is_answered(
    relay: Any, keys: Any, note: Any
) -> None:
    notes = [note(keys.alice, f"note {n}") for n in range(2)]
    reports: list[PublishReport] = []
    connect = partial(Pool, [relay.url], options=OPTIONS)
    with pytest.raises(InvalidError, match="line 3"):
        await publish_each(connect, _stream(notes, InvalidError("line 3")), reports.append)
    assert sorted(r.event.id for r in reports) == sorted(e.id for e in notes)
