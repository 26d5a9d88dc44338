"""NIP-40 expiration: the one reading of the ``expiration`` tag, for the publish check
and the stored column alike.

Both places must agree: an event the relay accepts as "not yet expired" must also be
stored with the timestamp it is swept at, or it would be served forever (or never).
"""

from __future__ import annotations

import re

from shieldmutual.shared.event import Rumor

# The largest value an INTEGER (SQLite) or bigint (PostgreSQL) column holds.
MAX_INT64 = 2**63 - 1
# ASCII digits only: str.isdigit() also takes other scripts' digits, which int() reads.
_DIGITS = re.compile(r"[0-9]{1,19}\Z").match


def expiration(event: Rumor) -> int | None:
    """The first ``expiration`` tag's Unix time, or ``None`` when the event never expires.

    A value that is not a plain decimal number (sign, space, fraction, other scripts'
    digits) is ignored rather than refused, and so is one past the 64-bit range: that
    far away is "never", and a column could not hold it.
    """
    value = event.first_tag("expiration")
    if value is None or not _DIGITS(value):
        return None
    when = int(value)
    return when if when <= MAX_INT64 else None


def is_expired(event: Rumor, now: int) -> bool:
    """NIP-40: an event is expired from its expiration timestamp on."""
    when = expiration(event)
    return when is not None and when <= now
