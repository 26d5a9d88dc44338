"""The NIP-11 relay information document, built from the configuration (pure).

Every ``limitation`` field is one the relay really enforces, with the value it
enforces: the same :class:`~shieldmutual.relay.config.Config` object feeds this
document, the connection limits and the policy functions.
"""

from __future__ import annotations

from typing import Any

from shieldmutual.relay.config import Config
from shieldmutual.shared.version import VERSION

# 1 basics, 9 deletion, 11 this document, 13 proof of work, 40 expiration, 42 auth,
# 45 count, 50 search, 70 protected events, 77 negentropy syncing.
SUPPORTED_NIPS = (1, 9, 11, 13, 40, 42, 45, 50, 70, 77)


def limitation(config: Config) -> dict[str, Any]:
    """Each field the relay enforces; a created_at bound set to 0 (off) is left out,
    since a client would read 0 as "nothing older/newer than now"."""
    limits = config.limits
    out: dict[str, Any] = {
        "max_message_length": limits.max_message_length,
        "max_subscriptions": limits.max_subscriptions,
        "max_limit": limits.max_limit,
        "max_subid_length": limits.max_subid_length,
        "max_event_tags": limits.max_event_tags,
        "max_content_length": limits.max_content_length,
        "min_pow_difficulty": limits.min_pow_difficulty,
        "auth_required": config.policy.auth_required,
        "payment_required": False,
        "restricted_writes": config.restricted_writes,
        "default_limit": limits.default_limit,
    }
    if limits.created_at_lower_limit:
        out["created_at_lower_limit"] = limits.created_at_lower_limit
    if limits.created_at_upper_limit:
        out["created_at_upper_limit"] = limits.created_at_upper_limit
    return out


def document(config: Config, pages: str = "") -> dict[str, Any]:
    """The NIP-11 document; empty optional fields are left out.

    ``pages`` is the base URL of the relay's web pages (relay/web.py), advertised as
    ``"shieldmutual": {"pages": URL}`` so a client can print a request's page link
    (``URL/r/<naddr>``) for requests it publishes here."""
    info = config.info
    doc: dict[str, Any] = {"name": info.name, "description": info.description}
    if info.pubkey:
        doc["pubkey"] = info.pubkey
    if info.contact:
        doc["contact"] = info.contact
    if info.icon:
        doc["icon"] = info.icon
    doc["supported_nips"] = list(SUPPORTED_NIPS)
    doc["software"] = info.software
    doc["version"] = VERSION
    doc["limitation"] = limitation(config)
    if pages:
        doc["shieldmutual"] = {"pages": pages}
    return doc
