"""Terminal QR codes of a request's payment URIs, for ``mas request show --qr``.

segno draws the code; each text line holds two rows of modules in half-block characters
(half the height of one line per row). Which characters mean "dark" depends on where
the text ends up:

* a colour terminal: segno's own convention (blocks are the light modules, spaces the
  dark ones) painted white on black, so the code reads the same on dark and light themes;
* no colour (``NO_COLOR``, a pipe, a file): the characters are the dark modules, as ink
  is on paper and in editors, where the background is the light part.

Only URIs built by :mod:`payuri` are drawn: those are checked payment codes, never text
from the request.
"""

from __future__ import annotations

import io

import segno
from rich.console import Console, RenderableType
from rich.text import Text

from shieldmutual.client.cli.render import untrusted
from shieldmutual.shared.aid.request import AidRequest

# segno's compact blocks (light painted) turned into ink (dark painted).
_INK = str.maketrans({" ": "\u2588", "\u2588": " ", "\u2580": "\u2584", "\u2584": "\u2580"})


def qr_block(data: str, *, colour: bool) -> Text:
    """``data`` as a QR code of half blocks, with a quiet zone (segno's default border)."""
    code = segno.make(data, error="m", micro=False)
    out = io.StringIO()
    code.terminal(out, compact=True)
    text = out.getvalue().rstrip("\n")
    if colour:
        return Text(text, style="bright_white on black", no_wrap=True, overflow="ignore")
    lines = text.translate(_INK).split("\n")
    if code.symbol_size()[1] % 2:  # segno pads an odd last row with dark: no ink for it
        lines[-1] = lines[-1].replace("\u2584", " ").replace("\u2588", "\u2580")
    return Text("\n".join(lines), no_wrap=True, overflow="ignore")


def payment_codes(request: AidRequest, console: Console) -> list[RenderableType]:
    """A label and a QR code for each payment that has a URI, in the request's order."""
    colour = console.color_system is not None and not console.no_color
    parts: list[RenderableType] = []
    for payment in request.payments:
        found = payment.uri()
        if found is not None:
            label = f"\nScan to pay ({payment.method}): {found.uri}"
            parts.append(untrusted(label, "bold", multiline=True))
            parts.append(qr_block(found.qr_text, colour=colour))
    return parts
