"""relay/nip11.py: the NIP-11 document built from the config (served: test_relay_nips.py)."""

from __future__ import annotations

from shieldmutual.relay.config import Config
from shieldmutual.relay.nip11 import document


def test_nip11_leaves_out_bounds_that_are_off():
    config = Config().replace("limits", created_at_lower_limit=0, created_at_upper_limit=0)
    limitation = document(config)["limitation"]
    assert "created_at_lower_limit" not in limitation
    assert "created_at_upper_limit" not in limitation
