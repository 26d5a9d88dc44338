"""Request and society pages and Atom feeds on the relay's HTTP port, from its own store.

Routes (GET only; read-only)::

    /                 the societies this relay carries
    /r/<naddr>        one aid request (shared/aid/webpage.py renders it)
    /s/<slug>         a society: its descriptions, open requests and offers
                      (?place=<geohash prefix>&lang=<code>)
    /s/<slug>.atom    the society's open requests as Atom; /feed.atom: every one

The handler runs inside the relay's event loop, beside the websocket clients, so each
page costs a bounded amount: a bucket shared by every visitor (no IP address is kept to
tell visitors apart) answers 429 past ``[web] pages_per_second``; every query has a
``limit`` and runs as one store *owner*, so all pages together hold at most one reader
at a time and websocket clients are served round-robin beside them; rendering (Markdown
and QR codes) runs on one worker thread, and a finished page is kept by its ETag so a
flood of the same page renders it once. Nothing about a visitor is stored or logged.

Only kind 30402 events that parse as aid requests get a page; gift wraps are never
queried (the filters name their kinds, and the store hides wraps from a reader with no
authenticated key in any case).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.datastructures import Headers

from shieldmutual.relay.config import Config
from shieldmutual.relay.limits import Bucket
from shieldmutual.relay.store.base import EventStore
from shieldmutual.shared import kinds
from shieldmutual.shared.aid import atom, webpage
from shieldmutual.shared.aid.common import MUTUAL_AID, Address, check_geohash, check_language
from shieldmutual.shared.aid.feed import REQUEST, FeedFilter, read_item
from shieldmutual.shared.aid.offer import OFFER, Offer
from shieldmutual.shared.aid.request import AidRequest, Status
from shieldmutual.shared.aid.society import Society, mas_tag, parse_society
from shieldmutual.shared.aid.society import validate_slug as check_slug
from shieldmutual.shared.aid.thread import current_versions, thread_filters, thread_of
from shieldmutual.shared.errors import AidError, EncodingError
from shieldmutual.shared.event import Event
from shieldmutual.shared.filter import Filter
from shieldmutual.shared.nip01prefix import error, invalid, rate_limited
from shieldmutual.shared.nip19 import naddr_decode
from shieldmutual.shared.version import VERSION

log = logging.getLogger("shieldmutual.relay.web")

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
CACHE_SIZE = 64
THREAD_LIMIT = 500  # events of each kind in one request's thread
SOCIETIES_LIMIT = 500
DESCRIPTIONS_SHOWN = 5
# Error bodies are one line that starts with a NIP-01 prefix, like the relay's refusals.
_TOO_MANY = rate_limited("too many page requests; try again shortly\n").encode()
_FAILED = error("the page could not be made\n").encode()

# (status, body, content type, extra headers); server.py makes it a Response.
Answer = tuple[int, bytes, str, tuple[tuple[str, str], ...]]


class WebError(Exception):
    """An answer other than 200: the status and a one-line reason for the body."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def base_url(config: Config, listening: str) -> str:
    """``[web] base_url``, else ``[server] url`` made http(s), else ``listening``."""
    if config.web.base_url:
        return config.web.base_url.rstrip("/")
    url = config.server.url
    if url:
        scheme, _, rest = url.partition("://")
        return f"{'https' if scheme == 'wss' else 'http'}://{rest}".rstrip("/")
    return listening


def _headers(etag: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Content-Security-Policy", webpage.CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cache-Control", "public, max-age=60"),
        ("ETag", etag),
        ("Vary", "Accept"),
    )


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _one(query: dict[str, list[str]], name: str) -> str | None:
    found = query.get(name)
    if found and len(found) > 1:
        raise WebError(400, invalid(f"give {name} once"))
    return found[0] if found else None


class Web:
    """The pages of one relay; :meth:`start` once its address is known."""

    def __init__(self, config: Config, store: EventStore) -> None:
        self.config = config
        self.store = store
        web = config.web
        self.bucket = Bucket(web.pages_per_second, web.pages_burst)
        self.site = webpage.Site("", config.info.name, "")
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="web-render")
        self._cache: OrderedDict[str, bytes] = OrderedDict()

    def start(self, base: str, relay_url: str) -> None:
        self.site = webpage.Site(base, self.config.info.name, relay_url)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ---- the door --------------------------------------------------------------

    async def answer(self, target: str, headers: Headers) -> Answer:
        """The answer to ``GET target``; never raises (a failure is a 500 line)."""
        if not self.bucket.take():
            return 429, _TOO_MANY, TEXT, (("Retry-After", "1"),)
        try:
            return await self._route(target, headers.get("If-None-Match", ""))
        except WebError as exc:
            return exc.status, f"{exc}\n".encode(), TEXT, ()
        except Exception:
            log.exception("a page could not be made")  # no path: it may name a visitor's interest
            return 500, _FAILED, TEXT, ()

    async def _route(self, target: str, if_none_match: str) -> Answer:
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=False)
        if path == "/":
            return await self._index(if_none_match)
        if path == "/feed.atom":
            return await self._feed(None, if_none_match)
        if path.startswith("/r/") and path.count("/") == 2:
            return await self._request(path[3:], if_none_match)
        if path.startswith("/s/") and path.count("/") == 2:
            name = path[3:]
            if name.endswith(".atom"):
                return await self._feed(_slug(name.removesuffix(".atom")), if_none_match)
            return await self._society(_slug(name), query, if_none_match)
        raise WebError(404, "not found")

    # ---- reading the store -----------------------------------------------------

    async def _fetch(self, filters: Sequence[Filter]) -> list[Event]:
        """Every event matching ``filters`` (each with a limit), as one store owner."""
        events: list[Event] = []
        async for page in self.store.query(filters, int(time.time()), owner=self):
            events += [Event.from_json(raw) for raw in page]
        return events

    async def _listings(self, tag: str | None) -> list[webpage.Listing]:
        """Current versions of aid listings (of the society ``tag``), newest first."""
        flt = Filter(
            kinds=frozenset([kinds.CLASSIFIED]),
            tags={"t": frozenset([tag])} if tag else {},
            limit=3 * self.config.web.max_items,
        )
        found = []
        for event in current_versions(await self._fetch([flt])):
            try:
                item = read_item(event)
            except AidError:
                continue
            found.append(webpage.Listing(Address.of(event), item))
        return found

    async def _page(
        self,
        key: str,
        parts: Sequence[object],
        make: Callable[[], str],
        if_none_match: str,
        content_type: str = HTML,
    ) -> Answer:
        """ETag from what the page is made of; 304, the cached page, or a new render."""
        # The software version and base URL too: a new template or address is a new page.
        made_by = (VERSION, self.site, webpage.STYLE_HASH)
        digest = hashlib.sha256(repr((key, made_by, *parts)).encode()).hexdigest()
        etag = f'"{digest[:32]}"'
        headers = _headers(etag)
        if if_none_match and _matches(if_none_match, etag):
            return 304, b"", content_type, headers
        body = self._cache.get(etag)
        if body is None:
            loop = asyncio.get_running_loop()
            text = await loop.run_in_executor(self._executor, make)
            body = text.encode("utf-8")
            self._cache[etag] = body
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(etag)
        return 200, body, content_type, headers

    # ---- the routes -------------------------------------------------------------

    async def _request(self, text: str, if_none_match: str) -> Answer:
        try:
            pointer = naddr_decode(text)
        except (EncodingError, ValueError) as exc:
            raise WebError(400, invalid(f"not an naddr ({exc})")) from None
        if pointer.kind != kinds.CLASSIFIED:  # gift wraps, articles...: never a page
            raise WebError(404, "not found: not an aid request")
        address = Address(pointer.kind, pointer.pubkey, pointer.identifier)
        flt = Filter.from_dict(
            {
                "kinds": [address.kind],
                "authors": [address.pubkey],
                "#d": [address.identifier],
                "limit": 10,
            }
        )
        request, version = None, None
        # The newest version that reads as a request (as the client finds it).
        for event in sorted(await self._fetch([flt]), key=lambda e: (-e.created_at, e.id)):
            try:
                item = read_item(event)
            except AidError:
                continue
            if isinstance(item, AidRequest):
                request, version = item, event
            break
        if request is None or version is None:
            raise WebError(404, "not found: this relay holds no aid request at that address")
        about = thread_filters(address, request.beneficiary)
        events = await self._fetch([replace(f, limit=THREAD_LIMIT) for f in about])
        now = int(time.time())
        # "3 days left" moves on: a page with an open deadline changes every minute.
        clock = now // 60 if request.deadline is not None and request.deadline > now else None
        ids = sorted(e.id for e in events)

        def make() -> str:
            thread = thread_of(request, address, events)
            return webpage.request_page(self.site, address, request, thread, now)

        return await self._page("r", (version.id, clock, ids), make, if_none_match)

    async def _society(self, slug: str, query: dict[str, list[str]], if_none_match: str) -> Answer:
        place, lang = _one(query, "place"), _one(query, "lang")
        try:
            place = check_geohash(place) if place else None
            lang = check_language(lang) if lang else None
        except AidError as exc:
            raise WebError(400, exc.wire()) from None
        descriptions, listings = await self._society_events(slug)
        chooser = FeedFilter(lang, place, frozenset({Status.OPEN}), frozenset({REQUEST, OFFER}))
        shown = [e for e in listings if chooser.matches(e.item)][: self.config.web.max_items]
        said = ", ".join(f"{k} {v}" for k, v in (("place", place), ("language", lang)) if v)
        chosen = descriptions[:DESCRIPTIONS_SHOWN]

        def make() -> str:
            return webpage.society_page(self.site, slug, chosen, shown, said)

        ids = [s.origin.id for s in chosen if s.origin] + [_id(e.item) for e in shown]
        return await self._page("s", (slug, place, lang, ids), make, if_none_match)

    async def _society_events(self, slug: str) -> tuple[list[Society], list[webpage.Listing]]:
        """The society's descriptions and listings; 404 when the relay has neither."""
        definitions = await self._fetch(
            [
                Filter.from_dict(
                    {"kinds": [kinds.COMMUNITY], "#d": [slug], "#t": [mas_tag(slug)], "limit": 50}
                )
            ]
        )
        descriptions = []
        for event in current_versions(definitions):
            try:
                descriptions.append(parse_society(event))
            except AidError:
                continue
        listings = await self._listings(mas_tag(slug))
        if not descriptions and not listings:
            raise WebError(404, f"not found: this relay carries nothing tagged #mas-{slug}")
        return descriptions, listings

    async def _feed(self, slug: str | None, if_none_match: str) -> Answer:
        if slug is None:
            listings = await self._listings(None)
        else:
            listings = (await self._society_events(slug))[1]
        chooser = FeedFilter(statuses=frozenset({Status.OPEN}))
        shown = [e for e in listings if chooser.matches(e.item)][: self.config.web.max_items]
        if slug is None:
            title, page = f"{self.site.name}: every request", f"{self.site.base_url}/"
            self_url = f"{self.site.base_url}/feed.atom"
        else:
            title, page = f"#mas-{slug} on {self.site.name}", self.site.society_url(slug)
            self_url = f"{page}.atom"

        def make() -> str:
            return atom.feed(self.site, title, self_url, page, shown)

        ids = [_id(e.item) for e in shown]
        return await self._page("a", (slug, ids), make, if_none_match, atom.ATOM_TYPE)

    async def _index(self, if_none_match: str) -> Answer:
        definitions = await self._fetch(
            [
                Filter(
                    kinds=frozenset([kinds.COMMUNITY]),
                    tags={"t": frozenset([MUTUAL_AID])},
                    limit=SOCIETIES_LIMIT,
                )
            ]
        )
        names: dict[str, str] = {}
        for event in current_versions(definitions):
            try:
                society = parse_society(event)
            except AidError:
                continue
            names.setdefault(society.slug, society.name)
        for listing in await self._listings(None):
            for slug in listing.item.societies:
                names.setdefault(slug, f"#mas-{slug}")
        societies = sorted(names.items())
        description = self.config.info.description

        def make() -> str:
            return webpage.index_page(self.site, description, societies)

        return await self._page("i", (description, societies), make, if_none_match)


def _slug(text: str) -> str:
    try:
        return check_slug(text)
    except AidError as exc:
        raise WebError(400, exc.wire()) from None


def _id(item: AidRequest | Offer) -> str:
    return item.origin.id if item.origin else ""
