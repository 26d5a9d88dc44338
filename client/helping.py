"""Helping with a request, over the relay pool, without a screen: pledge, confirm, post
news, publish the spending report.

The commands (client/cli/helping.py) parse options and show results; these take a pool,
the signer and typed values, so tests call them against a relay directly. Only the
person helped (the request's author, or the member a verified champion spoke for) may
confirm, update or report: clients ignore anyone else's, so it is refused before
anything is published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from shieldmutual.client import aid
from shieldmutual.client.errors import ClientError
from shieldmutual.client.pool import Pool, PublishReport
from shieldmutual.client.private_send import Outgoing
from shieldmutual.shared import event as event_mod
from shieldmutual.shared import nip59
from shieldmutual.shared.aid.comments import (
    Confirmation,
    Pledge,
    RequestRef,
    Update,
    confirmation_template,
    pledge_template,
    update_template,
)
from shieldmutual.shared.aid.helping import action_types
from shieldmutual.shared.aid.offer import parse_offer
from shieldmutual.shared.aid.report import Report, report_identifier, report_template
from shieldmutual.shared.aid.thread import Thread
from shieldmutual.shared.errors import InvalidError
from shieldmutual.shared.event import Event
from shieldmutual.shared.keys import SecretKey


def require_recipient(signer: str, thread: Thread, what: str) -> None:
    """Only the person helped may confirm, update or report; refuse before publishing."""
    if signer in thread.recipients:
        return
    who = "the request's author"
    if thread.champion.member:
        who += " or the member a verified champion published it for"
    raise ClientError(
        f"only {who} can publish a {what} for this request; clients ignore anyone else's "
        f"(use --as to pick the identity that made it)"
    )


async def load_as_recipient(
    pool: Pool, pointer: aid.RequestPointer, signer: SecretKey, what: str
) -> tuple[aid.RequestRecord, Thread]:
    """The request and its thread, refusing unless ``signer`` may publish a ``what`` for it."""
    found, thread = await aid.load_request(pool, pointer)
    require_recipient(signer.public_hex, thread, what)
    return found, thread


def ref(found: aid.RequestRecord) -> RequestRef:
    return RequestRef.of(found.event, found.relays[0] if found.relays else "")


async def own_offer(pool: Pool, pointer: aid.RequestPointer, secret: SecretKey) -> RequestRef:
    """The helper's own offer at ``pointer`` (shared/aid/offer.py), to cite in a pledge:
    pointing at someone else's offer would promise their help in their name."""
    found = await aid.fetch_request(pool, pointer, read=parse_offer)
    if found.address.pubkey != secret.public_hex:
        raise ClientError("--offer must be one of your own offers (use --as for its identity)")
    return ref(found)


@dataclass(frozen=True, slots=True)
class Promise:
    """What a pledge promises (money, an action of the request, one's own offer) or a
    confirmation says arrived (money), with a note."""

    amount: Decimal | None = None
    currency: str | None = None
    action: str | None = None
    note: str = ""
    offer: aid.RequestPointer | None = None


async def pledge(
    pool: Pool, secret: SecretKey, target: aid.RequestPointer, promise: Promise, *, private: bool
) -> PublishReport | Outgoing:
    """A public pledge, published; or a private one, gift-wrapped to the request's author
    and returned to be sent apart (client/private_send.py), on its own connection."""
    found = await aid.fetch_request(pool, target)
    asked = action_types(found.request.actions)
    if promise.action is not None and promise.action not in asked:
        asked_for = ", ".join(asked) or "none"
        raise InvalidError(
            f"the request asks for no {promise.action!r} action (it asks: {asked_for})"
        )
    given = await own_offer(pool, promise.offer, secret) if promise.offer is not None else None
    template = pledge_template(
        Pledge(ref(found), promise.amount, promise.currency, promise.action, promise.note,
               private, offer=given)
    )  # fmt: skip
    if not private:
        return await aid.publish(pool, secret, template)
    recipient = found.address.pubkey
    wrap = nip59.wrap(secret, recipient, nip59.make_rumor(secret.public_hex, *template))
    return Outgoing(wrap, "private pledge", recipient, lookup=True)


async def confirm(
    pool: Pool,
    secret: SecretKey,
    target: aid.RequestPointer,
    promise: Promise,
    *,
    helper: str | None = None,
    helper_consents: bool = False,
) -> PublishReport:
    """Say, as the person helped, that help arrived (``promise``'s amount and note); a
    named ``helper`` is answered on their latest public pledge when there is one."""
    found, thread = await load_as_recipient(pool, target, secret, "confirmation")
    pledge_id = None
    if helper is not None:
        theirs = [p.origin for p in thread.pledges if p.origin and p.origin.pubkey == helper]
        pledge_id = theirs[-1].id if theirs else None
    said = Confirmation(
        ref(found), promise.amount, promise.currency, helper, pledge_id, promise.note
    )
    template = confirmation_template(said, helper_consents=helper_consents)
    return await aid.publish(pool, secret, template)


async def post_update(
    pool: Pool, secret: SecretKey, target: aid.RequestPointer, news: str
) -> PublishReport:
    found, _ = await load_as_recipient(pool, target, secret, "update")
    return await aid.publish(pool, secret, update_template(Update(ref(found), news)))


def spending_report(
    secret: SecretKey, found: aid.RequestRecord, thread: Thread, title: str, body: str, summary: str
) -> tuple[Event, Report]:
    """The report of ``found`` signed by ``secret``: a new version of the signer's earlier
    one if there is one (the member's, or the emergency key's when champions act)."""
    identifier = report_identifier(found.address)
    earlier = [
        r for r in thread.reports
        if r.identifier == identifier and r.origin and r.origin.pubkey == secret.public_hex
    ]  # fmt: skip
    spending = Report(
        title=title,
        body=body,
        request=found.address,
        summary=summary.strip(),
        societies=found.request.societies,
        identifier=identifier,
        published_at=earlier[-1].published_at if earlier else None,
        relay=found.relays[0] if found.relays else "",
    )
    # An edit must be newer than the version relays hold, even within the same second.
    when = int(time.time())
    if earlier and earlier[-1].origin:
        when = max(when, earlier[-1].origin.created_at + 1)
    return event_mod.sign(secret, *report_template(spending), created_at=when), spending


async def publish_report(
    pool: Pool, secret: SecretKey, target: aid.RequestPointer, title: str, body: str, summary: str
) -> tuple[PublishReport, Report]:
    found, thread = await load_as_recipient(pool, target, secret, "spending report")
    event, spending = spending_report(secret, found, thread, title, body, summary)
    return await pool.publish(event), spending
