"""Kind ranges from NIP-01, which decide how a relay stores an event."""

from __future__ import annotations

from enum import Enum


class KindClass(Enum):
    REGULAR = "regular"
    REPLACEABLE = "replaceable"
    EPHEMERAL = "ephemeral"
    ADDRESSABLE = "addressable"


def classify(kind: int) -> KindClass:
    if kind in (0, 3) or 10000 <= kind < 20000:
        return KindClass.REPLACEABLE
    if 20000 <= kind < 30000:
        return KindClass.EPHEMERAL
    if 30000 <= kind < 40000:
        return KindClass.ADDRESSABLE
    return KindClass.REGULAR


def is_replaceable(kind: int) -> bool:
    return kind in (0, 3) or 10000 <= kind < 20000


def is_ephemeral(kind: int) -> bool:
    return 20000 <= kind < 30000


def is_addressable(kind: int) -> bool:
    return 30000 <= kind < 40000


# Kinds named across the code base, so no module spells a magic number.
METADATA = 0
TEXT_NOTE = 1
CONTACTS = 3
DELETION = 5
REPOST = 6
GENERIC_REPOST = 16
SEAL = 13
DIRECT_MESSAGE = 14
COMMENT = 1111
GIFT_WRAP = 1059
LABEL = 1985
RELAY_LIST = 10002
COMMUNITIES_LIST = 10004  # NIP-51: the communities (NIP-72) a person follows
INTERESTS_LIST = 10015  # NIP-51: hashtags a person is interested in
INTEREST_SETS = 30015  # NIP-51: named sets of interest hashtags
DM_RELAY_LIST = 10050
CLIENT_AUTH = 22242
LONG_FORM = 30023
CLASSIFIED = 30402
COMMUNITY = 34550
