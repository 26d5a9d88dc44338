"""Rich rendering for people. Functions take the console to print on; nothing is global.

:func:`untrusted` (and :func:`untrusted_markdown` for stories and reports) is the one
door for text from outside (events, relay messages, NIP-11 documents, URLs): it shows
terminal escapes and bidi controls as visible escapes (shared/untrusted.py) and returns a
``Text``, which Rich never parses for markup. A plain ``str`` handed to a Table cell or
``print`` would be parsed (``[link=...]``, ``[on red]``), so external text never goes
anywhere as a ``str``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from shieldmutual.shared.untrusted import visible

if TYPE_CHECKING:  # only types: local commands must not load the pool and websockets
    from rich.markdown import Markdown

    from shieldmutual.client.cli.plain import Column
    from shieldmutual.client.pool import PublishReport, Subscription
    from shieldmutual.client.relayinfo import RelayCheck

# By the values of the pool's StrEnums Status and RelayState (equal to their members).
STATUS_STYLE = {
    "accepted": "green",
    "duplicate": "cyan",
    "rejected": "red",
    "timeout": "yellow",
    "unreachable": "red",
}
STATE_STYLE = {
    "eose": "green",
    "waiting": "cyan",
    "connecting": "cyan",
    "timeout": "yellow",
    "unreachable": "red",
    "closed": "red",
}


def untrusted(text: object, style: str = "", *, multiline: bool = False) -> Text:
    """External text as a Text: escapes visible, markup inert; ``multiline`` keeps ``\\n``."""
    return Text(visible(str(text), multiline=multiline), style=style)


def untrusted_markdown(text: str) -> Markdown:
    """A stranger's Markdown (a story, a report) with escapes visible. Links are shown as
    ``text (url)``, not as terminal hyperlinks whose text could name another address."""
    from rich.markdown import Markdown  # markdown-it: only where a story is shown

    return Markdown(visible(text, multiline=True), hyperlinks=False)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def publish_table(report: PublishReport, min_acks: int) -> Group:
    """A heading line with the event id and the ack count, then one row per relay."""
    ok = report.ok(min_acks)
    heading = Text.assemble(
        ("event ", "bold"),
        report.event.id,
        (f"  {report.acks}/{len(report.results)} relays hold it", "green" if ok else "red"),
    )
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("relay", overflow="fold")
    table.add_column("result")
    table.add_column("message", overflow="fold")
    table.add_column("time", justify="right")
    for r in report.results:
        style = STATUS_STYLE[r.status]
        status = Text(str(r.status), style=style)
        table.add_row(untrusted(r.relay), status, untrusted(r.message), _ms(r.elapsed))
    return Group(heading, table)


def publish_line(report: PublishReport, min_acks: int) -> Text:
    """One line per event when many are published (e.g. events piped from `mas req`)."""
    ok = report.ok(min_acks)
    text = Text.assemble(
        ("ok  " if ok else "FAIL", "green" if ok else "red"),
        f" {report.event.id} {report.acks}/{len(report.results)}",
    )
    for r in report.results:
        if not r.ok:
            text.append(f"  {visible(r.relay)}: {r.status}", style=STATUS_STYLE[r.status])
            if r.message:
                text.append(f" ({visible(r.message)})")
    return text


def table(columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> Table:
    """The rich table of a listing that cli/plain.py can also print without rich (its
    cells have been through the text door already: State.print_table)."""
    table = Table(show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(Text(column.header), style=column.style, overflow=column.overflow)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def relay_check_table(checks: Sequence[RelayCheck]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("relay", overflow="fold")
    table.add_column("status")
    table.add_column("name", overflow="fold")
    table.add_column("software", overflow="fold")
    table.add_column("NIPs", overflow="fold")
    table.add_column("connect", justify="right")
    table.add_column("rtt", justify="right")
    for c in checks:
        status = Text("ok", style="green") if c.ok else untrusted(c.error or "failed", "red")
        software = " ".join(
            str(c.info[k]) for k in ("software", "version") if isinstance(c.info.get(k), str)
        )
        if c.info:
            name = untrusted(c.info.get("name", ""))
        else:  # a NIP-11 problem is only news when the relay itself answered
            name = untrusted(c.info_error if c.ok else "", "dim")
        table.add_row(
            untrusted(c.relay),
            status,
            name,
            untrusted(software),
            ", ".join(map(str, c.nips)),
            "" if c.connect_ms is None else f"{c.connect_ms:.0f} ms",
            "" if c.rtt_ms is None else f"{c.rtt_ms:.0f} ms",
        )
    return table


def subscription_summary(sub: Subscription) -> Text:
    """``12 events from 3 relays; ws://x: timeout`` for stderr at the end of `mas req`."""
    from shieldmutual.client.pool import RelayState

    text = Text(f"{sub.received} events from {len(sub.stats)} relays")
    extra = []
    if sub.duplicates:
        extra.append(f"{sub.duplicates} duplicates dropped")
    if sub.invalid:
        extra.append(f"{sub.invalid} invalid dropped")
    if extra:
        text.append(" (" + ", ".join(extra) + ")")
    for stats in sub.stats.values():
        done = stats.status == RelayState.CLOSED and stats.eose_after is not None
        if stats.status not in (RelayState.EOSE, RelayState.WAITING) and not done:
            relay = visible(stats.relay)
            text.append(f"; {relay}: {stats.status}", style=STATE_STYLE[stats.status])
            if stats.message:
                text.append(f" ({visible(stats.message)})")
    return text


def print_stderr(console: Console, renderable: Text | Table | Group | str) -> None:
    console.print(renderable, markup=False, highlight=False)


def preview(shown: RenderableType) -> Panel:
    """What a listing will look like, framed, before the question to publish it."""
    return Panel(shown, title="preview")
