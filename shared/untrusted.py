"""The one door for text from outside (events, relay messages, NIP-11, URLs) to a screen.

Anything a stranger wrote can reach a terminal: a DM, a pledge note, a relay's NOTICE,
the ``name`` in a NIP-11 document. A terminal obeys escape sequences (ESC, and C1
controls such as U+009B CSI) that retitle the window, wipe the screen or paint fake
text, and it reorders text around bidi controls (U+202E makes ``txt.exe`` out of
``exe.txt``). :func:`visible` turns every such character into a visible escape
(``\\x1b``, ``\\u202e``) so the text shows what it *is*, never what it *does*.

What is made visible: C0 and C1 controls, DEL (category Cc), format characters (Cf:
bidi embeddings, overrides, isolates and marks, zero-width spaces, soft hyphens, BOMs,
tag characters), line and paragraph separators (Zl, Zp) and lone surrogates (Cs). The
zero-width joiner and non-joiner stay: emoji sequences and Persian or Indic words need
them, and they move no cursor. Multi-line text (a story, a DM) may keep ``\\n``, and only
that.

:func:`json_text` does the same for JSON already encoded: the characters become
``\\uXXXX`` escapes, so the JSON value is exactly the same and still no raw escape reaches
a terminal that shows ``--json`` output.
"""

from __future__ import annotations

import unicodedata

# Categories a terminal may act on or hide instead of showing as a glyph.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Format characters that shape writing (emoji sequences, Persian, Indic) and cannot move
# the cursor, reorder text or hide other characters.
_JOINERS = frozenset({"\u200c", "\u200d"})


def is_hidden(char: str) -> bool:
    """True for a character :func:`visible` escapes (``\\n`` included)."""
    return char not in _JOINERS and unicodedata.category(char) in _HIDDEN


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str, *, multiline: bool = False) -> str:
    """``text`` with every hidden character shown as an escape (``\\n`` kept if
    ``multiline``); ordinary text comes back unchanged, and fast."""
    if text.isprintable():
        return text
    return "".join(
        _escape(c) if is_hidden(c) and not (multiline and c == "\n") else c for c in text
    )


def one_line(text: str) -> str:
    """``text`` made visible on a single line: runs of whitespace (a line break too)
    become one space, as a one-line error message or table cell needs."""
    return visible(" ".join(text.split()))


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON has no \U: a UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(encoded: str) -> str:
    """Encoded JSON with hidden characters as ``\\uXXXX`` escapes: the same JSON value.

    Safe only on JSON text: outside strings, JSON has nothing but ASCII punctuation,
    digits, literals and whitespace, and the whitespace (``\\n``, ``\\t``...) an encoder
    emits between tokens is left alone, so every character changed is inside a string.
    """
    if encoded.isascii() and "\x7f" not in encoded:
        return encoded  # the encoder has \\u-escaped every other ASCII control
    return "".join(_json_escape(c) if ord(c) >= 0x7F and is_hidden(c) else c for c in encoded)
