"""--since / --until parsing: every documented form, and one-line errors for the rest."""

from __future__ import annotations

from datetime import datetime

import pytest

from shieldmutual.client.errors import TimeParseError
from shieldmutual.client.timeparse import parse_duration, parse_time

NOW = 1_714_521_600  # 2024-05-01T00:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1714521600", 1714521600),
        ("0", 0),
        ("now", NOW),
        ("NOW", NOW),
        ("90s", NOW - 90),
        ("30m", NOW - 1800),
        ("1h", NOW - 3600),
        ("2d", NOW - 2 * 86400),
        ("1w", NOW - 604800),
        ("2 days ago", NOW - 2 * 86400),
        ("3 hours", NOW - 3 * 3600),
        ("1h30m", NOW - 5400),
        ("1h 30m ago", NOW - 5400),
        ("an hour ago", NOW - 3600),
        ("a day ago", NOW - 86400),
        ("in 2 days", NOW + 2 * 86400),
        ("+1h", NOW + 3600),
        ("-1h", NOW - 3600),
        ("2024-05-01T00:00:00Z", NOW),
        ("2024-05-01 02:00:00+02:00", NOW),
        ("2024-04-30T12:00Z", NOW - 12 * 3600),
    ],
)
def test_forms(text: str, expected: int) -> None:
    assert parse_time(text, NOW) == expected


def test_naive_iso_is_local_time() -> None:
    local = datetime(2024, 5, 1, 9, 30).astimezone()
    assert parse_time("2024-05-01T09:30", NOW) == int(local.timestamp())
    assert parse_time("2024-05-01", NOW) == int(datetime(2024, 5, 1).astimezone().timestamp())


def test_today_and_yesterday_are_local_midnights() -> None:
    today = parse_time("today", NOW)
    assert datetime.fromtimestamp(today).astimezone().hour == 0
    assert today <= NOW < today + 86400 + 3600  # a DST day can be 25 hours
    assert 82800 <= today - parse_time("yesterday", NOW) <= 90000


def test_never_negative() -> None:
    assert parse_time("100 years ago", 1000) == 0


@pytest.mark.parametrize(
    "text", ["", "  ", "soon", "2 fortnights", "1969-01-01T00:00Z", "2024-13-01", "h", "1 h x"]
)
def test_rejects(text: str) -> None:
    with pytest.raises(TimeParseError) as info:
        parse_time(text, NOW)
    assert "\n" not in str(info.value)


def test_default_now_is_current_time() -> None:
    import time

    assert abs(parse_time("now") - time.time()) < 5


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12h", 43200),
        ("1d", 86400),
        ("90m", 5400),
        ("1h30m", 5400),
        ("3600", 3600),
        ("2 days", 172800),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "soon", "12x", "-1h"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(TimeParseError, match="duration"):
        parse_duration(text)
