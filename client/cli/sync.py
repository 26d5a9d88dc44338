"""`mas sync`: copy events between two relays, only what is missing (NIP-77).

    mas sync --from A --to B          one way: what A holds and B lacks goes to B
    mas sync A B                      both ways (as --from A --to B --both)

Without filter flags it copies all mutual aid traffic (shared/aid/traffic.py, gift wraps
left out), the same default as relay mirroring; ``--since``/``--until`` narrow it, and
``-k``, ``-a``, ``-t`` replace it with one filter of their own (like `mas req`). The
logic is client/sync.py; this module reads flags, shows a Rich progress bar on stderr
and prints the summary (``--json``: one JSON line per direction on stdout).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from typing import Annotated

import typer

from shieldmutual.client.cli import common, filteropts
from shieldmutual.client.errors import RelayError
from shieldmutual.client.flagfilter import build_filter
from shieldmutual.client.sync import Progress, Summary, SyncPlan, sync_between
from shieldmutual.shared.aid.traffic import aid_filters
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.relayurl import normalize_relay_url

app = typer.Typer()


def sync_filters(
    kinds: list[int], authors: list[str], tags: list[str], since: str | None, until: str | None
) -> list[Filter]:
    """The flags' filter, or all mutual aid traffic narrowed by ``--since``/``--until``."""
    window = build_filter(since=since, until=until)
    if kinds or authors or tags:
        return [build_filter(kinds=kinds, authors=authors, tags=tags, since=since, until=until)]
    return [replace(f, since=window.since, until=window.until) for f in aid_filters()]


def _plan(
    relays: list[str], source: str | None, target: str | None, both: bool, filters: list[Filter]
) -> SyncPlan:
    if relays and (source or target):
        raise InvalidError("give two relays, or --from and --to, not both")
    if relays:
        if len(relays) != 2:
            raise InvalidError("give exactly two relays to sync both ways: mas sync URL_A URL_B")
        source, target, both = relays[0], relays[1], True
    if not (source and target):
        raise InvalidError("say which relays: mas sync --from URL --to URL, or mas sync A B")
    source, target = normalize_relay_url(source), normalize_relay_url(target)
    if source == target:
        raise InvalidError("--from and --to are the same relay")
    return SyncPlan(source, target, filters, both)


@contextlib.contextmanager
def _progress_bar(state: common.State, show: bool) -> Iterator[Progress | None]:
    """A Rich progress bar on stderr, one line per stage, when a person watches."""
    if not show or not state.err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=state.err, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield update


def _show(state: common.State, summary: Summary) -> None:
    state.note(
        f"{summary.source} -> {summary.target}: {summary.have} already on both, "
        f"{summary.need} missing, {summary.received} received, {summary.sent} sent"
        + (f", {summary.duplicate} already there" if summary.duplicate else "")
        + (f", {summary.gone} gone from {summary.source}" if summary.gone else "")
        + (f", {summary.unanswered} unanswered" if summary.unanswered else "")
    )
    for reason, count in summary.refused.most_common():
        state.warn(f"{count} refused: {reason}")


@app.command("sync")
def sync_cmd(
    ctx: typer.Context,
    relays: Annotated[
        list[str] | None, typer.Argument(metavar="[URL_A URL_B]", help="Sync both ways.")
    ] = None,
    source: Annotated[str | None, typer.Option("--from", metavar="URL", help="Copy from.")] = None,
    target: Annotated[str | None, typer.Option("--to", metavar="URL", help="Copy to.")] = None,
    both: Annotated[bool, typer.Option("--both", help="Both ways (with --from/--to).")] = False,
    kind: filteropts.KindOpt = None,
    author: filteropts.AuthorOpt = None,
    tag: filteropts.TagOpt = None,
    since: filteropts.SinceOpt = None,
    until: filteropts.UntilOpt = None,
    auth: common.AuthOption = False,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Copy between two relays only what one of them lacks (NIP-77).

    Default filter: all mutual aid traffic (no gift wraps). Every event is verified
    before it is sent on. Running it again sends nothing new; an interrupted run is
    finished by running it again. Exits 3 when a relay cannot be reached or does not
    support NIP-77. With --auth, relays that ask for NIP-42 get the identity's answer.
    """
    state = common.state(ctx)
    filters = sync_filters(kind or [], author or [], tag or [], since, until)
    plan = _plan(relays or [], source, target, both, filters)
    as_json = state.want_json(json_)
    timeout = state.plain_config.timeouts.eose
    auth_key = state.signer(as_) if auth else None

    connect = partial(state.pool, [plan.source, plan.target], auth=auth_key)
    with _progress_bar(state, not as_json) as bar:
        kwargs = {"progress": bar} if bar is not None else {}
        ran = sync_between(connect, plan, proxy=state.proxy, timeout=timeout, **kwargs)
        summaries = common.run(ran)
    for summary in summaries:
        if as_json:
            state.emit_json(summary.to_dict())
        else:
            _show(state, summary)
    unanswered = sum(s.unanswered for s in summaries)
    if unanswered:
        raise RelayError(f"{unanswered} events got no answer; run mas sync again to send them")
