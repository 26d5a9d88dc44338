"""The pure parts of sending apart: the delay range and the random delays."""

from __future__ import annotations

import pytest

from shieldmutual.client import private_send
from shieldmutual.client.errors import ClientError


def test_the_delay_range_comes_from_the_environment_or_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(private_send.DELAY_ENV, raising=False)
    assert private_send.delay_range() == private_send.DEFAULT_DELAY == (5.0, 120.0)
    monkeypatch.setenv(private_send.DELAY_ENV, "0.05:0.3")
    assert private_send.delay_range() == (0.05, 0.3)
    for bad in ("soon", "3", "5:1", "-1:2", "1:2:3"):
        with pytest.raises(ClientError, match="LOW:HIGH"):
            private_send.delay_range(bad)


def test_delays_are_independent_and_inside_the_range() -> None:
    delays = [private_send.random_delay(2.0, 4.0) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 150  # not one shared moment, nor a few
    assert min(delays) < 2.5 and max(delays) > 3.5  # spread over the range
    assert private_send.random_delay(1.5, 1.5) == 1.5
