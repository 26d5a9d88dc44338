"""cli/fmt.py: the one rule for dates (local, zone shown), npubs and money on screen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from shieldmutual.client.cli import fmt

STAMP = 1_764_524_400  # 2025-11-30T17:40:00Z
HEX = "32e1827635450ebb3c5a7d12c1f8e7b2b514439ac10a67eef3d9fd9c5c68e245"
NPUB = "npub1xtscya34g58tk0z605fvr788k263gsu6cy9x0mhnm87echrgufzsevkk5s"


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The reader's clock in Tokyo (UTC+9, no summer time): a day boundary away from UTC."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("zone")
def test_dates_are_the_readers_local_time_with_the_zone_shown() -> None:
    assert fmt.day(STAMP) == "2025-12-01"  # already the next day in Tokyo
    assert fmt.moment(STAMP) == "2025-12-01 02:40 JST"


def test_a_missing_date_shows_what_the_caller_chose() -> None:
    assert fmt.day(None) == ""
    assert fmt.moment(None, "never") == "never"


def test_npubs_whole_and_short() -> None:
    assert fmt.npub(HEX) == NPUB
    assert fmt.short_npub(HEX) == f"{NPUB[:12]}…{NPUB[-6:]}"


def test_money_is_plain_decimal_and_currency() -> None:
    assert fmt.money(Decimal("1E+2"), "GBP") == "100 GBP"
    assert fmt.money(Decimal("12.5"), "sats") == "12.5 sats"
    assert fmt.money(None, "EUR") == ""
