"""Rich rendering of `mas dm read`: who wrote to whom, when, and what (through the text
door: a correspondent wrote it)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from shieldmutual.client.cli import fmt, render
from shieldmutual.client.cli.peoplerender import person
from shieldmutual.client.names import Names
from shieldmutual.shared.nip17 import DirectMessage


def messages_table(messages: Sequence[DirectMessage], names: Names, me: str) -> Table:
    """One row per message, oldest first; you are "you", others by petname or npub."""
    table = Table(show_edge=False, pad_edge=False)
    for column in ("when", "from", "to", "message"):
        table.add_column(column, overflow="fold")
    you = Text("you")
    for m in messages:
        to = Text(", ").join(you if p == me else person(names, p) for p in m.recipients)
        body = f"[{m.subject}] {m.content}" if m.subject else m.content
        who = you if m.sender == me else person(names, m.sender)
        table.add_row(fmt.moment(m.created_at), who, to, render.untrusted(body, multiline=True))
    return table
