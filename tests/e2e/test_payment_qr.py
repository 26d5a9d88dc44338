"""Requests as ordinary Nostr apps list them, and payment one scan away, over a real relay
with the real `mas`: the template request read back from the relay passes each app's
listing rule; every QR code `request show --qr` prints and every SVG QR code of the HTML
export is scanned by a real decoder (zxing-cpp) and says exactly its payment URI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import zxingcpp

from shieldmutual.shared.aid.payuri import bitcoin_uri, lightning_uri
from tests.shared.aid.test_aid_listing_apps import LISTING_RULES

TAPROOT = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
LIGHTNING = lightning_uri("sam@pay.example")  # the template's lightning address
BITCOIN = bitcoin_uri(TAPROOT)
SCALE, QUIET = 4, 4
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def scan(dark: list[list[bool]]) -> list[str]:
    """Rasterise a module matrix (True = dark) with a white margin and decode it."""
    width = max(len(row) for row in dark) + 2 * QUIET
    height = len(dark) + 2 * QUIET
    pixels = bytearray(b"\xff") * (width * SCALE * height * SCALE)
    for y, row in enumerate(dark):
        for x, on in enumerate(row):
            if on:
                for dy in range(SCALE):
                    start = ((y + QUIET) * SCALE + dy) * width * SCALE + (x + QUIET) * SCALE
                    pixels[start : start + SCALE] = b"\x00" * SCALE
    image = memoryview(bytes(pixels)).cast("B", (height * SCALE, width * SCALE))
    return [found.text for found in zxingcpp.read_barcodes(image)]


def terminal_codes(output: str, *, ink: bool) -> list[list[list[bool]]]:
    """Module matrices rebuilt from the half-block lines of ``output``: with ``ink`` the
    characters are dark modules, otherwise (segno's colour convention) light ones."""
    codes: list[list[list[bool]]] = []
    block: list[str] = []
    for line in [*_ANSI.sub("", output).split("\n"), ""]:
        if line.strip("\n") and set(line) <= set(" \u2580\u2584\u2588") and line.strip():
            block.append(line)
            continue
        if len(block) >= 10:
            top, bottom = ("\u2588\u2580", "\u2588\u2584")
            rows: list[list[bool]] = []
            for text in block:
                upper = [(c in top) == ink for c in text]
                lower = [(c in bottom) == ink for c in text]
                rows += [upper, lower]
            codes.append(rows[: max(len(r) for r in rows)])  # square: drop segno's fill row
        block = []
    return codes


def svg_codes(page: str) -> list[list[list[bool]]]:
    """Module matrices rebuilt from the path of each inline SVG QR code (segno draws dark
    modules as horizontal strokes: ``M x y`` / ``m dx dy`` moves and ``h dx`` lines)."""
    codes = []
    for svg in re.findall(r"<svg.*?</svg>", page, re.DOTALL):
        size = int(re.search(r'width="(\d+)"', svg).group(1)) // 4  # drawn at scale(4)
        path = re.search(r'class="qrline"[^>]*\sd="([^"]+)"', svg).group(1)
        dark = [[False] * size for _ in range(size)]
        x = y = 0.0
        for cmd, a, b in re.findall(r"([MmhH])(-?[\d.]+)(?:\s(-?[\d.]+))?", path):
            if cmd in "Mm":
                x, y = (float(a), float(b)) if cmd == "M" else (x + float(a), y + float(b))
            else:
                end = float(a) if cmd == "H" else x + float(a)
                for column in range(int(min(x, end)), int(max(x, end))):
                    dark[int(y)][column] = True
                x = end
        codes.append(dark)
    return codes


def publish_template(person: Any, tmp_path: Path) -> str:
    """The example of `mas request template`, plus an on-chain address, published."""
    template = tmp_path / "r.md"
    template.write_text(person("request", "template").stdout)
    made = person("request", "new", "--from", str(template), "--onchain", TAPROOT, "--yes")
    return made.lines[-1]


def test_the_template_request_read_back_from_a_relay_is_listed_by_every_app(
    relays: Any, person: Any, tmp_path: Path
) -> None:
    (relay,) = relays(1)
    sam = person("sam", relay.url)
    naddr = publish_template(sam, tmp_path)
    (event,) = sam("req", "-k", "30402", "-a", sam.npub).json_lines()
    for app, listed in LISTING_RULES.items():
        assert listed(event["tags"]), f"{app} would not list the template request"
    assert ["alt", "Mutual aid request: Rent after the raid"] in event["tags"]
    assert "[sam@pay.example](lightning:sam@pay.example)" in event["content"]

    # --image replaces the pictures; only http(s) is taken, with a one-line error
    picture = "https://images.example/sam.png"
    sam("request", "update", naddr, "--image", picture, "--yes")
    assert sam("request", "show", naddr, "--json").json_lines()[0]["images"] == [picture]
    bad = sam("request", "update", naddr, "--image", "javascript:alert(1)", "--yes", code=2)
    assert "image must be an http(s) URL" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_show_qr_and_html_export_codes_scan_to_the_payment_uris(
    relays: Any, person: Any, tmp_path: Path
) -> None:
    (relay,) = relays(1)
    sam = person("sam", relay.url)
    naddr = publish_template(sam, tmp_path)
    shown = sam("request", "show", naddr, "--qr")  # a pipe: no colour, ink blocks
    assert f"Scan to pay (lightning): {LIGHTNING.uri}" in shown.stdout
    assert f"Scan to pay (onchain): {BITCOIN.uri}" in shown.stdout
    scanned = [scan(code) for code in terminal_codes(shown.stdout, ink=True)]
    assert scanned == [[LIGHTNING.qr_text], [BITCOIN.qr_text]]
    assert "https://images.example/rent-after-the-raid.jpg" in shown.stdout  # picture link

    colour = {**sam.env, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    output = sam.run_mas(colour, "request", "show", naddr, "--qr", *sam.options).stdout
    assert "\x1b[" in output  # white on black, segno's convention (blocks are light)
    scanned = [scan(code) for code in terminal_codes(output, ink=False)]
    assert scanned == [[LIGHTNING.qr_text], [BITCOIN.qr_text]]
    no_colour = {**colour, "NO_COLOR": "1"}  # a terminal, but colour refused: ink again
    output = sam.run_mas(no_colour, "request", "show", naddr, "--qr", *sam.options).stdout
    scanned = [scan(code) for code in terminal_codes(output, ink=True)]
    assert scanned == [[LIGHTNING.qr_text], [BITCOIN.qr_text]]

    as_json = sam("request", "show", naddr, "--json").json_lines()[0]
    assert [p["uri"] for p in as_json["payments"]] == [LIGHTNING.uri, None, BITCOIN.uri]
    refused = sam("request", "show", naddr, "--qr", "--json", code=2)
    assert "--qr is for people" in refused.stderr

    page = sam("export", naddr, "-f", "html").stdout
    assert [scan(code) for code in svg_codes(page)] == [[LIGHTNING.qr_text], [BITCOIN.qr_text]]
    for found in (LIGHTNING, BITCOIN):
        assert f'<figcaption><a href="{found.uri}">{found.uri}</a></figcaption>' in page
        assert f'<a href="{found.uri}">' in page.split("<h2>Pay with a wallet</h2>")[0]
    assert "<img" not in page and "<script" not in page and "<style" not in page
    markdown = sam("export", naddr).stdout
    assert f"- Lightning: <{LIGHTNING.uri}>" in markdown
    assert "- Picture: <https://images.example/rent-after-the-raid.jpg>" in markdown
