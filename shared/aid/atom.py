"""Atom feeds (RFC 4287) of requests, for feed readers and the services that turn feeds
into posts and newsletters.

Pure: the relay hands the requests and the site's addresses. Each entry's ``id`` and
``link`` are the request's page, so a reader that already showed an entry knows it
again after an edit (``updated`` moves on, the id stays). Text goes through
:func:`untrusted.visible` first: XML 1.0 cannot carry most control characters at all, and
a bidi override must not reorder a title in a reader's list.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from shieldmutual.shared.aid.request import AidRequest
from shieldmutual.shared.aid.webpage import Listing, Site
from shieldmutual.shared.untrusted import visible

ATOM_TYPE = "application/atom+xml; charset=utf-8"


def _time(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: str) -> str:
    return escape(visible(value, multiline=True))


def _entry(site: Site, listing: Listing) -> str:
    request = listing.item
    assert isinstance(request, AidRequest), "feeds list requests, which have pages"
    url = site.request_url(listing.address)
    updated = request.origin.created_at if request.origin else 0
    published = request.published_at or updated
    summary = request.summary + (f" ({request.location})" if request.location else "")
    return (
        f"<entry>\n<id>{escape(url)}</id>\n<title>{_text(request.title)}</title>\n"
        f'<link rel="alternate" type="text/html" href={quoteattr(url)}/>\n'
        f"<published>{_time(published)}</published>\n<updated>{_time(updated)}</updated>\n"
        f"<author><name>{_text(site.name)}</name></author>\n"
        f"<summary>{_text(summary)}</summary>\n</entry>\n"
    )


def feed(site: Site, title: str, self_url: str, page_url: str, listings: Sequence[Listing]) -> str:
    """The feed at ``self_url`` (about the page ``page_url``) of ``listings``' requests,
    in the order given (newest first)."""
    requests = [entry for entry in listings if isinstance(entry.item, AidRequest)]
    stamps = [e.item.origin.created_at for e in requests if e.item.origin]
    updated = _time(max(stamps, default=0))
    entries = "".join(_entry(site, entry) for entry in requests)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<id>{escape(self_url)}</id>\n<title>{_text(title)}</title>\n"
        f"<updated>{updated}</updated>\n"
        f'<link rel="self" type="application/atom+xml" href={quoteattr(self_url)}/>\n'
        f'<link rel="alternate" type="text/html" href={quoteattr(page_url)}/>\n'
        f"<author><name>{_text(site.name)}</name></author>\n{entries}</feed>\n"
    )
