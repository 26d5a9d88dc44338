"""NIP-42: the kind 22242 event a client signs to answer a relay's AUTH challenge."""

from __future__ import annotations

from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.kinds import CLIENT_AUTH


def auth_event(key: SecretKey, relay_url: str, challenge: str) -> Event:
    """The signed answer to ``challenge`` from the relay at ``relay_url``."""
    return sign(key, CLIENT_AUTH, "", [["relay", relay_url], ["challenge", challenge]])
