"""The filter options of `mas feed`, `mas request list` and `mas offer list`, and the
NIP-01 ones that `mas req` and `mas sync` share.

A module of their own, importing only typer, so that a command module can declare them
without importing the feed (the pool, rich's live view, markdown): `mas request template`
must not pay for `mas feed`.
"""

from __future__ import annotations

from typing import Annotated

import typer

SocietyFilterOpt = Annotated[
    list[str] | None,
    typer.Option("--society", metavar="mas-SLUG", help="Instead of the followed ones (repeat)."),
]
LanguageFilterOpt = Annotated[
    str | None, typer.Option("--language", help="Only requests in this language (e.g. en).")
]
PlaceFilterOpt = Annotated[
    str | None, typer.Option("--place", metavar="GEOHASH", help="Only near this geohash prefix.")
]
StatusFilterOpt = Annotated[
    list[str] | None, typer.Option("--status", help="open, funded or closed (repeat).")
]
KindOpt = Annotated[list[int] | None, typer.Option("-k", "--kind", help="Kind (repeat).")]
AuthorOpt = Annotated[
    list[str] | None,
    typer.Option("-a", "--author", metavar="PUBKEY", help="Author, hex or npub (repeat)."),
]
TagOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-t", "--tag", metavar="X=VALUE", help="Tag filter #X (repeat); a bare VALUE is #t."
    ),
]
SinceOpt = Annotated[str | None, typer.Option("--since", help="e.g. '2 days ago', 1h, 2024-05-01.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Same forms as --since.")]
