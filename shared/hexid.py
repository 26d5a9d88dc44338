"""The one spelling of an event id or public key on the wire: 64 lowercase hex characters.

NIP-01 writes ids and keys in lowercase hex, and the stores index them as written, so an
uppercase id would be a different id to every lookup: it is refused, never lowered.
"""

from __future__ import annotations

import re

# The bound match itself, not a wrapper: it runs for every id and key of every event
# parsed, and its result is truthy exactly when the value is 64 lowercase hex.
is_hex64 = re.compile(r"[0-9a-f]{64}\Z").match
