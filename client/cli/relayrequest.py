"""`mas relay-request`: relay (syndicate) a request into other societies.

A NIP-18 repost (kind 16) carrying the exact signed request, published by whoever relays
it (client/requests.syndicate); stdout: the repost's nevent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shieldmutual.client.cli import common

if TYPE_CHECKING:
    from shieldmutual.client.requests import Syndicated

app = typer.Typer()


@app.command("relay-request")
def relay_request(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    to: Annotated[
        list[str],
        typer.Option("--to", metavar="mas-SLUG", help="Society to relay it into (repeat)."),
    ],
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Relay (syndicate) a request into other societies, so their followers see it.

    Publishes a NIP-18 repost (kind 16) carrying the exact signed request; anyone may
    relay any request. Prints the repost's nevent.
    """
    from shieldmutual.client.cli.society import parse_slug
    from shieldmutual.client.pages import page_link
    from shieldmutual.client.requests import syndicate
    from shieldmutual.shared.aid.society import mas_tag

    state = common.state(ctx)
    targets = tuple(dict.fromkeys(parse_slug(t) for t in to))
    pointer = common.request_pointer(state, naddr)
    relays, secret = state.relays_and_signer(relay, as_)

    async def send() -> Syndicated:
        async with state.pool(relays) as pool:
            return await syndicate(pool, secret, pointer, targets)

    done = common.run(send())
    found, report = done.found, done.report
    if done.already:
        state.warn(f"the request is already in {', '.join(f'mas-{t}' for t in done.already)}")
    acked = [r.relay for r in report.results if r.ok]
    link = common.nevent(report.event, acked)
    base = state.page_base(acked)
    page = page_link(base, found.naddr()) if base else None
    common.show_published(state, report, min_acks, state.want_json(json_), link,
                   into=[mas_tag(t) for t in targets], page=page)  # fmt: skip
    if page and not state.want_json(json_):
        state.note(f"page: {page}")
