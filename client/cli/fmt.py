"""How mas shows dates, keys and money on screen: one rule for each, used by every command.

* Times are the reader's local time, since that is the clock they plan by. A date alone is
  the local calendar day (``2026-11-30``); a moment carries its zone
  (``2026-11-30 17:40 CET``), so a screenshot sent to someone elsewhere still says when.
  JSON output keeps Unix seconds: scripts choose their own zone.
* A key is its whole npub where it is meant to be copied, and ``npub1abcdefg…uvwxyz``
  where it only tells people apart at a glance.
* Money is the plain decimal (never an exponent) and its currency: ``12.5 GBP``.

Nothing here imports more than it formats (nip19 and the aid rules only when called):
every local command loads this module, and start-up time is measured (bench/cli.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decimal import Decimal


def day(stamp: int | None, missing: str = "") -> str:
    """The local calendar day of ``stamp``, or ``missing`` when there is none."""
    return missing if stamp is None else time.strftime("%Y-%m-%d", time.localtime(stamp))


def moment(stamp: int | None, missing: str = "") -> str:
    """The local date and time of ``stamp`` with its zone, or ``missing``."""
    return missing if stamp is None else time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(stamp))


def npub(pubkey: str) -> str:
    """The whole npub: what a reader copies to name this person to mas or another client."""
    from shieldmutual.shared import nip19

    return nip19.npub_encode(pubkey)


def short_npub(pubkey: str) -> str:
    """An npub shortened to its start and end: enough to tell people apart at a glance."""
    whole = npub(pubkey)
    return f"{whole[:12]}…{whole[-6:]}"


def money(amount: Decimal | None, currency: str | None) -> str:
    """``12.5 GBP``; empty when no amount is given."""
    if amount is None:
        return ""
    from shieldmutual.shared.aid.common import format_amount

    return f"{format_amount(amount)} {currency or ''}".rstrip()
