"""relay/policy.py: which write rules a config turns on, and single rules on events."""

from __future__ import annotations

import time

from shieldmutual.relay import policy
from shieldmutual.relay.config import Config
from shieldmutual.shared.event import sign
from shieldmutual.shared.keys import SecretKey

ALICE = SecretKey(bytes([1]) * 32)
BOB = SecretKey(bytes([2]) * 32)


def ctx(config: Config | None = None, authed: set[str] | None = None) -> policy.Context:
    return policy.Context(config or Config(), int(time.time()), authed or set(), 100)


def test_rules_are_chosen_by_the_config():
    default = policy.build(Config())
    assert policy.reject_not_aid not in default
    assert policy.reject_insufficient_pow not in default
    strict = policy.build(
        Config()
        .replace("policy", aid_only=True, auth_required=True)
        .replace("limits", min_pow_difficulty=1)
    )
    for rule in (
        policy.reject_not_aid,
        policy.reject_unauthenticated,
        policy.reject_insufficient_pow,
    ):
        assert rule in strict


def test_protected_event_rule():
    event = sign(ALICE, 1, "", [["-"]])
    assert policy.reject_protected(event, ctx()).startswith("auth-required:")
    assert policy.reject_protected(event, ctx(authed={BOB.public_hex})).startswith("auth-required:")
    assert policy.reject_protected(event, ctx(authed={ALICE.public_hex})) is None
    assert policy.reject_protected(sign(ALICE, 1, ""), ctx()) is None
