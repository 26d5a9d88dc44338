"""How `mas feed` draws its live view: the requests and offers tables over one line of
relay states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from shieldmutual.client.cli import aidrender, offerrender
from shieldmutual.client.handles import Handle
from shieldmutual.client.names import Names
from shieldmutual.client.pool import Pool, RelayState, Subscription
from shieldmutual.shared.aid.feed import REQUEST, FeedItem
from shieldmutual.shared.aid.offer import OFFER
from shieldmutual.shared.aid.thread import Thread


def waiting(tags: Sequence[str]) -> Text:
    """The live view before the first row."""
    return Text(f"waiting for requests in {' '.join(tags)}…", style="dim")


def relay_states(pool: Pool, sub: Subscription) -> Text:
    """One line under the live table with each relay's state, so a relay that went
    quiet is seen rather than guessed at from rows that stopped coming."""
    states = []
    for url, stats in sub.stats.items():
        if pool.connection(url).connected:
            state = "connected"
        elif stats.reconnects or stats.status is RelayState.UNREACHABLE:
            state = "reconnecting"
        elif stats.status is RelayState.TIMEOUT:
            state = "not answering"
        else:
            state = "connecting"
        states.append(f"{url} {state}")
    return Text("relays: " + " · ".join(states), style="dim")


def live_view(
    shown: Sequence[FeedItem],
    handles: Mapping[str, Handle],
    threads: Mapping[str, Thread],
    names: Names,
    relays: Text,
) -> RenderableType:
    """The requests table, then the offers table (each only when it has rows)."""
    asked = [i for i in shown if i.type == REQUEST]
    given = [i for i in shown if i.type == OFFER]
    tables: list[RenderableType] = []
    if asked:
        tables.append(aidrender.requests_table(asked, handles, threads, names=names))
    if given:
        tables.append(offerrender.offers_table(given, handles, names))
    return Group(*tables, relays)
