"""`mas follow`, `mas unfollow`, `mas following`: the societies in your feed.

Following is local state (client/state.py): it is never published, and the only thing a
relay ever learns is the query a feed sends, like any other search. `follow --members`
reads a syndicate's definition (client/societies.py) to follow its member societies too.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from shieldmutual.client.cli import common, fmt
from shieldmutual.client.cli.plain import Column
from shieldmutual.client.cli.society import ByOption, TagsArg, parse_slug
from shieldmutual.client.errors import ClientError
from shieldmutual.client.state import LocalState
from shieldmutual.shared.aid.society import mas_tag

app = typer.Typer()


@app.command("follow")
def follow(
    ctx: typer.Context,
    tags: TagsArg,
    members: Annotated[
        bool,
        typer.Option("--members", help="Also follow a syndicate's member societies (looked up)."),
    ] = False,
    by: ByOption = None,
    relay: common.RelayOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Follow societies in your feed. Kept on this device only: nothing is published.

    With --members, a syndicate's definition is looked up on the relays (a read, like
    any query) and its member societies are followed through it.
    """
    from shieldmutual.shared.nip19 import pubkey_hex

    state = common.state(ctx)
    slugs = [parse_slug(t) for t in tags]
    expanded: dict[str, list[str]] = {slug: [] for slug in slugs}
    if members:
        authors = [pubkey_hex(by)] if by else []
        relays = state.relays(relay)

        from shieldmutual.client import societies  # only here: following is local

        connect = partial(state.pool, relays)
        expanded.update(common.run(societies.syndicate_members(connect, slugs, authors)))
    local = LocalState.load(state.home)
    changed = {slug: local.follow(slug, expanded[slug]) for slug in slugs}
    local.save()
    for slug in slugs:
        entry = local.follows[slug]
        if state.want_json(json_):
            state.emit_json({"tag": mas_tag(slug), "members": list(entry.members),
                             "changed": changed[slug]})  # fmt: skip
        else:
            also = f" (and {', '.join(f'mas-{m}' for m in entry.members)})" if entry.members else ""
            state.emit_line(f"following mas-{slug}{also}")
    state.note(f"kept locally in {local.path}; nothing was published")


@app.command("unfollow")
def unfollow(ctx: typer.Context, tags: TagsArg, json_: common.JsonOption = False) -> None:
    """Stop following societies (local only, like following)."""
    state = common.state(ctx)
    slugs = [parse_slug(t) for t in tags]
    local = LocalState.load(state.home)
    missing = [f"mas-{s}" for s in slugs if s not in local.follows]
    if missing:
        raise ClientError(f"not following {', '.join(missing)} (see `mas following`)")
    for slug in slugs:
        local.unfollow(slug)
        if state.want_json(json_):
            state.emit_json({"tag": mas_tag(slug), "following": False})
        else:
            state.emit_line(f"no longer following mas-{slug}")
    local.save()


FOLLOW_COLUMNS = tuple(
    Column(header, overflow="fold")
    for header in ("tag", "since", "also follows (syndicate members)")
)


@app.command("following")
def following(ctx: typer.Context, json_: common.JsonOption = False) -> None:
    """The societies you follow (from this device's local state)."""
    state = common.state(ctx)
    local = LocalState.load(state.home)
    entries = sorted(local.follows.values(), key=lambda f: f.slug)
    if state.want_json(json_):
        for f in entries:
            state.emit_json({"tag": mas_tag(f.slug), "since": f.since,
                             "members": list(f.members), "tags": list(f.tags)})  # fmt: skip
    elif entries:
        rows = [
            [
                f"mas-{f.slug}",
                fmt.day(f.since),
                " ".join(f"mas-{m}" for m in f.members),
            ]
            for f in entries
        ]
        state.print_table(FOLLOW_COLUMNS, rows)
    else:
        state.note("not following any society yet: `mas follow mas-<slug>`")
