"""What the relay accepts: small reject functions, khatru style.

Events: each ``reject_*`` function looks at one event, parsed and with its id checked
but before its signature is (the rules are cheaper than a Schnorr verification, so a
refused event never costs one), and the :class:`Context` of the connection that sent it,
and returns ``None`` to let it through or a NIP-01 prefixed message that goes back
verbatim in ``["OK", <id>, false, <message>]``. :func:`build` picks the functions the
configuration turns on, cheapest first; :func:`check` runs them in order and the first
refusal wins. A new rule is a new function plus one line in :func:`build`.

Filters: every refusal a REQ, COUNT or NEG-OPEN can get for what it asks is a
``reject_filter_*`` function of an :class:`Ask`, listed cheapest first by
:func:`build_filter_rules` and run by :func:`check_filters`; the message goes back in
``CLOSED`` (``NEG-ERR``). The request rate and the store-time budget are two of them,
so the token buckets are spent here and nowhere else. (Open-subscription and
negentropy-session slots are the connection's, checked where they are held.)

Aid-only mode (``[policy] aid_only = true``) is for community relays that carry mutual
aid traffic and nothing else: the project's own events, and what ordinary Nostr apps
attach to a request. An event is aid traffic when any of these holds:

(a) a ``t`` tag that starts with ``mas-`` or equals ``mutualaid`` (any kind): requests,
    offers, announcements, society definitions, relayed requests, reports;
(b) its kind is one the aid workflows need without such a tag: 0 profiles (who is
    asking), 5 deletions (anyone must be able to take back what they published, a
    withdrawn vouch included), 1059 gift wraps (private pledges, DMs, check-ins,
    champion messages), 10002 relay lists and 10050 DM relay lists (so wraps can be
    routed);
(c) an ``a`` or ``A`` tag naming a request or offer address ``30402:<64 hex>:<d>``:
    pledges, confirmations and updates (NIP-22 comments), spending reports, and the
    reactions, reposts, replies and zap receipts ordinary apps attach to a listing;
(d) a kind 1985 NIP-32 label event with ``["L", "mas"]`` and an ``l`` value of the MAS
    person vocabulary marked ``mas`` (vouch, emergency-key, emergency-key-revoked: the
    constants of shared/aid/vouch.py), which name a person, not a request.

Everything else is refused with ``blocked:``. Kind 3 follow lists are refused whatever
they carry (apps write followed hashtags and communities into them, so a ``t mutualaid``
there is common), and so are the NIP-51 lists of followed communities (10004) and
interests (10015, 30015), which hold ``mas-`` hashtags and society addresses by design:
following a society is a local filter in the client, and a relay holding its members'
follow graphs would be the membership list this project promises never exists.
Kind 22242 (NIP-42) is never accepted as an EVENT, in any mode; it goes in AUTH.

What this does not stop. Aid-only is a topical filter, not a spam defence: every clause
is decided from the event alone, with no store lookup on the synchronous reject path,
so anyone can make an event pass. (a) takes any ``mas-<word>`` tag; (c) checks the
address's shape, not that such a request exists, so a kind 1 advert with an ``a`` tag
naming a made-up (or a real) request passes, and may sit in that request's thread;
(d) lets anyone publish kind 1985 labels, which timelines do not show and which speak
only for their signer. None of this widens what (a) already allowed. Readers are built
for it: progress counts only confirmations signed by the request's author, pledges are
claims, vouches weigh only when the reader trusts the voucher. Operators who need more
add PoW (``min_pow_difficulty``), ``auth_required``, ``allowed_pubkeys`` or
``blocked_pubkeys``, and the rate limits apply to every client.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass

from shieldmutual.relay import access
from shieldmutual.relay.config import Config
from shieldmutual.relay.limits import Bucket, TimeBucket
from shieldmutual.shared import kinds, nip13, nip40
from shieldmutual.shared.aid.common import MUTUAL_AID, NAMESPACE, labels
from shieldmutual.shared.aid.society import MAS_PREFIX
from shieldmutual.shared.aid.vouch import EMERGENCY_KEY, REVOKED, VOUCH
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.nip01prefix import (
    auth_required,
    blocked,
    error,
    invalid,
    pow_,
    rate_limited,
    restricted,
)

# Kinds the aid workflows need even without a society tag (see the module docstring).
AID_SUPPORT_KINDS = frozenset(
    {kinds.METADATA, kinds.DELETION, kinds.GIFT_WRAP, kinds.RELAY_LIST, kinds.DM_RELAY_LIST}
)
# Lists of whom and what a person follows: refused whatever they carry (module docstring).
FOLLOW_LISTS = frozenset(
    {kinds.CONTACTS, kinds.COMMUNITIES_LIST, kinds.INTERESTS_LIST, kinds.INTEREST_SETS}
)
# Clause (c): the coordinate of a request or offer (the identifier after it may be anything).
_AID_ADDRESS = re.compile(rf"{kinds.CLASSIFIED}:[0-9a-f]{{64}}:").match
# Clause (d): the kind 1985 labels of the MAS vocabulary (about a person, no request tag).
AID_PERSON_LABELS = frozenset({VOUCH, EMERGENCY_KEY, REVOKED})


@dataclass(slots=True)
class Context:
    """What a reject function may know about the publishing connection."""

    config: Config
    now: int
    authed: Set[str]  # public keys this connection proved with NIP-42
    size: int = 0  # bytes of the event's JSON
    # Copied from a peer by relay/mirror.py, not published by a client now.
    mirrored: bool = False


Reject = Callable[[Event, Context], str | None]


def reject_kind_22242(event: Event, _ctx: Context) -> str | None:
    if event.kind == kinds.CLIENT_AUTH:
        return invalid("kind 22242 is only for AUTH messages")
    return None


def reject_event_too_large(_event: Event, ctx: Context) -> str | None:
    limit = ctx.config.limits.max_event_size
    if ctx.size > limit:
        return invalid(f"event is {ctx.size} bytes, more than {limit}")
    return None


def reject_too_many_tags(event: Event, ctx: Context) -> str | None:
    limit = ctx.config.limits.max_event_tags
    if len(event.tags) > limit:
        return invalid(f"event has {len(event.tags)} tags, more than {limit}")
    return None


def reject_content_too_long(event: Event, ctx: Context) -> str | None:
    limit = ctx.config.limits.max_content_length
    if len(event.content) > limit:
        return invalid(f"content is {len(event.content)} characters, more than {limit}")
    return None


def reject_created_at_out_of_range(event: Event, ctx: Context) -> str | None:
    limits = ctx.config.limits
    if limits.created_at_upper_limit and event.created_at > ctx.now + limits.created_at_upper_limit:
        return invalid(
            "created_at is too far in the future "
            f"(more than {limits.created_at_upper_limit} s ahead)"
        )
    # The lower limit is for clients publishing now; an authentic older event copied
    # from a peer is history the peer already accepted.
    too_old = event.created_at < ctx.now - limits.created_at_lower_limit
    if limits.created_at_lower_limit and too_old and not ctx.mirrored:
        return invalid(f"created_at is too old (more than {limits.created_at_lower_limit} s ago)")
    return None


def reject_expired(event: Event, ctx: Context) -> str | None:
    if nip40.is_expired(event, ctx.now):
        return invalid("event has expired")
    return None


def reject_insufficient_pow(event: Event, ctx: Context) -> str | None:
    wanted = ctx.config.limits.min_pow_difficulty
    have = nip13.difficulty(event.id)
    if have < wanted:
        return pow_(f"difficulty {have} is less than {wanted}")
    target = nip13.committed_target(event)
    if target is not None:
        bits = nip13.target_bits(target)
        if bits is None or bits < wanted:
            return pow_(f"committed target {target[:8]!r} is less than {wanted}")
    return None


def reject_unauthenticated(_event: Event, ctx: Context) -> str | None:
    # A mirrored event was fetched by the relay itself from a peer its operator named.
    if not ctx.authed and not ctx.mirrored:
        return auth_required("this relay accepts events only from authenticated clients")
    return None


def reject_protected(event: Event, ctx: Context) -> str | None:
    """NIP-70: an event with a ``["-"]`` tag only from its authenticated author."""
    if event.pubkey not in ctx.authed and any(tag[0] == "-" for tag in event.tags):
        return auth_required("this event may only be published by its author")
    return None


def reject_blocked_pubkey(event: Event, ctx: Context) -> str | None:
    if event.pubkey in ctx.config.policy.blocked_pubkeys:
        return blocked("this public key may not publish here")
    return None


def reject_blocked_kind(event: Event, ctx: Context) -> str | None:
    if event.kind in ctx.config.policy.blocked_kinds:
        return blocked(f"kind {event.kind} is not accepted here")
    return None


def reject_not_allowed(event: Event, ctx: Context) -> str | None:
    if event.pubkey not in ctx.config.policy.allowed_pubkeys:
        return restricted("only listed authors may publish here")
    return None


def is_aid_traffic(event: Event) -> bool:
    """Clauses (a) to (d) of the module docstring; one pass over the tags, no lookups."""
    if event.kind in AID_SUPPORT_KINDS:
        return True
    if event.kind in FOLLOW_LISTS:
        return False
    for tag in event.tags:
        if len(tag) < 2:
            continue
        name, value = tag[0], tag[1]
        if name == "t":
            value = value.lower()
            if value == MUTUAL_AID or value.startswith(MAS_PREFIX):
                return True
        elif (name == "a" or name == "A") and _AID_ADDRESS(value):
            return True
    return event.kind == kinds.LABEL and not AID_PERSON_LABELS.isdisjoint(
        labels(event.tags, NAMESPACE)
    )


def reject_not_aid(event: Event, _ctx: Context) -> str | None:
    if event.kind in FOLLOW_LISTS:
        return blocked(
            f"this relay keeps no follow or interest lists (kind {event.kind}); "
            "they would list members"
        )
    if not is_aid_traffic(event):
        return blocked(
            "this relay only accepts mutual aid traffic (a 't' tag "
            f"'{MAS_PREFIX}<society>' or '{MUTUAL_AID}', or an 'a' tag naming an aid request)"
        )
    return None


def reject_gift_wrap_without_recipient(event: Event, _ctx: Context) -> str | None:
    """A wrap is served only to its ``p`` recipient; without one nobody could read it."""
    if event.kind == kinds.GIFT_WRAP and not access.recipients(event):
        return invalid("a gift wrap needs a 'p' tag naming its recipient")
    return None


def reject_mirrored_gift_wrap(event: Event, ctx: Context) -> str | None:
    """Gift wraps are copied from peers only when ``[mirror] gift_wraps`` opts in."""
    if ctx.mirrored and event.kind == kinds.GIFT_WRAP:
        return blocked("gift wraps are not mirrored here")
    return None


def build(config: Config) -> list[Reject]:
    """The reject functions this configuration turns on, cheapest and commonest first."""
    limits, policy = config.limits, config.policy
    rules: list[Reject] = [
        reject_kind_22242,
        reject_event_too_large,
        reject_too_many_tags,
        reject_content_too_long,
    ]
    if limits.created_at_upper_limit or limits.created_at_lower_limit:
        rules.append(reject_created_at_out_of_range)
    rules.append(reject_expired)
    if limits.min_pow_difficulty:
        rules.append(reject_insufficient_pow)
    if policy.blocked_pubkeys:
        rules.append(reject_blocked_pubkey)
    if policy.blocked_kinds:
        rules.append(reject_blocked_kind)
    if policy.auth_required:
        rules.append(reject_unauthenticated)
    rules.append(reject_protected)
    if policy.allowed_pubkeys:
        rules.append(reject_not_allowed)
    if policy.aid_only:
        rules.append(reject_not_aid)
    rules.append(reject_gift_wrap_without_recipient)
    if config.mirror.peers and not config.mirror.gift_wraps:
        rules.append(reject_mirrored_gift_wrap)
    return rules


def check(rules: list[Reject], event: Event, ctx: Context) -> str | None:
    """The first refusal, or None when every rule lets the event through."""
    for rule in rules:
        message = rule(event, ctx)
        if message is not None:
            return message
    return None


# ---- filters: REQ, COUNT, NEG-OPEN -----------------------------------------------

SHUTTING_DOWN = error("the relay is shutting down")


@dataclass(slots=True)
class Ask:
    """What a filter rule may know about a REQ, COUNT or NEG-OPEN and its connection."""

    config: Config
    sub_id: str
    filters: Sequence[Filter]
    authed: Set[str]
    requests: Bucket  # REQ/COUNT/NEG-OPEN per second
    query_time: TimeBucket  # seconds of store time
    stopping: bool


FilterReject = Callable[[Ask], str | None]


def reject_filter_long_sub_id(ask: Ask) -> str | None:
    limit = ask.config.limits.max_subid_length
    if len(ask.sub_id) > limit:
        return invalid(f"subscription id is longer than {limit}")
    return None


def reject_filter_rate(ask: Ask) -> str | None:
    """Takes a token: every request that gets this far counts, refused later or not."""
    if not ask.requests.take():
        rate = ask.config.rate_limits.reqs_per_second
        return rate_limited(f"at most {rate:g} REQ or COUNT a second")
    return None


def query_time_used_up(config: Config) -> str:
    """Also the end of a NIP-77 session whose NEG-MSG finds the budget spent."""
    rate = config.rate_limits.query_seconds_per_second
    return rate_limited(f"query time used up (at most {rate:g} s of queries a second)")


def reject_filter_query_time(ask: Ask) -> str | None:
    return None if ask.query_time.open() else query_time_used_up(ask.config)


def reject_filter_shutting_down(ask: Ask) -> str | None:
    return SHUTTING_DOWN if ask.stopping else None


def reject_filter_unauthenticated(ask: Ask) -> str | None:
    if not ask.authed:
        return auth_required("this relay serves only authenticated clients")
    return None


def reject_filter_too_many(ask: Ask) -> str | None:
    limit = ask.config.limits.max_filters
    if len(ask.filters) > limit:
        return invalid(f"at most {limit} filters in one request")
    return None


def reject_filter_wraps_unauthenticated(ask: Ask) -> str | None:
    return access.refusal(ask.filters, ask.authed)


def build_filter_rules(config: Config) -> list[FilterReject]:
    """The filter rules this configuration turns on, cheapest first."""
    rules: list[FilterReject] = [
        reject_filter_long_sub_id,
        reject_filter_rate,
        reject_filter_query_time,
        reject_filter_shutting_down,
    ]
    if config.policy.auth_required:
        rules.append(reject_filter_unauthenticated)
    rules += [reject_filter_too_many, reject_filter_wraps_unauthenticated]
    return rules


def check_filters(rules: list[FilterReject], ask: Ask) -> str | None:
    """The first refusal, or None when the request may run."""
    for rule in rules:
        message = rule(ask)
        if message is not None:
            return message
    return None
