"""Markdown from strangers made fit for a blog, which renders Markdown with raw HTML on:
no tag survives as HTML, no link but http(s)/mailto (or the request's own payment URIs),
and no link text that names another address than the link's."""

from __future__ import annotations

import re
from collections.abc import Collection

# A link or image as strangers write it: ``[text](url "title")``; the url has no spaces
# or angle brackets and balanced parentheses one deep (anything else is caught by the
# check in safe_markdown).
_LINK = re.compile(
    r"!?\[(?P<text>[^\[\]\n]*)\]\(\s*(?P<url>(?:[^()\s<>]|\([^()\s<>]*\))*)(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
    r"|(?P<lt><)"
)
_REFERENCE = re.compile(r"^( {0,3})\[(?=[^\]\n]*\]:)", re.MULTILINE)
_SAFE_LINK = ("http://", "https://", "mailto:")
_ADDRESS_LIKE = re.compile(r"[a-z][a-z0-9+.-]*:|www\.|\S+@\S+\.|\S+\.[a-z]{2,}(/|\Z)", re.I).search
_MARKDOWN_PUNCTUATION = re.compile(r"([\\\[\]()<>!`])")


def _allowed(url: str, payments: Collection[str]) -> bool:
    """http(s) and mailto, or exactly one of the request's own payment URIs (from its
    tags): a ``lightning:`` link in the story to any other address is dropped."""
    return url.lower().startswith(_SAFE_LINK) or url in payments


def _link(match: re.Match[str], payments: Collection[str] = ()) -> str:
    if match["lt"]:
        return "&lt;"  # no raw HTML, no <autolink> from outside
    text, url = match["text"].replace("<", "&lt;").strip(), match["url"]
    if not _allowed(url, payments):
        return text  # javascript:, data:, file:... the words stay, the link goes
    # The true address is what readers see and what the link goes to: an autolink, after
    # the words, or instead of them when they look like an address themselves.
    if not text or _ADDRESS_LIKE(text) or text == url.removeprefix("mailto:"):
        return f"<{url}>"
    return f"{text} (<{url}>)"


def _inert(markdown: str, payments: Collection[str] = ()) -> bool:
    """True when a CommonMark renderer that allows everything finds no raw HTML, no
    image and no link but an http(s)/mailto (or own payment URI) autolink, whose text is
    its address."""
    from markdown_it import MarkdownIt  # only exports need it: `mas` imports per command

    md = MarkdownIt("commonmark", {"html": True})
    # Every link parsed as one (markdown-it would drop javascript: ones), so all are judged.
    md.validateLink = lambda *_, **__: True  # type: ignore[method-assign]
    tokens = md.parse(markdown)
    for token in [*tokens, *(c for t in tokens for c in t.children or ())]:
        if token.type in ("html_block", "html_inline", "image"):
            return False
        if token.type == "link_open" and (
            token.markup != "autolink" or not _allowed(str(token.attrGet("href")), payments)
        ):
            return False
    return True


def safe_markdown(markdown: str, payments: Collection[str] = ()) -> str:
    """Markdown from strangers made fit for a blog: raw HTML escaped (``<`` is ``&lt;``),
    links to anything but http(s), mailto and the exact ``payments`` URIs dropped (their
    words kept), every kept link shown with its true address, images as links, reference
    definitions made literal. Should anything still parse as HTML or as another link,
    every Markdown punctuation character is escaped instead, so nothing is a link at all."""
    out = _REFERENCE.sub(r"\1\\[", _LINK.sub(lambda m: _link(m, payments), markdown))
    if _inert(out, payments):
        return out
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", markdown)
