"""Web pages of requests and societies, as a relay serves them to anyone with a browser.

Pure: the relay (relay/web.py) fetches the events and hands them here. Every page is
one self-contained HTML document that works without JavaScript, loads nothing from
anywhere (no script, font, image or style from outside; QR codes are inline SVG) and
sets no cookie, so it can be served under the strict :data:`CSP`: the one stylesheet is
allowed by its hash, not by ``'unsafe-inline'``.

Strangers write everything shown, so:

* Markdown goes through :func:`export.html_body` / :func:`export.safe_html` (raw HTML
  escaped, links only http(s), mailto and the request's own payment URIs);
* everything else is :func:`html.escape`\\ d where it is written into the page;
* the finished page goes through :func:`untrusted.visible`, so a control, bidi override
  or invisible character anywhere in it shows as an escape (``\\u202e``) instead of
  reordering or hiding the text around it (a payment address must read as it is).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass

from shieldmutual.shared import nip19
from shieldmutual.shared.aid.common import Address
from shieldmutual.shared.aid.export import html_body, safe_html
from shieldmutual.shared.aid.offer import Offer
from shieldmutual.shared.aid.progress import champion_notice, short_summary, standing
from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.society import Society
from shieldmutual.shared.aid.thread import Thread
from shieldmutual.shared.aid.utcdates import utc_day
from shieldmutual.shared.aid.vouch import ChampionStatus
from shieldmutual.shared.untrusted import visible

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42em;margin:0 auto;padding:1em;"
    "line-height:1.5;overflow-wrap:anywhere;color:#111;background:#fff}"
    "h1{font-size:1.6em;line-height:1.2}a{color:#0645ad}"
    "figure{margin:1em 0}svg{max-width:100%;height:auto}"
    ".naddr{font-family:monospace;font-size:.85em;word-break:break-all}"
    ".warn{border-left:4px solid #b00;padding-left:.6em}"
    "li{margin:.3em 0}nav{font-size:.9em;margin-bottom:1em}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# Nothing may load or run; the stylesheet above by its hash; no form, frame or <base>.
CSP = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MEMBER_SHOWN = 16  # characters of a member's npub in the champion sentence


@dataclass(frozen=True, slots=True)
class Site:
    """Where the pages live (``base_url``, no trailing slash) and the relay they come
    from (its name, and its ``ws(s)://`` address given as the hint in every naddr)."""

    base_url: str
    name: str
    relay_url: str

    def request_url(self, address: Address) -> str:
        return f"{self.base_url}/r/{self.naddr(address)}"

    def society_url(self, slug: str) -> str:
        return f"{self.base_url}/s/{slug}"

    def naddr(self, address: Address) -> str:
        return address.naddr((self.relay_url,) if self.relay_url else ())


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _document(
    site: Site, title: str, description: str, url: str, body: str, lang: str | None
) -> str:
    """A whole page with its OpenGraph and Twitter-card preview, readable on a phone."""
    meta = {
        "og:title": title,
        "og:description": description,
        "og:url": url,
        "og:type": "article",
        "og:site_name": site.name,
    }
    tags = "".join(f'<meta property="{k}" content="{_e(v)}">\n' for k, v in meta.items())
    tags += '<meta name="twitter:card" content="summary">\n'
    tags += f'<meta name="twitter:title" content="{_e(title)}">\n'
    tags += f'<meta name="twitter:description" content="{_e(description)}">\n'
    page = (
        f'<!DOCTYPE html>\n<html lang="{_e(lang or "en")}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(title)}</title>\n"
        f'<meta name="description" content="{_e(description)}">\n'
        f'<link rel="canonical" href="{_e(url)}">\n{tags}<style>{STYLE}</style>\n'
        f'</head>\n<body>\n<nav><a href="{_e(site.base_url)}/">{_e(site.name)}</a></nav>\n'
        f"{body}</body>\n</html>\n"
    )
    return visible(page, multiline=True)


def _champion_block(thread: Thread) -> str:
    check = thread.champion
    if check.status is ChampionStatus.NONE or check.member is None:
        return ""
    who = nip19.npub_encode(check.member)[:MEMBER_SHOWN] + "…"
    notice = champion_notice(check, who) or ""
    css = "" if check.status is ChampionStatus.VERIFIED else ' class="warn"'
    return f"<p{css}><strong>{_e(notice)}</strong></p>\n"


def _reports_block(thread: Thread) -> str:
    parts = []
    for report in thread.reports:
        stamp = report.origin.created_at if report.origin else None
        day = f" ({utc_day(stamp)})" if stamp else ""
        parts.append(f"<article>\n<h3>{_e(report.title)}{day}</h3>\n{safe_html(report.body)}")
        parts.append("</article>\n")
    return "<h2>Reports</h2>\n" + "".join(parts) if parts else ""


def _nostr_block(site: Site, address: Address) -> str:
    naddr = site.naddr(address)
    return (
        "<h2>Follow, pledge or share from a Nostr app</h2>\n"
        f'<p><a href="nostr:{naddr}">Open in a Nostr app</a>, or copy this address into one'
        f" (or into <code>mas request show</code>):</p>\n"
        f'<p class="naddr">{naddr}</p>\n'
    )


def request_page(
    site: Site, address: Address, request: AidRequest, thread: Thread, now: int
) -> str:
    """``/r/<naddr>``: the request, how it stands, every way to help, its updates and
    reports, who it speaks for, and how to follow it from a Nostr app."""
    notice = _champion_block(thread)
    body = html_body(request, progress=thread.progress, now=now)
    body = notice + body + _reports_block(thread) + _nostr_block(site, address)
    figures = short_summary(standing(request, thread.progress, now))
    description = f"{request.summary} ({figures})"
    url = site.request_url(address)
    return _document(site, request.title, description, url, body, request.language)


@dataclass(frozen=True, slots=True)
class Listing:
    """A request or offer on a society page, with the address it is found at."""

    address: Address
    item: AidRequest | Offer


def _listing_item(site: Site, listing: Listing) -> str:
    item = listing.item
    stamp = item.origin.created_at if item.origin else None
    when = f" <small>{utc_day(stamp)}</small>" if stamp else ""
    place = f" — {_e(item.location)}" if item.location else ""
    if isinstance(item, AidRequest):
        link = f'<a href="{_e(site.request_url(listing.address))}">{_e(item.title)}</a>'
        return f"<li>{link}{when}{place}<br>{_e(item.summary)}</li>\n"
    naddr = site.naddr(listing.address)
    text = f"<strong>{_e(item.title)}</strong>{when}{place}<br>{_e(item.summary)}"
    return f'<li>{text}<br><a href="nostr:{naddr}">Answer from a Nostr app</a></li>\n'


def society_page(
    site: Site,
    slug: str,
    descriptions: Sequence[Society],
    listings: Sequence[Listing],
    query: str = "",
) -> str:
    """``/s/<slug>``: what its definitions say (anyone may write one, so all are shown,
    newest first, each with its author), then its open requests and offers, newest
    first (``query`` says which place or language filter chose them)."""
    name = descriptions[0].name if descriptions else f"#mas-{slug}"
    body = f"<h1>{_e(name)}</h1>\n"
    for society in descriptions:
        author = society.origin.pubkey if society.origin else ""
        by = nip19.npub_encode(author)[:MEMBER_SHOWN] + "…" if author else "unknown"
        body += f"<section>\n{safe_html(society.description)}"
        body += f"<p><small>Described by {_e(by)}</small></p>\n</section>\n"
    feed = f"{site.society_url(slug)}.atom"
    body += f'<p>Tag: <code>#mas-{_e(slug)}</code> · <a href="{_e(feed)}">Atom feed</a></p>\n'
    requests = [entry for entry in listings if isinstance(entry.item, AidRequest)]
    offers = [entry for entry in listings if isinstance(entry.item, Offer)]
    chosen = f" ({_e(query)})" if query else ""
    body += f"<h2>Open requests{chosen}</h2>\n"
    body += _list(site, requests, "No open request.")
    body += f"<h2>Offers of help{chosen}</h2>\n"
    body += _list(site, offers, "No open offer.")
    lang = descriptions[0].language if descriptions else None
    description = descriptions[0].description[:300] if descriptions else f"Society #mas-{slug}"
    return _document(site, name, description, site.society_url(slug), body, lang)


def _list(site: Site, listings: Sequence[Listing], empty: str) -> str:
    if not listings:
        return f"<p>{empty}</p>\n"
    return "<ul>\n" + "".join(_listing_item(site, entry) for entry in listings) + "</ul>\n"


def index_page(site: Site, description: str, societies: Sequence[tuple[str, str]]) -> str:
    """``/``: the relay, and the societies it carries as ``(slug, name)``."""
    body = (
        f"<h1>{_e(site.name)}</h1>\n<p>{_e(description)}</p>\n"
        '<p>This is a <a href="https://github.com/nostr-protocol/nips">Nostr</a> relay of'
        " mutual aid societies. Add its address to a Nostr client, or use <code>mas</code>,"
        " the Shield Mutual command line.</p>\n"
        f'<p><a href="{_e(site.base_url)}/feed.atom">Atom feed of every request</a></p>\n'
        "<h2>Societies</h2>\n"
    )
    items = "".join(
        f'<li><a href="{_e(site.society_url(slug))}">{_e(name)}</a> <code>#mas-{_e(slug)}</code>'
        "</li>\n"
        for slug, name in societies
    )
    body += f"<ul>\n{items}</ul>\n" if items else "<p>No society yet.</p>\n"
    return _document(site, site.name, description, f"{site.base_url}/", body, "en")
