"""Read the times people type for ``--since`` / ``--until`` into unix seconds.

Accepted, all case-insensitive:

* a unix timestamp: ``1714521600``
* ``now``, ``today`` (local midnight), ``yesterday`` (the local midnight before)
* a duration meaning "that long ago": ``90s``, ``30m``, ``1h``, ``2d``, ``1w``,
  ``2 days ago``, ``3 hours``, ``1h30m``, ``an hour ago``
* the same in the future: ``in 2 days``, ``+1h``
* an ISO 8601 date or date-time: ``2024-05-01``, ``2024-05-01T12:00``,
  ``2024-05-01 12:00:00Z``, ``2024-05-01T12:00+02:00``. Without an offset it is local time,
  because that is what a person at a keyboard means.

Pure: the current time is a parameter, so results are reproducible in tests.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

from shieldmutual.client.errors import TimeParseError

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
    "mo": 2592000,
    "month": 2592000,
    "months": 2592000,
    "y": 31536000,
    "year": 31536000,
    "years": 31536000,
}
_PART = re.compile(r"\s*(\d+|an?)\s*([a-z]+)")
_MAX = 2**63 - 1


def _duration(text: str) -> int | None:
    """Seconds in ``1h30m`` / ``2 days`` / ``an hour``; None when it is not a duration."""
    pos, total, parts = 0, 0, 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match:
            return None
        amount, unit = match.groups()
        if unit not in _UNITS:
            return None
        total += (1 if amount in ("a", "an") else int(amount)) * _UNITS[unit]
        parts += 1
        pos = match.end()
    return total if parts else None


def parse_duration(text: str) -> int:
    """Seconds in a duration people type (``12h``, ``1d``, ``90m``, ``1h30m``, ``3600``)."""
    value = text.strip().lower()
    seconds = int(value) if value.isdigit() else _duration(value)
    if not seconds:
        raise TimeParseError(f"cannot read duration {text!r}; try '12h', '1d' or '30m'")
    return seconds


def _local_midnight(now: int, days_back: int) -> int:
    day = datetime.fromtimestamp(now).astimezone()
    midnight = day.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_back)
    return int(midnight.timestamp())


def parse_time(text: str, now: int | None = None) -> int:
    """Unix seconds for ``text``; :class:`TimeParseError` with a one-line hint otherwise."""
    now = int(time.time()) if now is None else now
    raw = text
    text = text.strip().lower()
    if not text:
        raise TimeParseError("empty time; try '2 days ago', '1h', '2024-05-01' or a unix time")
    if text.isdigit():
        value = int(text)
        if value > _MAX:
            raise TimeParseError(f"time {raw!r} is too large")
        return value
    if text == "now":
        return now
    if text == "today":
        return _local_midnight(now, 0)
    if text == "yesterday":
        return _local_midnight(now, 1)

    sign = -1
    body = text
    if body.endswith(" ago"):
        body = body[: -len(" ago")]
    elif body.startswith("in "):
        sign, body = 1, body[len("in ") :]
    elif body.startswith("+"):
        sign, body = 1, body[1:]
    elif body.startswith("-"):
        body = body[1:]
    seconds = _duration(body.strip())
    if seconds is not None:
        return max(0, now + sign * seconds)

    try:
        parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise TimeParseError(
            f"cannot read time {raw!r}; try '2 days ago', '1h', '2024-05-01' or a unix time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # naive means local time
    value = int(parsed.timestamp())
    if value < 0:
        raise TimeParseError(f"time {raw!r} is before 1970")
    return value
