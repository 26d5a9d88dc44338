"""All mutual aid traffic as NIP-01 filters: what `mas sync` and relay mirroring copy
between relays unless told otherwise.

Relay/policy.py's aid rule decides one event at a time and takes some events by a tag
prefix (``mas-<society>``) or an address prefix, which no filter can express. These
filters take the kinds the aid protocol publishes (docs/PROTOCOL.md) and the kinds its
workflows need beside them, plus notes and reposts marked ``mutualaid``; a receiving
aid-only relay still applies its own rule to each event. Gift wraps are left out: a
relay serves them only to their recipient, and mirroring them is an operator's choice.
"""

from __future__ import annotations

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.common import MUTUAL_AID, NAMESPACE
from shieldmutual.shared.filter import Filter

# Listings, societies, comments (pledges, updates), reports, and what they need around
# them: profiles, deletions, relay lists and DM relay lists.
AID_KINDS = (
    kinds.METADATA,
    kinds.DELETION,
    kinds.COMMENT,
    kinds.RELAY_LIST,
    kinds.DM_RELAY_LIST,
    kinds.LONG_FORM,
    kinds.CLASSIFIED,
    kinds.COMMUNITY,
)
# Kinds that carry aid traffic only when marked: announcements and syndications.
MARKED_KINDS = (kinds.TEXT_NOTE, kinds.GENERIC_REPOST)


def aid_filters(*, gift_wraps: bool = False) -> list[Filter]:
    """The filters of all mutual aid traffic (gift wraps only when asked for)."""
    return [
        Filter(kinds=frozenset([*AID_KINDS, *([kinds.GIFT_WRAP] if gift_wraps else [])])),
        Filter(kinds=frozenset(MARKED_KINDS), tags={"t": frozenset([MUTUAL_AID])}),
        Filter(kinds=frozenset([kinds.LABEL]), tags={"L": frozenset([NAMESPACE])}),
    ]
