"""How people are shown on a terminal (Rich): a person's name as this reader knows them,
and a published profile. Everything a stranger wrote goes through ``render.untrusted``."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from shieldmutual.client.cli import render
from shieldmutual.client.names import Names
from shieldmutual.shared.profile import WRITABLE, Profile

STYLE = {"petname": "bold", "profile": "italic", "npub": ""}  # by names.Source (a StrEnum)


def person(names: Names, pubkey: str) -> Text:
    """How a person is shown: a petname plain, a stranger's profile name as ``~name (npub…)``."""
    return render.untrusted(names.show(pubkey), STYLE[names.source(pubkey)])


def profile_grid(profile: Profile) -> Table:
    """`mas id profile --show`: the profile's fields a person can set, one per row."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name in WRITABLE:
        value = getattr(profile, name)
        if value is not None:
            table.add_row(name, render.untrusted(value, multiline=True))
    return table
