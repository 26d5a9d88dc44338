"""`mas export NADDR --format markdown|html|text|email|json`: a request for outside Nostr.

Blogs, press releases and mailing lists reach people no relay does. The request is
fetched (latest version) with its progress, and rendered by shared/aid (markdown.py,
export.py): escaped HTML, and an RFC 5322 text+HTML email that ``sendmail -t`` can
send as it is (``mas export NADDR --format email --to list@example.org | sendmail -t``).
Every format ends with the ``nostr:naddr`` link so readers can pledge and follow, and
says so when the request was published with a revoked or unattested emergency key.
"""

from __future__ import annotations

import time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from shieldmutual.client import aid
from shieldmutual.client.cli import aidrender, common
from shieldmutual.client.config import write_private
from shieldmutual.client.pages import page_link
from shieldmutual.shared.aid.common import format_amount
from shieldmutual.shared.aid.export import (
    email_message,
    progress_dict,
    render_html,
    render_text,
    request_dict,
)
from shieldmutual.shared.aid.markdown import render_markdown
from shieldmutual.shared.aid.progress import champion_dict, standing
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.thread import Thread
from shieldmutual.shared.untrusted import json_text

app = typer.Typer()


class Format(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"
    TEXT = "text"
    EMAIL = "email"
    JSON = "json"


def thread_dicts(request: AidRequest, thread: Thread, now: int | None = None) -> dict[str, Any]:
    """``progress`` (progress_dict with the stable standing keys) and ``champion`` (status,
    member and the notice sentence): the keys every JSON view of a request shares."""
    at = int(time.time()) if now is None else now
    return {
        "champion": champion_dict(thread.champion, aidrender.notice_for(thread.champion)),
        "progress": progress_dict(thread.progress, standing(request, thread.progress, at)),
    }


def view_dict(
    found: aid.RequestRecord, thread: Thread, naddr: str, now: int | None = None
) -> dict[str, Any]:
    """A request and its thread as JSON (`mas request show --json`, `mas export --format json`)."""

    def who(origin: Any) -> dict[str, Any]:
        return {"id": origin.id, "author": origin.pubkey, "created_at": origin.created_at}

    def amount(value: Decimal | None) -> str | None:
        return None if value is None else format_amount(value)

    return {
        **request_dict(found.request, naddr),
        **thread_dicts(found.request, thread, now),
        "pledges": [
            {
                **who(p.origin),
                "amount": amount(p.amount),
                "currency": p.currency,
                "action": p.action,
                "note": p.note,
                "offer": str(p.offer.address) if p.offer else None,  # its offer of help
                "private": p.private,
            }
            for p in thread.pledges
        ],
        "confirmations": [
            {
                **who(c.origin),
                "amount": amount(c.amount),
                "currency": c.currency,
                "helper": c.helper,
                "note": c.note,
            }
            for c in thread.confirmations
        ],
        "reports": [
            {**who(r.origin), "title": r.title, "summary": r.summary, "body": r.body}
            for r in thread.reports
        ],
        "syndications": [{**who(s.origin), "into": list(s.targets)} for s in thread.syndications],
        "event": found.event.to_dict(),
    }


def render(
    fmt: Format,
    found: aid.RequestRecord,
    thread: Thread,
    naddr: str,
    to: str | None = None,
    sender: str | None = None,
    *,
    progress: bool = True,
    page: str | None = None,
) -> str:
    """The export as text; ``progress`` False leaves the figures out, never the champion
    notice (a request from a revoked key says so in every format). ``page`` is the
    request's web page, embedded beside the ``nostr:`` link when there is one."""
    link = "nostr:" + naddr
    request = found.request
    figures = thread.progress if progress else None
    notice = aidrender.notice_for(thread.champion)
    common_args: dict[str, Any] = {"progress": figures, "link": link, "notice": notice}
    if fmt is Format.MARKDOWN:
        return render_markdown(request, **common_args, page=page)
    if fmt is Format.HTML:
        return render_html(request, **common_args, page=page)
    if fmt is Format.TEXT:
        return render_text(request, **common_args, page=page)
    if fmt is Format.EMAIL:
        message = email_message(request, **common_args, to=to, sender=sender, page=page)
        return message.as_string()
    if progress:
        data = view_dict(found, thread, naddr)
    else:
        data = {
            **request_dict(request, naddr),
            "champion": thread_dicts(request, thread)["champion"],
        }
    data["page"] = page
    return json_text(orjson.dumps(data).decode()) + "\n"


@app.command("export")
def export(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="markdown, html, text, email or json.")
    ] = Format.MARKDOWN,
    to: Annotated[str | None, typer.Option("--to", help="Email: the To address.")] = None,
    sender: Annotated[str | None, typer.Option("--from", help="Email: the From address.")] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Include pledges and updates.")
    ] = True,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file (0600).")
    ] = None,
    relay: common.RelayOption = None,
) -> None:
    """Export a request for a blog (markdown, html), chat (text), a list (email) or code.

    Example: mas export NADDR -f email --to list@example.org --from me@example.org | sendmail -t
    """
    state = common.state(ctx)
    if (to or sender) and fmt is not Format.EMAIL:
        raise typer.BadParameter("--to and --from are for --format email")
    pointer = common.request_pointer(state, naddr)
    relays = state.relays(relay, pointer.relays)

    async def fetch() -> tuple[aid.RequestRecord, Thread]:
        async with state.pool(relays) as pool:
            with state.status("fetching the request…"):
                return await aid.load_request(pool, pointer)

    found, thread = common.run(fetch())
    base = state.page_base(list(found.relays))
    page = page_link(base, found.naddr()) if base else None
    text = render(fmt, found, thread, found.naddr(), to, sender, progress=progress, page=page)
    if output is not None:
        write_private(output, text.encode("utf-8"), mode=0o600)
        state.note(f"wrote {output}")
    else:
        state.emit_text(text)
