"""client/behalf.py against a real relay: a champion activates, then edits the one version."""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from shieldmutual.client import behalf
from shieldmutual.client.champions import activation, sign_version
from shieldmutual.client.errors import ChampionError
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.shared.aid.champion import Package
from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.vouch import Attestation, attestation_template
from shieldmutual.shared.event import Event, sign

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


def _package(keys: Any, url: str) -> Package:
    member, emergency = keys.alice, keys.dave
    attestation = sign(member, *attestation_template(Attestation(emergency.public_hex)))
    held = render_template(AidRequest("Help", "Sam needs help.", "Story.", "Leeds"))
    return Package(member.public_hex, emergency.secret.hex(), attestation, held, 3600, (url,))


async def test_activate_then_edit_the_version_relays_hold(relay: Any, keys: Any) -> None:
    package = _package(keys, relay.url)
    now = int(time.time())  # relays refuse events from the future
    connect = partial(Pool, [relay.url], options=OPTIONS)

    async def funded(published: behalf.Published) -> Event | None:
        record = published.record
        changed = replace(record.request, status=Status.FUNDED)
        if changed == record.request:
            return None
        return sign_version(package, changed, now + 1, record.event)

    with pytest.raises(ChampionError, match="nothing is published"):
        await behalf.edit_published(connect, package, funded)
    assert await behalf.fetch_published(connect, package) is None

    act = activation(package, "Held since Monday.", now)
    reports = await behalf.publish_in_order(connect, act.events)
    assert [r.event for r in reports] == list(act.events) and all(r.ok(1) for r in reports)
    published = await behalf.fetch_published(connect, package)
    assert published is not None and published.event.id == act.request.id

    edited = await behalf.edit_published(connect, package, funded)
    assert edited.record.event.id == act.request.id and edited.record.relays == (relay.url,)
    assert edited.report is not None and edited.report.ok(1)
    again = await behalf.edit_published(connect, package, funded)  # already funded
    assert again.report is None and again.record.request.status is Status.FUNDED
