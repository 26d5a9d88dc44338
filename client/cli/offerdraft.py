"""Before and after `mas offer new/update/close`: the preview, publishing, and editing.

As requestdraft.py is for requests: a published offer cannot be unpublished everywhere
(relays keep copies; NIP-09 deletion is only a request), so the world's view of it is
previewed first, and an edit is a new version at the same address, never a second offer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from shieldmutual.client import aid
from shieldmutual.client.cli import common, offerrender
from shieldmutual.client.cli.requestdraft import ask_to_publish
from shieldmutual.client.errors import ClientError
from shieldmutual.client.offers import fetch_offer
from shieldmutual.client.pool import PublishReport
from shieldmutual.shared import event as event_mod
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.location import location_warning
from shieldmutual.shared.aid.offer import Offer, offer_event_template
from shieldmutual.shared.event import Event


def confirm(
    state: common.State,
    offer: Offer,
    author: str,
    relays: list[str],
    *,
    yes: bool,
    stdin_used: bool,
) -> None:
    """The preview and the question, as for requests (requestdraft.ask_to_publish)."""
    warning = location_warning(offer.location)
    if warning:
        state.warn(warning.replace("a request", "an offer"))
    preview = offerrender.offer_view(offer, author)
    ask_to_publish(state, preview, offer.societies, author, relays, yes=yes,
                   stdin_used=stdin_used, noun="offer")  # fmt: skip


def publish(
    state: common.State, event: Event, relays: list[str], min_acks: int, json_: bool
) -> None:
    """``event`` to every relay; its naddr (hinting the relays that took it) on stdout."""

    async def send() -> PublishReport:
        async with state.pool(relays) as pool:
            with state.status(f"publishing to {len(relays)} relays…"):
                return await pool.publish(event)

    report = common.run(send())
    hints = [r.relay for r in report.results if r.ok][:3]
    naddr = Address.of(event).naddr(hints)
    common.show_published(state, report, min_acks, state.want_json(json_), naddr, naddr=naddr)


def edit(
    state: common.State,
    naddr: str,
    change: Callable[[Offer], Offer],
    *,
    relay: list[str] | None,
    min_acks: int,
    as_: str | None,
    json_: bool,
    ask: bool,
    stdin_used: bool = False,
) -> None:
    """Republish your offer at ``naddr`` changed (same address and published_at)."""
    relays = state.relays(relay)
    author = state.keystore.get(state.identity_name(as_)).pubkey

    async def fetch() -> aid.RequestRecord:
        async with state.pool(relays) as pool:
            return await fetch_offer(pool, common.request_pointer(state, naddr, "offer"))

    found = common.run(fetch())
    if found.address.pubkey != author:
        raise ClientError("only the offer's author can change it (use --as for that identity)")
    assert isinstance(found.request, Offer)  # fetch_offer reads with parse_offer
    current = replace(found.request, origin=None)
    changed = replace(
        change(current), identifier=current.identifier, published_at=current.published_at
    )
    if changed == current:
        state.note("nothing changed; nothing published")
        state.emit_line(found.naddr())
        return
    if ask:
        confirm(state, changed, author, relays, yes=False, stdin_used=stdin_used)
    secret = state.signer(as_)
    # A new version must be newer than the one relays hold, even within the same second.
    when = max(int(time.time()), found.event.created_at + 1)
    event = event_mod.sign(secret, *offer_event_template(changed), created_at=when)
    publish(state, event, relays, min_acks, json_)
