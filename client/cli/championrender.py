"""Rich rendering of the champion commands: your champions, the members you watch, the
live view with its alarms, and what an activation is about to publish."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from shieldmutual.client import aid
from shieldmutual.client.champions import MyChampions
from shieldmutual.client.cli import fmt
from shieldmutual.client.cli.peoplerender import person
from shieldmutual.client.names import NO_NAMES, Names
from shieldmutual.shared.aid.champion import Health, Member, format_duration, watch
from shieldmutual.shared.aid.request import AidRequest

STYLE = {Health.OK: "green", Health.DUE: "yellow", Health.OVERDUE: "bold red"}


def watch_table(members: Sequence[Member], now: int, names: Names = NO_NAMES) -> Table:
    table = Table(title="Members you champion", title_justify="left", show_edge=False)
    for column in ("member", "last check-in", "every", "overdue at", "status"):
        table.add_column(column, overflow="fold")
    for member in sorted(members, key=lambda m: watch(m, now).overdue_at):
        w = watch(member, now)
        status = str(w.health)
        if w.health is Health.OVERDUE:
            status = f"OVERDUE by {format_duration(now - w.overdue_at)}"
        table.add_row(
            person(names, member.pubkey),
            f"{fmt.moment(w.last_seen)} ({format_duration(now - w.last_seen)} ago)",
            format_duration(w.interval),
            fmt.moment(w.overdue_at),
            Text(status, style=STYLE[w.health]),
        )
    return table


def live_view(members: Iterable[Member], now: int, names: Names, alarms: Sequence[str]) -> Group:
    """`champion watch`'s screen: the table, then each alarm in bold red."""
    table = watch_table(list(members), now, names)
    return Group(table, *(Text(line, style="bold red") for line in alarms))


def champions_table(mine: MyChampions, names: Names) -> Table:
    """`champion list`: the people holding your emergency key, by petname and npub."""
    table = Table(title="Your champions", title_justify="left", show_edge=False)
    for column in ("petname", "npub", "added"):
        table.add_column(column)
    for pubkey, info in mine.champions.items():
        added = fmt.day(info.get("added_at", 0))
        table.add_row(names.petnames.get(pubkey, ""), fmt.npub(pubkey), added)
    return table


def activation_preview(
    member: str,
    request: AidRequest,
    facts: str,
    relays: Sequence[str],
    current: aid.RequestRecord | None,
) -> Text:
    """What `champion activate` is about to publish, for the person to confirm."""
    edits = " (editing the version another champion published)" if current else ""
    return Text.assemble(
        ("About to publish, signed by the emergency key, for ", "bold"),
        (fmt.npub(member), "bold"),
        edits,
        f"\n  {request.title}\n  {request.summary}\n",
        f"  facts: {facts or '(none added)'}\n  relays: {', '.join(relays)}",
    )
