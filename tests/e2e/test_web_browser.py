"""A request published with the real `mas` opens in a real headless browser.

Debian's ``chromium``, driven by Playwright for Python through that executable (no
browser download), loads the relay's pages at a phone's width: the request page (story,
progress, QR code), the society page and the relay's front page. Each must load with no
console error, no Content-Security-Policy report and no request to anywhere but the page
itself; the text must be visible without sideways scrolling. A screenshot per page is
written under the test's tmp folder (its path is printed) for people to look at.

Skipped only outside CI when chromium or Playwright is missing; in CI (``CI`` set) a
missing browser fails the test: `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SOCIETY = "north"


def _browser_or_skip() -> Any:
    missing = []
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        missing.append(CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("playwright (pip)")
        sync_playwright = None
    if missing:
        why = f"headless browser test needs {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; .ci/run must install it")
        pytest.skip(why)
    return sync_playwright


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh Chromium profile (its own --user-data-dir) at a phone's width."""
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport=PHONE,
            is_mobile=True,
            java_script_enabled=False,  # the pages must work without it
        )
        try:
            yield context
        finally:
            context.close()


def load(context: Any, url: str, shots: Path, name: str) -> Any:
    """Open ``url``; fail on any console error, CSP report, failed or foreign request."""
    page = context.new_page()
    problems: list[str] = []
    origin = urlsplit(url).netloc

    def console(message: Any) -> None:
        if message.type in ("error", "warning"):  # CSP reports are console errors
            problems.append(f"console {message.type}: {message.text}")

    def request(sent: Any) -> None:
        if urlsplit(sent.url).netloc != origin and not sent.url.startswith("data:"):
            problems.append(f"foreign request: {sent.url}")

    page.on("console", console)
    page.on("request", request)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda failed: problems.append(f"failed: {failed.url}"))
    answer = page.goto(url, wait_until="load")
    assert answer is not None and answer.status == 200, url
    shot = shots / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of {url}: {shot}")
    assert problems == [], problems
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways at phone width ({width}px)"
    return page


def visible(page: Any, text: str) -> None:
    found = page.get_by_text(text, exact=False).first
    assert found.is_visible(), f"{text!r} is not visible"
    box = found.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1


def test_a_request_published_with_mas_opens_in_a_headless_browser(
    browser: Any, relays: Any, person: Any, tmp_path: Path
) -> None:
    (relay,) = relays(1)
    sam, bob = person("sam", relay.url), person("bob", relay.url)
    made = sam("request", "new", "--title", "Boiler repair before the frost",
               "--summary", "A family of four without heating.",
               "--story", "The boiler broke in the **cold snap** and the landlord will not act.",
               "--location", "Leeds", "--amount", "300", "--currency", "GBP",
               "--lightning", "sam@pay.example.org", "--language", "en",
               "--society", SOCIETY, "--yes", "--json").json_lines()[0]  # fmt: skip
    naddr, page_url = made["naddr"], made["page"]
    assert page_url.endswith(f"/r/{naddr}") and page_url.startswith("http://127.0.0.1:")
    bob("pledge", naddr, "--amount", "40", "--currency", "GBP")
    sam("confirm", naddr, "--amount", "25", "--currency", "GBP")

    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = load(browser, page_url, shots, "request")
    for text in (
        "Boiler repair before the frost",
        "landlord will not act",
        "Confirmed received: 25 GBP (8% of 300 GBP)",
        "Pledged: 40 GBP (13% of 300 GBP)",
        "lightning:sam@pay.example.org",
    ):
        visible(page, text)
    qr = page.locator("figure svg").first
    assert qr.is_visible() and (qr.bounding_box() or {}).get("width", 0) >= 100
    assert page.locator("html").get_attribute("lang") == "en"

    base = page_url.split("/r/", 1)[0]
    society = load(browser, f"{base}/s/{SOCIETY}", shots, "society")
    visible(society, "Boiler repair before the frost")
    link = society.get_by_role("link", name="Boiler repair before the frost")
    assert link.get_attribute("href") == page_url
    front = load(browser, f"{base}/", shots, "index")
    visible(front, f"#mas-{SOCIETY}")

    feed = feedparser.parse(httpx.get(f"{base}/s/{SOCIETY}.atom", timeout=10).content)
    assert not feed.bozo and [e.link for e in feed.entries] == [page_url]
    assert sorted(p.name for p in shots.iterdir()) == ["index.png", "request.png", "society.png"]
