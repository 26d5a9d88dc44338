"""relay/policy.py's filter rules: every refusal a REQ, COUNT or NEG-OPEN can get for what
it asks, in one list, cheapest first; the request and query-time buckets are two of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shieldmutual.relay import access, policy
from shieldmutual.relay.config import Config
from shieldmutual.relay.limits import Bucket, TimeBucket
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.kinds import GIFT_WRAP

NOTES = [Filter.from_dict({"kinds": [1]})]
WRAPS = [Filter.from_dict({"kinds": [GIFT_WRAP]})]


def ask(config: Config, filters: Sequence[Filter] = NOTES, **changes: Any) -> policy.Ask:
    values: dict[str, Any] = {
        "config": config,
        "sub_id": "s",
        "filters": filters,
        "authed": set(),
        "requests": Bucket(10, 10),
        "query_time": TimeBucket(1, 1),
        "stopping": False,
        **changes,
    }
    return policy.Ask(**values)


def test_the_rules_are_listed_cheapest_first_and_follow_the_config() -> None:
    config = Config()
    assert policy.build_filter_rules(config) == [
        policy.reject_filter_long_sub_id,
        policy.reject_filter_rate,
        policy.reject_filter_query_time,
        policy.reject_filter_shutting_down,
        policy.reject_filter_too_many,
        policy.reject_filter_wraps_unauthenticated,
    ]
    closed = config.replace("policy", auth_required=True)
    assert policy.reject_filter_unauthenticated in policy.build_filter_rules(closed)


def test_each_refusal_and_its_prefix() -> None:
    config = Config().replace("limits", max_subid_length=4, max_filters=2)
    rules = policy.build_filter_rules(config)
    spent = TimeBucket(1, 1)
    spent.charge(5.0)
    empty = Bucket(1, 1)
    assert empty.take()
    cases = {
        "invalid: subscription id is longer than 4": ask(config, sub_id="toolong"),
        f"rate-limited: at most {config.rate_limits.reqs_per_second:g} REQ or COUNT": ask(
            config, requests=empty
        ),
        "rate-limited: query time used up": ask(config, query_time=spent),
        policy.SHUTTING_DOWN: ask(config, stopping=True),
        "invalid: at most 2 filters in one request": ask(config, NOTES * 3),
        access.AUTH_FOR_WRAPS: ask(config, WRAPS),
    }
    for expected, request in cases.items():
        refusal = policy.check_filters(rules, request)
        assert refusal is not None and refusal.startswith(expected), (expected, refusal)
    assert policy.check_filters(rules, ask(config)) is None
    assert policy.check_filters(rules, ask(config, WRAPS, authed={"a" * 64})) is None
    closed = Config().replace("policy", auth_required=True)
    refusal = policy.check_filters(policy.build_filter_rules(closed), ask(closed))
    assert refusal is not None and refusal.startswith("auth-required:")


def test_the_rate_rule_spends_a_token_even_when_a_later_rule_refuses() -> None:
    config = Config().replace("limits", max_filters=1)
    requests = Bucket(0.001, 2)
    rules = policy.build_filter_rules(config)
    assert policy.check_filters(rules, ask(config, NOTES * 2, requests=requests)) is not None
    assert policy.check_filters(rules, ask(config, requests=requests)) is None
    refusal = policy.check_filters(rules, ask(config, requests=requests))
    assert refusal is not None and refusal.startswith("rate-limited:")
