"""Rich rendering of requests, feeds and societies for people (cli/render.py is the core's).

Every function returns a renderable or takes the console to print on; nothing is
global. Text from events goes only through render.py's door (``untrusted``, a Text with
escapes made visible, never markup) or ``untrusted_markdown`` for story and details.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from shieldmutual.client.cli.fmt import day, money, short_npub
from shieldmutual.client.cli.peoplerender import person
from shieldmutual.client.cli.render import untrusted, untrusted_markdown
from shieldmutual.client.handles import Handle
from shieldmutual.client.names import NO_NAMES, Names
from shieldmutual.shared import nip19
from shieldmutual.shared.aid.helping import how_to_help
from shieldmutual.shared.aid.progress import (
    STATE_SENTENCE,
    Standing,
    State,
    champion_mark,
    champion_notice,
    counted,
    deadline_text,
    pledged_text,
    received_text,
    share_text,
    short_summary,
    standing,
    time_left,
)
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.vouch import ChampionCheck, ChampionStatus

if TYPE_CHECKING:  # types only: `following` shows a table without loading the pool
    from shieldmutual.client.aid import RequestRecord, SocietyRecord
    from shieldmutual.shared.aid.feed import FeedItem
    from shieldmutual.shared.aid.thread import Thread

STATUS_STYLE = {Status.OPEN: "green", Status.FUNDED: "cyan", Status.CLOSED: "dim"}
STATE_STYLE = {
    State.OPEN: "green",
    State.EXPIRED: "yellow",
    State.FUNDED: "cyan",
    State.CLOSED: "dim",
}


def asking(request: AidRequest) -> str:
    return money(request.amount, request.currency)


def status_text(status: Status) -> Text:
    return Text(status.value, style=STATUS_STYLE[status])


def _heading(text: str) -> Text:
    return untrusted(f"\n{text}", "bold underline", multiline=True)


def request_preview(
    request: AidRequest, author: str | None = None, names: Names = NO_NAMES
) -> RenderableType:
    """What will be published: the facts, the story, and how people can help."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    rows = [
        ("status", status_text(request.status)),
        ("asking", asking(request)),
        ("where", request.location + (f"  (geohash {request.geohash})" if request.geohash else "")),
        ("language", request.language or ""),
        ("deadline", day(request.deadline)),
        ("societies", " ".join(f"mas-{s}" for s in request.societies)),
        ("tags", " ".join(request.hashtags)),
        ("by", person(names, author) if author else ""),
    ]
    for name, value in rows:
        if value:
            facts.add_row(name, value if isinstance(value, Text) else untrusted(value))
    for url in request.images:  # a link to open, never fetched: fetching tells the host
        facts.add_row("picture", untrusted(url, f"link {url}"))
    parts: list[RenderableType] = [
        untrusted(request.title, "bold"),
        untrusted(request.summary, "italic"),
        facts,
        _heading("Story"),
        untrusted_markdown(request.story),
    ]
    if request.details:
        parts += [_heading("Details"), untrusted_markdown(request.details)]
    how = how_to_help(request.payments, request.actions)
    parts += [_heading("How to help"), untrusted_markdown(how)]
    return Group(*parts)


CHAMPION_STYLE = {
    ChampionStatus.VERIFIED: "green",
    ChampionStatus.REVOKED: "red",
    ChampionStatus.UNVERIFIED: "yellow",
}


def champion_line(check: ChampionCheck, names: Names = NO_NAMES) -> Text | None:
    """The attribution of a request published with an emergency key, or a warning
    (the wording is progress.champion_notice's, shared by every view and export)."""
    if check.member is None:
        return None
    notice = champion_notice(check, names.show(check.member))
    return None if notice is None else untrusted(notice, CHAMPION_STYLE[check.status])


def notice_for(check: ChampionCheck) -> str | None:
    """The champion sentence for exports (same wording as :func:`champion_line`)."""
    return None if check.member is None else champion_notice(check, short_npub(check.member))


def progress_table(figures: Standing) -> Table:
    """`request show`'s progress: state, asked, received, pledged, deadline."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    style = STATE_STYLE[figures.state]
    table.add_row("state", Text(STATE_SENTENCE[figures.state], style=style))
    if figures.asked is not None:
        table.add_row("asked", untrusted(money(figures.asked, figures.currency)))
    received = f"{received_text(figures)} in {counted(figures.confirmations, 'confirmation')}"
    table.add_row("received", untrusted(received))
    pledged = f"{pledged_text(figures)} in {counted(figures.pledges, 'pledge')}"
    table.add_row("pledged", untrusted(pledged))
    table.add_row("", Text("a pledge is a promise, not money received", style="dim"))
    if figures.deadline is not None:
        table.add_row("deadline", deadline_text(figures))
    return table


def request_view(
    found: RequestRecord,
    thread: Thread,
    naddr: str,
    now: int | None = None,
    names: Names = NO_NAMES,
) -> RenderableType:
    """`mas request show`: the request, then everything said about it."""
    parts: list[RenderableType] = []
    line = champion_line(thread.champion, names)
    if line is not None:
        parts.append(line)
    parts.append(request_preview(found.request, found.event.pubkey, names))
    figures = standing(found.request, thread.progress, int(time.time()) if now is None else now)
    parts += [_heading("Progress"), progress_table(figures)]
    if thread.pledges:
        table = Table(show_edge=False, pad_edge=False, title="pledges", title_justify="left")
        for column in ("when", "who", "amount", "action", "note"):
            table.add_column(column, overflow="fold")
        for pledge in thread.pledges:
            o = pledge.origin
            amount = money(pledge.amount, pledge.currency) if pledge.amount else ""
            table.add_row(
                day(o.created_at if o else None),
                person(names, o.pubkey) if o else "",
                untrusted(amount),
                untrusted(" ".join(filter(None, [pledge.action, "offer" if pledge.offer else ""]))),
                untrusted(
                    ("(private) " if pledge.private else "")
                    + (pledge.content() if pledge.offer else pledge.note),  # with the offer's link
                    multiline=True,
                ),
            )
        parts.append(table)
    for update in thread.updates:
        when = day(update.origin.created_at if update.origin else None)
        parts.append(untrusted(f"update {when}: {update.text}", multiline=True))
    for report in thread.reports:
        title = untrusted(f"\nReport: {report.title}", "bold underline", multiline=True)
        parts += [title, untrusted_markdown(report.body)]
    for syndication in thread.syndications:
        by = names.show(syndication.origin.pubkey) if syndication.origin else "someone"
        into = " ".join(f"mas-{s}" for s in syndication.targets)
        parts.append(untrusted(f"relayed into {into} by {by}", "dim"))
    parts.append(Text(f"\n{naddr}", style="dim"))
    return Panel(Group(*parts), expand=False)


def asked(item: FeedItem) -> AidRequest:
    """A request row's request (offers have their own table and lines, offerrender.py)."""
    if not isinstance(item.request, AidRequest):
        raise TypeError(f"{item.address} is an offer, not a request")
    return item.request


def _figures(
    item: FeedItem, threads: Mapping[str, Thread], now: int
) -> tuple[Standing | None, ChampionCheck | None]:
    thread = threads.get(str(item.address))
    if thread is None:
        return None, None
    return standing(asked(item), thread.progress, now), thread.champion


def _cell(figures: Standing | None, *, received: bool) -> str:
    if figures is None:
        return ""  # the thread could not be fetched: unknown, not "none yet"
    if received:
        return share_text(figures.received, figures.percent_received, figures, short=True)
    return share_text(figures.pledged, figures.percent_pledged, figures, short=True)


def handle_columns(table: Table) -> None:
    """A listing's row-number column; the short id column is :func:`id_column`. Neither
    ever wraps: a handle is read and typed whole (`mas request show 3`, `#a1b2c3`)."""
    table.add_column("#", justify="right", no_wrap=True, min_width=1)


def id_column(table: Table) -> None:
    table.add_column("id", no_wrap=True, min_width=7)


def handle_cells(handle: Handle | None) -> tuple[str, str]:
    """The number and short id cells of a row (empty when the row has no handle)."""
    return ("", "") if handle is None else (str(handle.number), handle.id)


def requests_table(
    items: Sequence[FeedItem],
    handles: Mapping[str, Handle],
    threads: Mapping[str, Thread] | None = None,
    now: int | None = None,
    names: Names = NO_NAMES,
) -> Table:
    """`mas request list` and the live feed: one row per request, newest first; with
    ``threads`` (fetched in one batch) also received, pledged, time left and a mark for
    a request published with a revoked or unattested emergency key."""
    threads = threads or {}
    at = int(time.time()) if now is None else now
    table = Table(show_edge=False, pad_edge=False)
    handle_columns(table)
    table.add_column("published")
    table.add_column("status")
    table.add_column("title", overflow="fold", max_width=40)
    table.add_column("by", overflow="fold", max_width=30)
    table.add_column("asking", justify="right")
    table.add_column("received", justify="right", overflow="fold")
    table.add_column("pledged", justify="right", overflow="fold")
    table.add_column("left", overflow="fold")
    table.add_column("where", overflow="fold", max_width=20)
    table.add_column("societies", overflow="fold")
    id_column(table)
    for item in items:
        r = asked(item)
        societies = {*r.societies, *(s for v in item.via for s in v.into)}
        figures, check = _figures(item, threads, at)
        status = status_text(r.status)
        if check is not None and (mark := champion_mark(check)):
            status.append(f"\n{mark}", style=CHAMPION_STYLE[check.status])
        left = ""
        if figures is not None and figures.state in (State.OPEN, State.EXPIRED):
            left = time_left(figures.seconds_left).removesuffix(" left")
        number, short = handle_cells(handles.get(str(item.address)))
        table.add_row(
            number,
            day(r.published_at),
            status,
            untrusted(r.title),
            person(names, item.event.pubkey),
            untrusted(asking(r)),
            untrusted(_cell(figures, received=True)),
            untrusted(_cell(figures, received=False)),
            left,
            untrusted(r.location),
            untrusted(" ".join(f"mas-{s}" for s in sorted(societies))),
            short,
        )
    return table


def line_start(handle: Handle | None, new: bool, version: int) -> str:
    """A feed line's handle (number and short id) and its new/edit mark."""
    mark = "new " if new else ("edit" if version > 1 else "    ")
    return mark if handle is None else f"{handle.number:>3} {handle.id} {mark}"


def feed_line(
    item: FeedItem,
    naddr: str,
    new: bool,
    thread: Thread | None = None,
    now: int | None = None,
    names: Names = NO_NAMES,
    handle: Handle | None = None,
) -> Text:
    """One line per request for a feed piped to a file (not a terminal)."""
    r = asked(item)
    via = "".join(f" (via mas-{', mas-'.join(v.into)})" for v in item.via[-1:])
    start = line_start(handle, new, item.version)
    text = untrusted(f"{start} {r.status.value:<6} {r.title}")
    if thread is not None and champion_mark(thread.champion):
        text.append(f" [{champion_mark(thread.champion)}]")
    text.append(untrusted(f" — by {names.show(item.event.pubkey)}"))
    if r.amount is not None:
        text.append(untrusted(f" — {asking(r)}"))
    if thread is not None:
        at = int(time.time()) if now is None else now
        text.append(untrusted(f" — {short_summary(standing(r, thread.progress, at))}"))
    text.append(untrusted(f" — {r.location}{via} {naddr}"))
    return text


def societies_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """`mas society list`: rows as ``society.society_dict`` makes them (also the JSON)."""
    table = Table(show_edge=False, pad_edge=False)
    for column in ("", "tag", "name", "language", "requests", "members", "described by"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            "*" if row.get("following") else "",
            untrusted(row["tag"]),
            untrusted(row["name"] or ""),
            untrusted(row["language"] or ""),
            str(row.get("requests", "")),
            untrusted(" ".join(row["members"])),
            short_npub(row["author"]) if row["author"] else Text("no definition", style="dim"),
        )
    return table


def society_view(record: SocietyRecord, naddr: str) -> RenderableType:
    s = record.society
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    facts.add_row("tag", untrusted(s.tag))
    if s.language:
        facts.add_row("language", untrusted(s.language))
    for relay in s.relays:
        facts.add_row("relay", untrusted(relay))
    for member in s.members:
        facts.add_row("member", untrusted(f"mas-{member.identifier} ({short_npub(member.pubkey)})"))
    facts.add_row("described by", nip19.npub_encode(record.event.pubkey))
    facts.add_row("updated", day(record.event.created_at))
    facts.add_row("naddr", naddr)
    body: list[RenderableType] = [untrusted(s.name, "bold")]
    if s.description:
        body.append(untrusted(s.description, multiline=True))
    return Panel(Group(*body, facts), expand=False)
