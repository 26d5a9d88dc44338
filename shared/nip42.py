"""NIP-42: the kind 22242 event a client signs to answer a relay's AUTH challenge, and the
relay's check of that answer, so both sides read the same rule from one place."""

from __future__ import annotations

from collections.abc import Set

from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.kinds import CLIENT_AUTH
from shieldmutual.shared.nip01prefix import BAD_ID, BAD_SIGNATURE, invalid
from shieldmutual.shared.relayurl import RelayAddress, relay_address

# NIP-42 asks for created_at "close to" now; ten minutes either side tolerates clock skew
# without letting a captured answer be replayed for long.
AUTH_WINDOW = 600


def auth_event(key: SecretKey, relay_url: str, challenge: str) -> Event:
    """The signed answer to ``challenge`` from the relay at ``relay_url``."""
    return sign(key, CLIENT_AUTH, "", [["relay", relay_url], ["challenge", challenge]])


def check_auth(
    event: Event,
    challenge: str,
    addresses: Set[RelayAddress],
    now: int,
) -> str | None:
    """None when ``event`` is a valid NIP-42 answer to ``challenge`` for this relay,
    else the ``invalid:`` message for the OK. ``addresses`` are the relay's own
    :func:`relay_address` pairs (its configured URLs, else its listen address)."""
    if event.kind != CLIENT_AUTH:
        return invalid(f"AUTH event must be kind {CLIENT_AUTH}")
    if not event.id_matches():
        return BAD_ID
    if abs(event.created_at - now) > AUTH_WINDOW:
        return invalid(f"AUTH event must be dated within {AUTH_WINDOW // 60} minutes of now")
    if event.first_tag("challenge") != challenge:
        return invalid("AUTH challenge does not match the one this connection was sent")
    relay_url = event.first_tag("relay")
    if relay_url is None:
        return invalid("AUTH event needs a 'relay' tag")
    if relay_address(relay_url) not in addresses:
        return invalid("AUTH event names another relay")
    if not event.signature_valid():
        return BAD_SIGNATURE
    return None
