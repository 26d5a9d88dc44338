"""The one rule for dates in what is published or exported (aid texts published on a
member's behalf, alarms, web pages, Markdown, progress lines): UTC, with the zone named
where a time is shown. Readers of a public text live in many zones, so it cannot be the
writer's local time; what ``mas`` shows on the reader's own screen is local time, through
``client/cli/fmt.py``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_day(stamp: int) -> str:
    """``2026-11-30``: the UTC day of ``stamp``."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")


def utc_minute(stamp: int) -> str:
    """``2026-11-30 19:56 UTC``: the UTC minute of ``stamp``, the zone named."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
