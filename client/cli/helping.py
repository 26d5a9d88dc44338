"""`mas pledge`, `mas confirm`, `mas update`, `mas report`: helping, and saying it arrived.

Each command finds the request behind an naddr with ``client.aid`` (every relay of the
pool plus the naddr's hints), builds the event with ``shared.aid`` and publishes it to
every relay, printing what each relay said. Money never moves through here: a pledge is
a promise, the payment goes straight to the person (docs/PROTOCOL.md §8-11).

Privacy is the default wherever a person could be put at risk:

* a pledge can be private (``--private``): a kind 14 rumor sealed and gift-wrapped
  (NIP-59) to the request's author alone, delivered to your relays and to the DM
  relays the author listed (NIP-17 kind 10050), sent apart (client/private_send.py);
  relays see only a one-time key, and its note comes from stdin or $EDITOR (``-m -``);
* a confirmation names the helper only with ``--helper NPUB --helper-consents``;
* only the person helped (the request's author, or the member a verified champion
  spoke for) may confirm, update or report: clients ignore anyone else's, so publishing
  one would only mislead.

stdout: the new event's ``nevent``/``naddr`` (one JSON object with ``--json``); stderr:
the per-relay table.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from shieldmutual.client import helping as client
from shieldmutual.client.cli import common, textin
from shieldmutual.client.helping import Promise
from shieldmutual.client.pool import PublishReport
from shieldmutual.client.private_send import Outgoing
from shieldmutual.shared import nip19
from shieldmutual.shared.aid.common import check_currency, normalize_text, parse_amount
from shieldmutual.shared.aid.report import Report, split_title
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.nip19 import pubkey_hex

app = typer.Typer()

AmountOption = Annotated[
    str | None, typer.Option("--amount", help="A plain number, e.g. 50 or 12.5.")
]
CurrencyOption = Annotated[
    str | None, typer.Option("--currency", help="e.g. GBP, EUR, sats (needed with --amount).")
]
MessageOption = Annotated[
    str | None, typer.Option("-m", "--message", help="Your words (default: a plain sentence).")
]


# ---- option checks (unit-tested) -----------------------------------------------------


def money(amount: str | None, currency: str | None) -> tuple[Decimal | None, str | None]:
    """``--amount``/``--currency`` checked together, before any key is unlocked."""
    if (amount is None) != (currency is None):
        raise InvalidError("--amount and --currency go together: give both or neither")
    if amount is None or currency is None:
        return None, None
    return parse_amount(amount.strip()), check_currency(currency.strip())


@app.command("pledge")
def pledge(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    amount: AmountOption = None,
    currency: CurrencyOption = None,
    action: Annotated[
        str | None,
        typer.Option("--action", metavar="TYPE", help="An action of the request you will join."),
    ] = None,
    message: MessageOption = None,
    private: Annotated[
        bool,
        typer.Option(
            "--private", help="Gift-wrap it to the requester alone (NIP-59); nobody else sees it."
        ),
    ] = False,
    offer: Annotated[
        str | None,
        typer.Option(
            "--offer",
            metavar="OFFER",
            help="Answer with one of your offers: its number or #id in your last offer "
            "listing, its title, or its naddr.",
        ),
    ] = None,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Promise money (--amount/--currency), an action (--action call), your offer of help
    (--offer NADDR), or several.

    A pledge is a promise: pay the person directly with one of the request's payment
    methods. Public pledges show as comments under the request; --private ones reach
    only the requester, and relays learn neither who pledged nor what.
    """
    state = common.state(ctx)
    value, unit = money(amount, currency)
    if value is None and action is None and offer is None:
        raise InvalidError(
            "pledge an amount (--amount 50 --currency GBP), an --action, an --offer, or several"
        )
    # A private note must not show in `ps` or the shell history: stdin or $EDITOR only.
    target = common.request_pointer(state, naddr)
    given_at = common.request_pointer(state, offer, "offer") if offer is not None else None
    note = normalize_text(
        textin.private_text(message, "a private pledge's note") if private else message or ""
    )
    relays, secret = state.relays_and_signer(relay, as_, target.relays)

    promise = Promise(value, unit, action, note, given_at)

    async def send() -> PublishReport | Outgoing:
        async with state.pool(relays) as pool:
            with state.status("finding the request…"):
                return await client.pledge(pool, secret, target, promise, private=private)

    sent = common.run(send())
    if isinstance(sent, Outgoing):
        pointer = "private pledge gift-wrapped to " + nip19.npub_encode(sent.to or "")
        # Sent apart, on a connection of its own with its own delay (client/private_send.py).
        report = state.send_private(relays, [sent])[0]
    else:
        pointer, report = common.nevent(sent.event, relays), sent
    common.show_published(state, report, min_acks, state.want_json(json_), pointer, private=private)


# ---- mas confirm -----------------------------------------------------------------------


@app.command("confirm")
def confirm(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    amount: AmountOption = None,
    currency: CurrencyOption = None,
    helper: Annotated[
        str | None,
        typer.Option("--helper", metavar="NPUB", help="Name who helped (needs their consent)."),
    ] = None,
    helper_consents: Annotated[
        bool,
        typer.Option("--helper-consents", help="The helper agreed to be named in public."),
    ] = False,
    message: MessageOption = None,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Say, as the person helped, that help arrived (optionally how much).

    Being seen to help someone in trouble can be dangerous, so the helper is named only
    with --helper NPUB --helper-consents; then the confirmation replies to their public
    pledge when there is one, and counts for them in `mas whois`.
    """
    state = common.state(ctx)
    value, unit = money(amount, currency)
    helper_key = pubkey_hex(helper) if helper is not None else None
    if helper_key is not None and not helper_consents:
        raise InvalidError("a helper is named only with their consent: add --helper-consents")
    if helper_key is None and helper_consents:
        raise InvalidError("--helper-consents needs --helper NPUB")
    note = normalize_text(message or "")
    target = common.request_pointer(state, naddr)
    relays, secret = state.relays_and_signer(relay, as_, target.relays)

    async def send() -> PublishReport:
        async with state.pool(relays) as pool:
            with state.status("finding the request…"):
                return await client.confirm(
                    pool, secret, target, Promise(value, unit, note=note),
                    helper=helper_key, helper_consents=helper_consents,
                )  # fmt: skip

    report = common.run(send())
    common.show_nevent(state, report, min_acks, json_, relays, helper=helper_key)


# ---- mas update ------------------------------------------------------------------------


@app.command("update")
def update(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    text: Annotated[
        str | None, typer.Argument(metavar="[TEXT]", help="The news; read from stdin if omitted.")
    ] = None,
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Post short news under your request (plain text). Long accounts: `mas report`."""
    state = common.state(ctx)
    news = textin.argument_text(text, "update")
    target = common.request_pointer(state, naddr)
    relays, secret = state.relays_and_signer(relay, as_, target.relays)

    async def send() -> PublishReport:
        async with state.pool(relays) as pool:
            with state.status("finding the request…"):
                return await client.post_update(pool, secret, target, news)

    report = common.run(send())
    common.show_nevent(state, report, min_acks, json_, relays)


# ---- mas report ------------------------------------------------------------------------

# The report's input, as `mas report` and `mas champion report` (helping for a member) take it.
ReportFromOption = Annotated[
    Path,
    typer.Option(
        "--from", metavar="FILE", help="Markdown; a first line '# Title' is the title; - is stdin."
    ),
]
ReportTitleOption = Annotated[
    str | None, typer.Option("--title", help="Title (overrides '# ...').")
]
ReportSummaryOption = Annotated[str, typer.Option("--summary", help="One line for previews.")]


def read_report(source: Path, title: str | None) -> tuple[str, str]:
    """(title, body) of a report file; ``--title`` wins over its first line's '# ...'."""
    heading, body = split_title(textin.read_source(source))
    the_title = (title or heading or "").strip()
    if not the_title:
        raise InvalidError(
            "the report needs a title: start the file with '# Title' or pass --title"
        )
    if not body:
        raise InvalidError("the report is empty")
    return the_title, body


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    naddr: common.NaddrArg,
    from_: ReportFromOption,
    title: ReportTitleOption = None,
    summary: ReportSummaryOption = "",
    relay: common.RelayOption = None,
    min_acks: common.MinAcksOption = 1,
    as_: common.AsOption = None,
    json_: common.JsonOption = False,
) -> None:
    """Publish (or edit) the spending report of your request: a NIP-23 article.

    Say what arrived and where it went; blog-style Nostr apps show it as a post. Running
    it again replaces your earlier report for the same request.
    """
    state = common.state(ctx)
    the_title, body = read_report(from_, title)
    target = common.request_pointer(state, naddr)
    relays, secret = state.relays_and_signer(relay, as_, target.relays)

    async def send() -> tuple[PublishReport, Report]:
        async with state.pool(relays) as pool:
            with state.status("finding the request…"):
                return await client.publish_report(pool, secret, target, the_title, body, summary)

    published, spending = common.run(send())
    address = spending.address(published.event.pubkey)
    common.show_published(
        state, published, min_acks, state.want_json(json_), address.naddr(tuple(relays[:3])),
        address=str(address),
    )  # fmt: skip
