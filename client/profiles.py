"""Your public profile (kind 0) on relays: read it, and publish it merged with changes.

Fields not changed keep their published value, including fields other apps wrote; so the
published profile must be known first, and nothing is published when no relay answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shieldmutual.client.errors import RelayError
from shieldmutual.client.names import profiles_filter
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey
from shieldmutual.shared.profile import Profile, latest_profiles, merge, profile_template


@dataclass(frozen=True, slots=True)
class ProfileEdit:
    """The profile relays held, the fields after the changes, and the publish report
    (``None`` when the profile was only read)."""

    current: Profile | None
    fields: dict[str, Any]
    report: PublishReport | None


async def edit_profile(
    connect: Callable[[], Pool],
    pubkey: str,
    changes: Mapping[str, str | None],
    secret: SecretKey | None,
) -> ProfileEdit:
    """Read ``pubkey``'s profile and, given its ``secret``, publish it with ``changes``."""
    async with connect() as pool:
        async with pool.subscribe([profiles_filter([pubkey])]) as sub:
            found = latest_profiles([event async for event in sub])
        if not any(s.eose_after is not None for s in sub.stats.values()):
            # Publishing now could replace fields we never saw with nothing.
            raise RelayError("no relay answered; the published profile is unknown")
        current = found.get(pubkey)
        fields = merge(current.fields if current else {}, changes)
        if secret is None:
            return ProfileEdit(current, fields, None)
        # A replaceable event of the same second as the current one would lose to it
        # whenever its id sorts higher (NIP-01): two quick edits must both land.
        when = max(int(time.time()), current.created_at + 1 if current else 0)
        event = sign(secret, *profile_template(fields), created_at=when)
        return ProfileEdit(current, fields, await pool.publish(event))
