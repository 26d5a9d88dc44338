"""Rich rendering of offers of help for people (requests are aidrender.py's).

Every line that says what a thing is says "offer", so an offer is never mistaken for a
request in a mixed feed. Text from events goes only through render.py's door
(``untrusted``, ``untrusted_markdown``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from shieldmutual.client.cli.aidrender import (
    handle_cells,
    handle_columns,
    id_column,
    line_start,
    status_text,
)
from shieldmutual.client.cli.fmt import day
from shieldmutual.client.cli.peoplerender import person
from shieldmutual.client.cli.render import untrusted, untrusted_markdown
from shieldmutual.client.handles import Handle
from shieldmutual.client.names import NO_NAMES, Names
from shieldmutual.client.offers import OfferThread
from shieldmutual.shared.aid.feed import FeedItem
from shieldmutual.shared.aid.offer import Offer

MARK = Text("OFFER", style="bold magenta")


def offer_view(
    offer: Offer,
    author: str | None = None,
    naddr: str | None = None,
    thread: OfferThread | None = None,
    names: Names = NO_NAMES,
    handles: Mapping[str, Handle] | None = None,
) -> RenderableType:
    """`mas offer show` (with its ``thread``, its answered requests numbered by
    ``handles``) and the preview before publishing."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    where = offer.location + (f"  (geohash {offer.geohash})" if offer.geohash else "")
    rows = [
        ("kind of help", ", ".join(offer.categories)),
        ("where", where),
        ("when", offer.availability),
        ("until", day(offer.until)),
        ("contact", ", ".join(offer.contact)),
        ("language", offer.language or ""),
        ("societies", " ".join(f"mas-{s}" for s in offer.societies)),
        ("tags", " ".join(offer.hashtags)),
    ]
    for name, value in rows:
        if value:
            facts.add_row(name, untrusted(value))
    if author:
        facts.add_row("by", person(names, author))
    parts: list[RenderableType] = [
        Text.assemble(MARK, " ", status_text(offer.status), "  free help, never sold"),
        untrusted(offer.title, "bold"),
        untrusted(offer.summary, "italic"),
        facts,
        untrusted_markdown(offer.description),
    ]
    if thread is not None and thread.answers:
        table = Table(show_edge=False, pad_edge=False, title="answered requests")
        handle_columns(table)
        for column in ("when", "request", "note"):
            table.add_column(column, overflow="fold")
        id_column(table)
        for answer in thread.answers:
            title = untrusted(answer.title) if answer.title else Text("(not found)", style="dim")
            number, short = handle_cells((handles or {}).get(str(answer.request)))
            note = untrusted(answer.note)
            table.add_row(number, day(answer.created_at), title, note, short)
        parts.append(table)
    for reply in thread.replies if thread is not None else ():
        if reply.origin is not None:
            when = Text(f"reply {day(reply.origin.created_at)} from ")
            who = person(names, reply.origin.pubkey)
            parts.append(Text.assemble(when, who, ": ", untrusted(reply.text, multiline=True)))
    if naddr:
        parts.append(Text(f"\n{naddr}", style="dim"))
    return Panel(Group(*parts), expand=False)


def offers_table(
    items: Sequence[FeedItem], handles: Mapping[str, Handle], names: Names = NO_NAMES
) -> Table:
    """`mas offer list` and the offers beside the requests in `mas feed`."""
    table = Table(show_edge=False, pad_edge=False, title="offers of help", title_justify="left")
    handle_columns(table)
    for column in ("published", "status", "offer", "kind", "by", "where", "societies"):
        table.add_column(column, overflow="fold", max_width=40 if column == "offer" else None)
    id_column(table)
    for item in items:
        o = item.request
        assert isinstance(o, Offer)
        societies = {*o.societies, *(s for v in item.via for s in v.into)}
        number, short = handle_cells(handles.get(str(item.address)))
        table.add_row(
            number,
            day(o.published_at),
            status_text(o.status),
            untrusted(o.title),
            untrusted(", ".join(o.categories)),
            person(names, item.event.pubkey),
            untrusted(o.location),
            untrusted(" ".join(f"mas-{s}" for s in sorted(societies))),
            short,
        )
    return table


def offer_line(
    item: FeedItem, naddr: str, new: bool, names: Names = NO_NAMES, handle: Handle | None = None
) -> Text:
    """One line per offer for a feed piped to a file, marked ``offer`` after the new/edit
    column where a request's line has its status first."""
    o = item.request
    assert isinstance(o, Offer)
    start = line_start(handle, new, item.version)
    kind = ", ".join(o.categories)
    line = untrusted(f"{start} offer  {o.status.value:<6} {o.title} — {kind} — {o.location} (by ")
    return Text.assemble(line, person(names, item.event.pubkey), f") {naddr}")
