"""A request for the world outside Nostr: JSON, plain text, safe HTML and an email.

Requests are written to be pasted into blogs, press releases and mailing lists, so
``mas export`` renders the same standalone Markdown (:func:`markdown.render_markdown`)
in other forms:

* :func:`request_dict` / :func:`progress_dict`: JSON-ready dicts (amounts as strings,
  never floats, so ``12.50`` stays exact) shared by ``--json`` everywhere;
* :func:`render_text`: plain text for SMS, chat and plain-text mail;
* :func:`render_html`: a standalone HTML page. The Markdown comes from strangers, so it
  goes through markdown-it-py (CommonMark, already installed as Rich's dependency) with
  raw HTML *off* (escaped, never passed through), images off (a remote image in an
  email is a tracking pixel) and links limited to http(s), mailto, nostr and the
  request's own payment URIs; each payment URI also gets an inline SVG QR code (drawn by
  ``segno``, pure Python: no external asset, script or style), so a phone pays from a
  printed or on-screen page;
* :func:`email_message`: an RFC 5322 ``multipart/alternative`` message (text + HTML),
  Subject from the title (:func:`header_text`: one line, no encoded-word from outside),
  base64 parts, that ``sendmail -t -i`` accepts as it stands; :func:`text_email` the
  same for plain text (the mailing-list bridge's updates, reports and digests).
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import html
import quopri
import re
from datetime import UTC, datetime
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any, Unpack

from shieldmutual.shared.aid.comments import Progress
from shieldmutual.shared.aid.common import format_amount, origin_dict
from shieldmutual.shared.aid.helping import CallFlood, SignWave
from shieldmutual.shared.aid.markdown import (
    NOSTR_TEXT,
    PAGE_TEXT,
    Links,
    View,
    markdown_source,
    payment_uris,
    render_markdown,
)
from shieldmutual.shared.aid.progress import Standing, standing_dict
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.safemarkdown import safe_markdown
from shieldmutual.shared.errors import AidError
from shieldmutual.shared.untrusted import is_hidden

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_SAFE_SCHEMES = ("http://", "https://", "mailto:", "nostr:")


def request_dict(request: AidRequest, naddr: str | None = None) -> dict[str, Any]:
    """Every field of a request as JSON-ready values (the event's origin included)."""
    r = request
    actions: list[dict[str, Any]] = []
    for action in r.actions:
        if isinstance(action, CallFlood):
            call = {"number": action.number, "target": action.target, "script": action.script}
            actions.append({"type": "call", **call})
        elif isinstance(action, SignWave):
            actions.append(
                {"type": "signwave", "place": action.place, "time": action.time.isoformat()}
            )
        else:
            actions.append({"type": action.type, "values": list(action.values)})
    return {
        "naddr": naddr,
        **origin_dict(r.origin),
        "identifier": r.identifier,
        "title": r.title,
        "summary": r.summary,
        "status": r.status.value,
        "amount": format_amount(r.amount) if r.amount is not None else None,
        "currency": r.currency,
        "location": r.location,
        "geohash": r.geohash,
        "language": r.language,
        "deadline": r.deadline,
        "published_at": r.published_at,
        "societies": list(r.societies),
        "hashtags": list(r.hashtags),
        "story": r.story,
        "details": r.details,
        "payments": [
            {"method": p.method, "value": p.value, "uri": u.uri if (u := p.uri()) else None}
            for p in r.payments
        ],
        "actions": actions,
        "images": list(r.images),
        "beneficiary": r.beneficiary,
        "expiration": r.expiration,
    }


def progress_dict(progress: Progress, figures: Standing | None = None) -> dict[str, Any]:
    """The tally (counts, totals per currency, updates) and, given ``figures``, the
    stable keys of :func:`progress.standing_dict` (asked, percentages, deadline, state)."""

    def money(totals: Any) -> dict[str, str]:
        return {currency: format_amount(v) for currency, v in sorted(totals.items())}

    return {
        **(standing_dict(figures) if figures is not None else {}),
        "pledges": progress.pledges,
        "pledged": money(progress.pledged),
        "confirmations": progress.confirmations,
        "received": money(progress.received),
        "updates": [
            {"text": u.text, "created_at": u.origin.created_at if u.origin else None}
            for u in progress.updates
        ],
    }


def render_text(request: AidRequest, **view: Unpack[View]) -> str:
    """Plain text: Markdown headings become underlined titles, bold markers go."""
    lines = []
    for line in markdown_source(request, **view).split("\n"):
        if line.startswith("# "):
            lines += [line[2:], "=" * len(line[2:])]
        elif line.startswith("## "):
            lines += [line[3:], "-" * len(line[3:])]
        elif line == "---":
            continue
        elif line.startswith("**") and line.endswith("**") and len(line) > 4:
            lines.append(line[2:-2])
        else:
            lines.append(line)
    return "\n".join(lines)


def _markdown_it(payments: frozenset[str] = frozenset()) -> MarkdownIt:
    from markdown_it import MarkdownIt  # imported when an export renders, not with `mas`

    md = MarkdownIt("commonmark", {"html": False}).disable("image")
    md.validateLink = lambda url: (  # type: ignore[method-assign]
        url.strip().lower().startswith(_SAFE_SCHEMES) or url in payments
    )
    return md


def safe_html(markdown: str, payments: frozenset[str] = frozenset()) -> str:
    """Markdown from strangers (a report, a society's description) as escaped HTML."""
    rendered: str = _markdown_it(payments).render(safe_markdown(markdown, payments))
    return rendered


def qr_svg(text: str) -> str:
    """An inline SVG QR code of ``text`` (error correction M, the usual for payments)."""
    import segno  # imported when a code is drawn, not with `mas`

    return segno.make(text, error="m", micro=False).svg_inline(scale=4, dark="#000", light="#fff")


def _payment_codes(request: AidRequest) -> str:
    """A QR code per payment URI, captioned with its link, after the text."""
    figures = []
    for payment in request.payments:
        found = payment.uri()
        if found is None:
            continue
        href = html.escape(found.uri, quote=True)
        figures.append(
            f"<figure>\n{qr_svg(found.qr_text)}\n"
            f'<figcaption><a href="{href}">{href}</a></figcaption>\n</figure>\n'
        )
    return "<h2>Pay with a wallet</h2>\n" + "".join(figures) if figures else ""


def html_body(
    request: AidRequest,
    *,
    progress: Progress | None = None,
    notice: str | None = None,
    now: int | None = None,
) -> str:
    """The request as escaped HTML (its Markdown, then a QR code per payment), for
    :func:`render_html` and the relay's request pages."""
    markdown = render_markdown(request, progress=progress, notice=notice, now=now)
    rendered: str = _markdown_it(payment_uris(request)).render(markdown)
    return rendered + _payment_codes(request)


def render_html(request: AidRequest, **view: Unpack[View]) -> str:
    """A standalone, escaped HTML page (no scripts, styles from outside, or images)."""
    page, link = view.get("page"), view.get("link")
    body = html_body(
        request, progress=view.get("progress"), notice=view.get("notice"), now=view.get("now")
    )
    if page or link:
        body += "<hr>\n"
    for words, target in ((PAGE_TEXT, page), (NOSTR_TEXT, link)):
        if target:
            href = html.escape(target, quote=True)
            body += f'<p>{words}: <a href="{href}">{href}</a></p>\n'
    lang = f' lang="{html.escape(request.language)}"' if request.language else ""
    return (
        f'<!DOCTYPE html>\n<html{lang}>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(request.title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )


# An RFC 2047 encoded-word (RFC 2231 allows a language after the charset).
_ENCODED_WORD = re.compile(r"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_MAX_DECODES = 8


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, data = match.groups()
    try:
        if encoding in "bB":
            raw = base64.b64decode(data + "=" * (-len(data) % 4))
        else:
            raw = quopri.decodestring(data.replace("_", " ").encode("ascii"), header=True)
        return raw.decode(charset, errors="replace")
    except (LookupError, ValueError, binascii.Error):
        return match.group(0).replace("=?", "= ?")


def header_text(value: str) -> str:
    """A header value from outside as one safe line of plain text.

    Python's email package decodes encoded-words in a value it is given, and some 3.11
    builds then write a decoded CR/LF out raw: a title ``=?utf-8?q?=0D=0ABcc:...?=``
    became a ``Bcc:`` header that ``sendmail -t`` obeyed. So the words are decoded here
    (repeatedly: a decoded word may be another one), every control, line break and
    invisible character becomes a space, and any ``=?`` left is broken up, so the
    email package is only ever handed plain text to encode.
    """
    for _ in range(_MAX_DECODES):
        decoded = _ENCODED_WORD.sub(_decode_word, value)
        if decoded == value:
            break
        value = decoded
    text = "".join(" " if c.isspace() or is_hidden(c) else c for c in value)
    return " ".join(text.replace("=?", "= ?").split())


def _mail_address(text: str, what: str) -> MailAddress:
    """One ``Name <user@host>`` or ``user@host``; refuses header injection and lists."""
    if any(c in text for c in "\r\n,;"):
        raise AidError(f"{what} must be one address on one line, got {text!r}")
    name, _, rest = text.strip().rpartition("<")
    addr = rest.rstrip(">").strip() if _ else text.strip()
    user, at, domain = addr.partition("@")
    if not at or not user or "." not in domain or any(c.isspace() for c in addr):
        raise AidError(f"{what} is not an email address: {text!r}")
    try:
        return MailAddress(display_name=header_text(name.strip().strip('"')), addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise AidError(f"{what} is not an email address: {text!r} ({exc})") from None


def _headed(subject: str, to: str | None, sender: str | None, now: datetime) -> EmailMessage:
    """A message with only the headers every export has, each made safe."""
    message = EmailMessage()
    message["Subject"] = header_text(subject)
    if sender:
        message["From"] = _mail_address(sender, "--from")
    if to:
        message["To"] = _mail_address(to, "--to")
    message["Date"] = format_datetime(now)
    domain = sender.rpartition("@")[2].rstrip(">").strip() if sender else "shieldmutual.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    return message


def email_message(
    request: AidRequest,
    *,
    to: str | None = None,
    sender: str | None = None,
    now: datetime | None = None,
    **links: Unpack[Links],
) -> EmailMessage:
    """RFC 5322 ``multipart/alternative``: the text part, then the HTML part.

    Safe for ``sendmail -t -i``: the headers are exactly the ones set here (checked by
    parsing the message back) and both parts are base64, so no body line is a lone ``.``,
    carries a bare CR or looks like a header."""
    now = now or datetime.now(UTC)
    message = _headed(request.title, to, sender, now)
    at = int(now.timestamp())
    message.set_content(render_text(request, **links, now=at), cte="base64")
    message.add_alternative(render_html(request, **links, now=at), subtype="html", cte="base64")
    _check_headers(message)
    return message


def text_email(
    subject: str,
    text: str,
    *,
    to: str | None = None,
    sender: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """A plain-text message (an update, a report, a digest) made as safely as
    :func:`email_message`: the subject through :func:`header_text`, a base64 body."""
    message = _headed(subject, to, sender, now or datetime.now(UTC))
    message.set_content(text, cte="base64")
    _check_headers(message)
    return message


def _check_headers(message: EmailMessage) -> None:
    """Refuse a message whose serialized form parses back to other headers than it holds
    (an injection the cleaning above missed): the last line of defence before sendmail."""
    parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
    if [k.lower() for k in parsed] != [k.lower() for k in message] or any(
        str(parsed[k]) != str(message[k]) for k in ("Subject", "To", "From")
    ):
        raise AidError("the email headers would not survive as written; nothing was produced")
