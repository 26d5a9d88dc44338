"""client/champions.refresh against a real relay: a champion's inbox read as themselves and
recorded in their sealed vault; a stranger's hand-over waits as pending."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shieldmutual.client.champions import Championing, MyChampions, package_items, refresh
from shieldmutual.client.config import Paths
from shieldmutual.client.pool import Pool, PoolOptions
from shieldmutual.client.vault import Home, Vault
from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest

OPTIONS = PoolOptions(connect_timeout=3, ok_timeout=3, eose_timeout=3)


def _home(tmp_path: Path) -> Home:
    return Home(Paths.resolve({"MAS_HOME": str(tmp_path)}), lambda _create: bytes(range(32)))


async def test_a_hand_over_is_read_as_the_champion_and_kept_pending(
    relay: Any, keys: Any, tmp_path: Path
) -> None:
    member, champion = keys.alice, keys.bob
    now = int(time.time())
    mine = MyChampions(request_markdown=render_template(AidRequest("Help", "Sam.", "S.", "Leeds")))
    mine.new_emergency_key(member, now)
    (item,) = package_items(member, mine, [champion.public_hex], [relay.url], now)
    async with Pool([relay.url], options=OPTIONS, auth=member) as pool:
        assert (await pool.publish(item.event)).ok(1)
    asked: list[list[str]] = []

    def connect(urls: Sequence[str]) -> Pool:
        asked.append(list(urls))
        return Pool(list(urls), options=OPTIONS, auth=champion)

    vault = Vault(_home(tmp_path), champion)
    championing = await refresh(vault, champion, [relay.url], connect)

    assert list(championing.pending) == [member.public_hex] and not championing.members
    assert asked == [[relay.url]]  # a pending member's relays are never dialled
    assert list(Championing.from_vault(vault.load()).pending) == [member.public_hex]
