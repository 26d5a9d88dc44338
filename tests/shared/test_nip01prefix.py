"""The machine-readable prefix of OK and CLOSED messages, on the strings real relays send.

Finding (issue 17): strfry wraps every CLOSED reason in ``ERROR: ``, so a client that
compared the first word read ``ERROR: auth-required: ...`` as a final refusal and never
authenticated. The strings below are copied from each relay's source.
"""

from __future__ import annotations

import pytest

from shieldmutual.shared.messages import RelayClosed, RelayOk
from shieldmutual.shared.nip01prefix import message_prefix

STRFRY = [
    ("ERROR: auth-required: requested filter requires authentication", "auth-required"),
    ("auth-required: event marked as protected", "auth-required"),
    ("restricted: must be published by the author", "restricted"),
    ("blocked: event marked as protected", "blocked"),
    ("duplicate: have this event", "duplicate"),
    ("error: challenge string mismatch", "error"),
    ("ERROR: bad req: arr too big", "error"),
    ("ERROR: count-failed: can only count events you are involved in", "error"),
]
KHATRU = [
    ("auth-required: must be published by authenticated event author", "auth-required"),
    ("auth-required: only authenticated users can read from this relay", "auth-required"),
    ("blocked: must be published by event author", "blocked"),
]
NOSTREAM = [
    ("auth-required: authentication is required to publish events", "auth-required"),
    ("auth-required: this event may only be published by its author", "auth-required"),
    ("blocked: pubkey not allowed", "blocked"),
    ("error: unable to process event", "error"),
]
MAS_RELAY = [
    ("auth-required: gift wraps (kind 1059) are served only to their recipient", "auth-required"),
    ("restricted: only listed authors may publish here", "restricted"),
    ("rate-limited: too many AUTH attempts", "rate-limited"),
]
SPELLINGS = [
    ("  error:AUTH-REQUIRED: x", "auth-required"),
    ("Error :  Restricted : members only", "restricted"),
    ("AUTH-REQUIRED:", "auth-required"),
    ("restricted: auth-required for another request", "restricted"),
    ("pow: difficulty 25>=24", "pow"),
    ("mute: no one was listening", "mute"),
    ("count-failed: own prefix", "count-failed"),
    ("no prefix here", ""),
    ("we have a problem: a colon after words", ""),
    ("", ""),
    (":leading colon", ""),
]


@pytest.mark.parametrize(("message", "prefix"), STRFRY + KHATRU + NOSTREAM + MAS_RELAY + SPELLINGS)
def test_the_prefix_is_read_as_relays_send_it(message: str, prefix: str) -> None:
    assert message_prefix(message) == prefix


def test_ok_and_closed_name_the_prefix_after_an_error_wrapper() -> None:
    strfry = "ERROR: auth-required: requested filter requires authentication"
    assert RelayClosed("sub", strfry).prefix == "auth-required"
    assert RelayOk("0" * 64, False, strfry).prefix == "auth-required"
    assert RelayClosed("sub", "error: shutting down").prefix == "error"
