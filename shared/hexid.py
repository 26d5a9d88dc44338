"""The one spelling of an event id or public key on the wire: 64 lowercase hex characters.

NIP-01 writes ids and keys in lowercase hex, and the stores index them as written, so an
uppercase id would be a different id to every lookup: on the wire it is refused, never
lowered. People are another matter: a key copied from a tool that prints upper case is
still that key, so what a person types goes through :func:`normalize` first.
"""

from __future__ import annotations

import re

# The bound match itself, not a wrapper: it runs for every id and key of every event
# parsed, and its result is truthy exactly when the value is 64 lowercase hex.
is_hex64 = re.compile(r"[0-9a-f]{64}\Z").match


def normalize(text: str) -> str | None:
    """64 hex characters a person typed, in either case, as the wire spells them
    (lowercase); None when ``text`` is not that. Never for what arrives on the wire."""
    lowered = text.lower()
    return lowered if text.isascii() and is_hex64(lowered) else None
