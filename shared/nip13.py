"""NIP-13 proof of work: the difficulty of an id and the target a nonce commits to."""

from __future__ import annotations

import re

from shieldmutual.shared.event import Rumor

MAX_DIFFICULTY = 256  # an id is 256 bits
_DECIMAL = re.compile(r"[0-9]+\Z").match


def difficulty(event_id: str) -> int:
    """The number of leading zero bits of the hex id."""
    return MAX_DIFFICULTY - int(event_id, 16).bit_length()


def committed_target(event: Rumor) -> str | None:
    """The target of the first ``nonce`` tag that names one, as sent; ``None`` without.

    A nonce commits to a target so that a lucky hash above what its miner aimed for
    does not count: a relay compares the target, not only the zeros, to its minimum.
    """
    for tag in event.tags:
        if len(tag) > 2 and tag[0] == "nonce":
            return tag[2]
    return None


def target_bits(text: str) -> int | None:
    """A target as a number of bits, at most 256 (no id can have more), or ``None``
    when it is not a plain decimal. Leading zeros are read past, so a long run of them
    (or of digits) never reaches int()'s 4,300-digit limit."""
    if not _DECIMAL(text):
        return None
    digits = text.lstrip("0") or "0"
    return min(int(digits), MAX_DIFFICULTY) if len(digits) <= 3 else MAX_DIFFICULTY
