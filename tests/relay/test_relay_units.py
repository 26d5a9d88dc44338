"""The relay's pure parts without sockets: config, policy, live index, AUTH addresses."""

from __future__ import annotations

import dataclasses
import logging
import time
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from shieldmutual.relay import config as config_mod
from shieldmutual.relay import policy
from shieldmutual.relay.config import Config, ConfigError
from shieldmutual.relay.ingest import check_auth, relay_address
from shieldmutual.relay.limits import Bucket, TimeBucket
from shieldmutual.relay.logs import LogLimiter
from shieldmutual.relay.nip11 import document
from shieldmutual.relay.subscriptions import Index, Subscription
from shieldmutual.shared.event import Event, sign
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.keys import SecretKey

ROOT = Path(__file__).resolve().parents[2]
ALICE = SecretKey(bytes([1]) * 32)
BOB = SecretKey(bytes([2]) * 32)


# ---- config ---------------------------------------------------------------------------


def test_example_config_documents_every_key_with_the_default_values():
    path = ROOT / "docker" / "relay.toml"
    data = tomllib.loads(path.read_text())
    defaults = Config()
    for section in ("server", "limits", "rate_limits", "policy", "info", "store", "mirror"):
        fields = {f.name for f in dataclasses.fields(getattr(defaults, section))}
        assert set(data[section]) == fields, section
    assert config_mod.load(path) == defaults


def test_config_file_then_flags(tmp_path):
    path = tmp_path / "relay.toml"
    path.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\n'
        "[limits]\nmax_subscriptions = 3\n"
        "[rate_limits]\nevents_per_second = 0\n"
        f'[policy]\naid_only = true\nblocked_pubkeys = ["{"ab" * 32}"]\n'
    )
    config = config_mod.load(path)
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9000)
    assert config.limits.max_subscriptions == 3
    assert config.rate_limits.events_per_second == 0.0
    assert config.policy.aid_only and config.policy.blocked_pubkeys == frozenset({"ab" * 32})
    assert config.restricted_writes
    flagged = config_mod.with_flags(config, port=0, db="/tmp/x.db")
    assert (flagged.server.host, flagged.server.port, flagged.server.db) == (
        "0.0.0.0",
        0,
        "/tmp/x.db",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[limits]\nmax_subscriptons = 1\n", "unknown setting [limits] max_subscriptons"),
        ("[limit]\n", "unknown table [limit]"),
        ('[limits]\nmax_limit = "10"\n', "[limits] max_limit must be an integer"),
        ("[limits]\nmax_limit = -1\n", "must not be negative"),
        ("[policy]\naid_only = 1\n", "[policy] aid_only must be true or false"),
        ('[policy]\nblocked_pubkeys = ["nope"]\n', "64-character lowercase hex"),
        ("[limits]\ndefault_limit = 600\nmax_limit = 500\n", "default_limit <= max_limit"),
        ("[limits]\nmax_subid_length = 65\n", "max_subid_length must be 1 to 64"),
        ("[server]\nport = 70000\n", "port must be at most 65535"),
        ('[server]\nurls = ["relay.example.org"]\n', "must be ws:// or wss:// URLs"),
        ("[server]\nmax_outgoing_bytes = 1\n", "max_outgoing_bytes is no longer used: set"),
        ("[server]\nmax_memory = 1048576\n", "max_memory must be at least max_connection"),
        ("[rate_limits]\nquery_seconds_burst = 0\n", "query_seconds_burst must be more than 0"),
        ('[server]\nurl = "https://relay.example.org"\n', "must be ws:// or wss:// URLs"),
        ("not toml [", "is not valid TOML"),
    ],
)
def test_config_errors_name_the_setting(tmp_path, text, message):
    path = tmp_path / "relay.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_mod.load(path)


def test_nip11_leaves_out_bounds_that_are_off():
    config = Config().replace("limits", created_at_lower_limit=0, created_at_upper_limit=0)
    limitation = document(config)["limitation"]
    assert "created_at_lower_limit" not in limitation
    assert "created_at_upper_limit" not in limitation


# ---- policy ---------------------------------------------------------------------------


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


# ---- NIP-42 addresses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("ws://127.0.0.1:7777", ("127.0.0.1", 7777)),
        ("WS://Relay.Example.org:7777/", ("relay.example.org", 7777)),
        ("wss://relay.example.org", ("relay.example.org", None)),
        ("wss://relay.example.org:443/nostr", ("relay.example.org", None)),
        ("ws://relay.example.org:80", ("relay.example.org", None)),
        ("ws://[::1]:7777", ("::1", 7777)),
        ("relay.example.org:7777", ("relay.example.org", 7777)),
        ("ws://", None),
        ("ws://host:notaport", None),
    ],
)
def test_relay_address(url, address):
    assert relay_address(url) == address


def test_check_auth_happy_path_and_window():
    now = int(time.time())
    tags = [["relay", "ws://127.0.0.1:7777"], ["challenge", "c"]]
    here = {("127.0.0.1", 7777)}
    assert check_auth(sign(ALICE, 22242, "", tags, created_at=now), "c", here, now) is None
    late = sign(ALICE, 22242, "", tags, created_at=now - 601)
    assert "minutes" in (check_auth(late, "c", here, now) or "")
    early = sign(ALICE, 22242, "", tags, created_at=now + 601)
    assert "minutes" in (check_auth(early, "c", here, now) or "")


# ---- live index -----------------------------------------------------------------------


class Sink:
    def __init__(self, authed: set[str] | None = None) -> None:
        self.frames: list[bytes] = []
        self.authed = authed or set()
        self.held = 0

    def can_see(self, event: Event) -> bool:
        return event.kind != 1059 or bool(set(event.tag_values("p")) & self.authed)

    def send(self, frame: bytes) -> None:
        self.frames.append(frame)

    def send_event(self, prefix: bytes, tail: bytes) -> None:
        self.frames.append(prefix + tail)

    def hold(self, size: int) -> None:
        self.held += size


def live(index: Index, sink: Sink, sub_id: str, *filters: dict[str, Any]) -> Subscription:
    sub = Subscription(sink, sub_id, [Filter.from_dict(f) for f in filters])
    sub.pending = None  # already past EOSE
    index.add(sub)
    return sub


def sub_ids(groups: Iterable[Any]) -> list[str]:
    return sorted(sub.sub_id for group in groups for sub in group.subs)


def test_each_filter_is_filed_under_its_most_selective_key():
    index = Index()
    sink = Sink()
    for i in range(300):
        key = SecretKey(b"\x07" + (i + 1).to_bytes(2, "big") + bytes(29))
        live(index, sink, f"author{i}", {"authors": [key.public_hex], "kinds": [1]})
    live(index, sink, "tag", {"#t": ["mas-river"], "kinds": [1]})
    live(index, sink, "kind", {"kinds": [30402]})
    live(index, sink, "all", {"since": 0})
    event = sign(ALICE, 1, "", [["t", "other"]])
    # Only the catch-all is a candidate: 300 author filters were never looked at.
    assert sub_ids(index.candidates(event)) == ["all"]
    tagged = sign(ALICE, 1, "", [["t", "mas-river"], ["t", "mas-river"]])
    assert sub_ids(index.candidates(tagged)) == ["all", "tag"]
    assert index.notify(tagged, tagged.to_json()) == 2  # "tag" once despite two tags


def test_notify_frames_the_json_once_per_subscription_and_respects_can_see():
    index = Index()
    alice_sink, bob_sink = Sink({ALICE.public_hex}), Sink()
    live(index, alice_sink, "a", {"kinds": [1059]}, {"#p": [ALICE.public_hex]})
    live(index, bob_sink, "b", {})
    wrap = sign(BOB, 1059, "x", [["p", ALICE.public_hex]])
    raw = wrap.to_json()
    index.notify(wrap, raw)
    assert alice_sink.frames == [b'["EVENT","a",' + raw + b"]"]
    assert bob_sink.frames == []


def test_equal_filters_are_matched_once_per_event_and_delivered_to_each():
    index = Index()
    sinks = [Sink() for _ in range(50)]
    for i, sink in enumerate(sinks):
        # "limit" bounds stored results only: these 50 filters are one for live events.
        live(index, sink, f"s{i}", {"kinds": [1], "#t": ["river"], "limit": i + 1})
    live(index, sinks[0], "twice", {"kinds": [1], "#t": ["river"]}, {"#t": ["river"]})
    tagged = sign(ALICE, 1, "", [["t", "river"]])
    groups = index.candidates(tagged)
    assert len(groups) == 2  # two distinct filters, not 52 entries
    raw = tagged.to_json()
    assert index.notify(tagged, raw) == 51
    assert sorted(sinks[0].frames) == [
        b'["EVENT","s0",' + raw + b"]",
        b'["EVENT","twice",' + raw + b"]",
    ]
    assert all(
        sink.frames == [b'["EVENT","s%d",' % i + raw + b"]"] for i, sink in enumerate(sinks[1:], 1)
    )
    for sub in list(index.subscriptions):
        index.remove(sub)
    assert not index._groups and not index._tags


def test_a_delivery_that_drops_subscriptions_does_not_stop_the_others():
    """A connection over its budget is closed while the event is being delivered, which
    removes its subscriptions from the very group being walked."""
    index = Index()

    class Closing(Sink):
        def send_event(self, prefix: bytes, tail: bytes) -> None:
            for sub in list(index.subscriptions):
                if sub.conn is self:
                    index.remove(sub)

    closing, others = Closing(), [Sink() for _ in range(5)]
    live(index, closing, "c1", {"kinds": [1]})
    for i, sink in enumerate(others):
        live(index, sink, f"s{i}", {"kinds": [1]})
    live(index, closing, "c2", {"kinds": [1]})
    event = sign(ALICE, 1, "")
    index.notify(event, event.to_json())
    assert all(len(sink.frames) == 1 for sink in others)
    assert len(index) == 5


def test_removing_a_subscription_empties_its_buckets():
    index = Index()
    sub = live(index, Sink(), "s", {"authors": [ALICE.public_hex, BOB.public_hex]}, {})
    assert len(index) == 1
    index.remove(sub)
    index.remove(sub)  # twice is harmless
    assert len(index) == 0
    assert not index.candidates(sign(ALICE, 1, ""))
    assert not index._authors and not index._all


def test_pending_subscription_holds_events_and_charges_their_bytes():
    index = Index()
    sink = Sink()
    sub = Subscription(sink, "s", [Filter()])
    index.add(sub)
    event = sign(ALICE, 1, "")
    index.notify(event, event.to_json())
    assert sink.frames == [] and sub.pending is not None and len(sub.pending) == 1
    frame_size = len(sub.pending[0][1])
    assert sink.held == sub.pending_bytes == frame_size


def test_token_bucket():
    bucket = Bucket(rate=0.001, burst=2)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    assert all(Bucket(rate=0, burst=1).take() for _ in range(100))


def test_time_bucket_runs_into_debt_and_stays_shut_until_it_refills():
    bucket = TimeBucket(rate=0.001, burst=1.0)
    assert bucket.open()
    bucket.charge(0.6)
    assert bucket.open()  # something left: one more query may start
    bucket.charge(3.0)  # that one ran long: into debt
    assert not bucket.open()
    off = TimeBucket(rate=0, burst=0.0)
    off.charge(100.0)
    assert off.open()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_limiter_caps_each_cause_then_summarizes(caplog):
    clock = Clock()
    logger = logging.getLogger("shieldmutual.test.limiter")
    limiter = LogLimiter(logger, burst=3, interval=60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger=logger.name):
        for i in range(10_000):
            limiter.log(logging.INFO, "too slow", "slow %d", i)
        limiter.log(logging.INFO, "query failed", "other cause")
        clock.now = 61.0
        limiter.log(logging.INFO, "too slow", "slow again")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "slow 0",
        "slow 1",
        "slow 2",
        "too slow: similar lines suppressed for 60s",
        "other cause",
        "too slow: suppressed 9997 similar lines in 60s",
        "slow again",
    ]
