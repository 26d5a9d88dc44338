"""A seized relay: what an analyst holding its SQLite file learns about who is linked.

Three members name two champions each, hand over, check in twice; one member removes a
champion (a public revocation, a new package, a stand-down); cover DMs flow between
people. All through the real `mas` CLI against a real `mas-relay`. Then the file is read
the way an analyst would: every table in its stored order (rid, rowid, primary key),
the events by ``created_at``, the order of the file pages holding the wraps (arrival
order, when a padded wrap spilled into overflow pages, which SQLite allocates as rows
arrive: the relay's 64 KiB pages keep wraps inside their leaves), and sizes.

The analyst's best guess, for an order, is that neighbours belong together: two gift
wraps next to each other go to people with one correspondent (co-champions, or the two
ends of a DM through its self-copy), and a revocation sits next to the wraps to the
revoking member's champions. A *hit* is a neighbouring pair that really is linked. If
the order carries no information, the hits are those of a random permutation: mean
any order: the bound is the 99.95th percentile of the scores of random orders of the
same events (a false alarm about once in two thousand runs per order). Here a random
order scores about 7 of 26, the bound is about 14; the old client sent each command's
wraps back to back and the old relay kept arrival order, which scores 20: the test
checks that too, so the bound can tell.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from shieldmutual.shared import kinds
from shieldmutual.shared.aid.markdown import render_template
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.event import Event

Pair = frozenset[str]


def _party(event: Event) -> str:
    """Whom an event concerns, as the analyst reads it: a wrap's recipient, else its
    author (the revocation is signed by the member)."""
    if event.kind == kinds.GIFT_WRAP:
        (recipient,) = event.tag_values("p")
        return recipient
    return event.pubkey


def hits(order: list[str], links: set[Pair]) -> tuple[int, int]:
    """Neighbouring pairs (of different parties) that are linked, and how many there were."""
    pairs = [frozenset(p) for p in itertools.pairwise(order) if p[0] != p[1]]
    return sum(p in links for p in pairs), len(pairs)


def bound(parties: list[str], links: set[Pair], trials: int = 5000) -> int:
    """What random orders of the same events score, at the 99.95th percentile: the
    analyst learns nothing from an order that does no better than that."""
    rng = random.Random(0)  # the null distribution is the same every run
    scores = sorted(hits(rng.sample(parties, len(parties)), links)[0] for _ in range(trials))
    return scores[int(len(scores) * 0.9995)]


def _request_file(tmp_path: Path) -> str:
    request = AidRequest(
        title="If I go silent",
        summary="I was detained; a lawyer is needed.",
        story="Please help with legal costs.",
        location="Leeds",
        language="en",
        societies=("leeds-care",),
    )
    path = tmp_path / "request.md"
    path.write_text(render_template(request), encoding="utf-8")
    return str(path)


def test_a_seized_relay_links_nobody_better_than_chance(
    tmp_path: Path,
    relays: Any,
    person: Callable[..., Any],
    file_layout: Callable[[sqlite3.Connection], dict[int, int]],
) -> None:
    (relay,) = relays(1)

    def user(name: str) -> Any:
        someone = person(name, env={"MAS_PRIVATE_DELAY": "0:0.8"})
        someone.options = ("-r", relay.url)  # the relay for each command, none configured
        return someone

    # People act at the same time, as they would (and the test takes half as long).
    pool = ThreadPoolExecutor(max_workers=3)
    names = [f"m{n}" for n in range(3)]
    everyone = names + [f"{n}-{x}" for n in names for x in "ab"]
    people = dict(zip(everyone, pool.map(user, everyone), strict=True))
    members = [people[n] for n in names]
    champions = {n: (people[f"{n}-a"], people[f"{n}-b"]) for n in names}
    request = _request_file(tmp_path)
    links: set[Pair] = set()
    sent_in_order: list[str] = []  # recipients, in the order the old client sent them

    def take_care(member: Any) -> None:
        first, second = champions[member.name]
        member("champion", "add", first.npub, "--request", request)
        member("champion", "add", second.npub)
        member("checkin")
        member("checkin")

    list(pool.map(take_care, members))
    for member in members:
        first, second = champions[member.name]
        links |= {
            frozenset((first.pubkey, second.pubkey)),
            frozenset((member.pubkey, first.pubkey)),
            frozenset((member.pubkey, second.pubkey)),
        }
        sent_in_order += [first.pubkey, second.pubkey] + [first.pubkey, second.pubkey] * 2
    # Cover DMs, each to someone outside the sender's champion circle.
    talks = [
        (members[0], champions[members[1].name][0]),
        (champions[members[2].name][1], members[1]),
        (members[2], champions[members[0].name][1]),
    ]
    list(pool.map(lambda t: t[0]("dm", "send", t[1].npub, input=f"hi {t[1].name}"), talks))
    pool.shutdown()
    for sender, recipient in talks:
        links.add(frozenset((sender.pubkey, recipient.pubkey)))
        sent_in_order += [recipient.pubkey, sender.pubkey]
    # m0 removes a champion: a public revocation, a package to the other, a stand-down.
    leaving, staying = champions[members[0].name]
    members[0]("champion", "remove", leaving.npub)
    sent_in_order += [members[0].pubkey, staying.pubkey, leaving.pubkey]

    assert relay.proc.terminate() == 0  # a graceful stop: everything acknowledged is on disk
    with sqlite3.connect(f"file:{relay.db}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT rid, created_at, kind, raw FROM events").fetchall()
        tag_rids = [rid for (rid,) in db.execute("SELECT rid FROM tags")]
        pages = file_layout(db)
        overflow = "SELECT count(*) FROM dbstat WHERE name = 'events' AND pagetype = 'overflow'"
        spilled = db.execute(overflow).fetchone()[0]
        searchable = {rid for (rid,) in db.execute("SELECT rowid FROM search_text")}
    events = {rid: Event.from_json(raw) for rid, _, _, raw in rows}
    private = {
        rid: e
        for rid, e in events.items()
        if e.kind == kinds.GIFT_WRAP or (e.kind == kinds.LABEL and e.pubkey == members[0].pubkey)
    }
    wraps = {rid: e for rid, e in private.items() if e.kind == kinds.GIFT_WRAP}
    assert len(wraps) == len(sent_in_order) - 1  # every wrap is there (and one revocation)
    parties = [_party(e) for e in private.values()]

    # Sizes: one size for every wrap, whatever it carries.
    assert len({len(raw) for _, _, kind, raw in rows if kind == kinds.GIFT_WRAP}) == 1
    # Every body sits in a B-tree leaf (ordered by rid), none in overflow pages
    # allocated in arrival order.
    assert spilled == 0
    # Full-text rows would number wraps in arrival order: there are none.
    assert not searchable & set(wraps)

    limit = bound(parties, links)
    orders = {
        "events by rid": sorted(private, key=lambda rid: rid),
        "events by created_at": sorted(private, key=lambda rid: (private[rid].created_at, rid)),
        "tags table as stored": list(dict.fromkeys(r for r in tag_rids if r in private)),
        "wraps by file page": sorted(private, key=lambda rid: (pages[rid], rid)),
    }
    for name, order in orders.items():
        found, n = hits([_party(private[rid]) for rid in order], links)
        assert found <= limit, f"{name}: {found} of {n} neighbours linked (chance: {limit})"

    # The bound has teeth: the order the old client sent in, which the old relay kept.
    old, _ = hits(sent_in_order, links)
    assert old > bound(sent_in_order, links) + 3
