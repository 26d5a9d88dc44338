"""What `mas whois` shows: the JSON form of the facts, and the same for people (Rich).

Three plain answers come first, each with its evidence, because they are what the
founding essay asks before helping someone: have they helped me (help that one of my
identities confirmed, and their public pledges to my requests), have they paid it
forward (help that others confirmed, public pledges to others), and do people I trust
vouch for them (vouches from my identities, my contacts, and whom I vouched for).
A pledge is a promise, so it never answers "yes" on its own. Then the record: requests
(those published with a revoked emergency key marked: they do not speak for the
person), reports, help confirmed, vouches. No score, no total across kinds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from shieldmutual.client.cli import fmt, render
from shieldmutual.client.cli.aidrender import handle_cells, handle_columns, id_column
from shieldmutual.client.cli.peoplerender import person
from shieldmutual.client.handles import Handle
from shieldmutual.client.names import Names
from shieldmutual.shared.aid import capital

REVOKED_KEY = "by an emergency key they revoked: does not speak for them"


@dataclass(frozen=True, slots=True)
class WhoisView:
    """What `mas whois` shows about one person, for one reader: the facts, whom the reader
    trusts and why, how people are named, the reader's identities, the relays asked (the
    naddrs' hints), and the handles the requests were given (by address)."""

    facts: capital.SocialCapital
    why: Mapping[str, str]
    names: Names
    mine: Collection[str]
    relays: Sequence[str] = ()
    handles: Mapping[str, Handle] = field(default_factory=dict)

    @property
    def yours(self) -> bool:
        return self.why.get(self.facts.pubkey) == "your identity"

    def vouches(self) -> list[capital.VouchFact]:
        """Trusted vouches first, then newest first."""
        return sorted(self.facts.vouches, key=lambda v: (not v.trusted, -v.created_at))


def _money(amount: Decimal | None, currency: str | None) -> str | None:
    return fmt.money(amount, currency) or None


def _help(h: capital.HelpFact, names: Names) -> dict[str, Any]:
    return {
        "recipient": h.recipient,
        "recipient_npub": fmt.npub(h.recipient),
        **names.fields(h.recipient, "recipient_"),
        "request": str(h.request),
        "amount": _money(h.amount, h.currency),
        "created_at": h.created_at,
    }


def _pledge(p: capital.PledgeFact, mine: Collection[str]) -> dict[str, Any]:
    return {
        "request": str(p.request),
        "to_you": p.request.pubkey in mine,
        "amount": _money(p.amount, p.currency),
        "action": p.action,
        "created_at": p.created_at,
    }


def capital_dict(view: WhoisView) -> dict[str, Any]:
    """The JSON form of `mas whois`: the answers, then the facts; no totals across kinds."""
    facts, why, names, mine = view.facts, view.why, view.names, view.mine
    hints = tuple(view.relays)[:3]
    answers = capital.answer(facts, mine)
    vouch_rows = [
        {
            "voucher": v.voucher,
            "voucher_npub": fmt.npub(v.voucher),
            **names.fields(v.voucher, "voucher_"),
            "trusted": v.trusted,
            "why_trusted": why.get(v.voucher),
            "reason": v.reason,
            "created_at": v.created_at,
        }
        for v in view.vouches()
    ]
    return {
        "pubkey": facts.pubkey,
        "npub": fmt.npub(facts.pubkey),
        **names.fields(facts.pubkey),
        "profile": profile.to_dict() if (profile := names.profiles.get(facts.pubkey)) else None,
        "yours": view.yours,
        "answers": {
            "helped_me": {
                "answer": bool(answers.helped_me),
                "confirmed_by_you": [_help(h, names) for h in answers.helped_me],
                "pledged_to_you": [_pledge(p, mine) for p in answers.pledged_to_me],
            },
            "paid_forward": {
                "answer": bool(answers.paid_forward),
                "confirmed_by_others": [_help(h, names) for h in answers.paid_forward],
                "pledged_to_others": [_pledge(p, mine) for p in answers.pledged_to_others],
            },
            "vouched_by_trusted": {
                "answer": bool(answers.trusted_vouches),
                "vouchers": [row for row in vouch_rows if row["trusted"]],
            },
        },
        "first_seen": facts.first_seen,
        "requests": [
            {
                "address": str(r.address),
                "naddr": r.address.naddr(hints),
                "title": r.title,
                "status": str(r.status),
                "published_at": r.published_at,
                "by_champion": r.by_champion,
                "revoked_key": r.revoked_key,
                "reported": r.reported,
                **(view.handles[str(r.address)].fields() if str(r.address) in view.handles else {}),
            }
            for r in facts.requests
        ],
        "requests_by_status": {str(k): v for k, v in facts.requests_by_status().items()},
        "unreported": [str(r.address) for r in facts.unreported],
        "reports": [str(a) for a in facts.reports],
        "pledges_made": facts.pledges_made,
        "pledges": [_pledge(p, mine) for p in facts.pledges],
        "help_confirmed": [_help(h, names) for h in facts.help_confirmed],
        "vouches": vouch_rows,
    }


def _times(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _answer(yes: bool, evidence: list[str], otherwise: str) -> Text:
    if yes:
        return Text.assemble(("Yes", "bold green"), ": " + "; ".join(evidence))
    return Text.assemble(("Not that we can see", "bold"), ": " + "; ".join(evidence or [otherwise]))


def answers_grid(view: WhoisView) -> Table:
    """The three questions, answered plainly, with the evidence behind each answer."""
    a = capital.answer(view.facts, view.mine)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    mine, pledged = a.helped_me, a.pledged_to_me
    evidence = [f"you confirmed their help {_times(len(mine), 'time')}"] if mine else []
    if pledged:
        evidence.append(f"{_times(len(pledged), 'public pledge')} to your requests (promises)")
    grid.add_row("Have they helped you?", _answer(bool(mine), evidence, "no help you confirmed"))
    others = a.paid_forward
    evidence = []
    if others:
        people = len({h.recipient for h in others})
        evidence.append(f"{_times(people, 'person', 'people')} confirmed their help")
    if a.pledged_to_others:
        count = len(a.pledged_to_others)
        evidence.append(f"{_times(count, 'public pledge')} to others (promises)")
    grid.add_row(
        "Have they helped others?", _answer(bool(others), evidence, "no confirmed help to others")
    )
    vouchers = [v for v in view.vouches() if v.trusted]
    text = Text()
    if vouchers:
        text.append("Yes", "bold green")
        text.append(": ")
        for n, v in enumerate(vouchers):
            text.append(", " if n else "")
            text.append_text(person(view.names, v.voucher))
            text.append_text(render.untrusted(f" ({view.why.get(v.voucher)})", "green"))
    else:
        text.append("No", "bold")
        vouches = _times(len(view.facts.vouches), "vouch", "vouches")
        text.append(f": {vouches}, none from people you trust")
    grid.add_row("Do people you trust vouch for them?", text)
    return grid


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _summary(facts: capital.SocialCapital) -> Table:
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    counts = facts.requests_by_status().items()
    by_status = ", ".join(f"{n} {s}" for s, n in counts if n)
    summary.add_row("first seen", fmt.day(facts.first_seen, "—"))
    summary.add_row(
        "requests made", f"{len(facts.requests)}" + (f" ({by_status})" * bool(by_status))
    )
    summary.add_row("reports published", str(len(facts.reports)))
    summary.add_row("pledges made", str(facts.pledges_made))
    summary.add_row("help confirmed", f"{len(facts.help_confirmed)} (by the people helped)")
    trusted = sum(v.trusted for v in facts.vouches)
    summary.add_row("vouches", f"{len(facts.vouches)} ({trusted} from people you trust)")
    return summary


def _requests(view: WhoisView) -> Table:
    table = Table(title="requests", title_justify="left", show_edge=False, pad_edge=False)
    handle_columns(table)
    for column in ("published", "title", "status", "report", ""):
        table.add_column(column, overflow="fold")
    id_column(table)
    for r in view.facts.requests:
        status = str(r.status)
        report = "yes" if r.reported else ("—" if status == "open" else "none yet")
        if r.revoked_key:
            note = Text(REVOKED_KEY, style="red")
        else:
            note = Text("by a verified champion" if r.by_champion else "")
        number, handle = handle_cells(view.handles.get(str(r.address)))
        title = render.untrusted(r.title)
        table.add_row(number, fmt.day(r.published_at), title, status, report, note, handle)
    return table


def render_capital(console: Console, view: WhoisView) -> None:
    """The answers, then the facts, for people; no score, no total."""
    facts, names = view.facts, view.names
    head = Text.assemble(
        ("whois ", "bold"), person(names, facts.pubkey), "  ", fmt.npub(facts.pubkey)
    )
    if view.yours:
        head.append("  (one of your identities)", style="cyan")
    parts: list[Any] = [head]
    profile = names.profiles.get(facts.pubkey)
    for label, value in (
        ("about", profile and profile.about),
        ("zaps to", profile and profile.lud16),
    ):
        if value:
            parts.append(Text.assemble((f"{label}: ", "dim"), render.untrusted(value)))
    parts += [answers_grid(view), Text(""), _summary(facts)]
    if facts.requests:
        parts.append(_requests(view))
    if facts.help_confirmed:
        table = _table("help confirmed", "date", "confirmed by", "amount")
        for h in facts.help_confirmed:
            amount = render.untrusted(_money(h.amount, h.currency) or "—")
            table.add_row(fmt.day(h.created_at), person(names, h.recipient), amount)
        parts.append(table)
    if facts.vouches:
        table = _table("vouches", "date", "from", "trusted", "reason")
        for v in view.vouches():
            mark = render.untrusted((view.why.get(v.voucher) or "") if v.trusted else "", "green")
            reason = render.untrusted(v.reason)
            table.add_row(fmt.day(v.created_at), person(names, v.voucher), mark, reason)
        parts.append(table)
    if not (facts.requests or facts.reports or facts.pledges_made or facts.vouches):
        parts.append(Text("No public history on these relays: weigh that yourself.", style="dim"))
    console.print(Group(*parts), markup=False, highlight=False)
