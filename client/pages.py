"""A request's web page link, for people outside Nostr: ``<base>/r/<naddr>``.

The base is ``mas config web-base`` when set; otherwise the first of the request's
relays whose NIP-11 document advertises pages (``"shieldmutual": {"pages": URL}``, see
docs/PROTOCOL.md and relay/web.py). Those documents are fetched from relays the request
was just published to or read from, through the same proxy, so no one new learns
anything; a relay that does not answer in time is simply passed over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from shieldmutual.client.config import normalize_web_base
from shieldmutual.client.errors import ClientError, ConfigError

NIP11_TIMEOUT = 3.0


def page_link(base: str, naddr: str) -> str:
    return f"{base}/r/{naddr}"


def advertised(document: dict[str, Any]) -> str | None:
    """The pages' base URL a NIP-11 document advertises, when it is a usable one."""
    ours = document.get("shieldmutual")
    pages = ours.get("pages") if isinstance(ours, dict) else None
    if not isinstance(pages, str):
        return None
    try:
        return normalize_web_base(pages, "a relay's pages")
    except ConfigError:
        return None


async def page_base(
    relays: Sequence[str], configured: str | None, proxy: str | None = None
) -> str | None:
    """``configured``, else the first of ``relays`` (in order) that advertises pages."""
    if configured:
        return configured
    if not relays:
        return None
    from shieldmutual.client.relayinfo import fetch_info  # the network stack, only when asked

    async def ask(relay: str) -> str | None:
        with contextlib.suppress(ClientError):
            return advertised(await fetch_info(relay, NIP11_TIMEOUT, proxy))
        return None

    found = await asyncio.gather(*(ask(r) for r in relays))
    return next((base for base in found if base), None)
