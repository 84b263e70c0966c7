"""Text from data, configuration or file names, made safe to print on a terminal.

An export cell, a commune name or a file name may hold control characters: printed raw, ESC
sequences (`\\x1b[2J`, `\\x1b]0;…\\x07`, the one-byte CSI `\\x9b`) clear the screen, retitle
the window or hide the lines before them, and `\\r` or `\\x0b` overwrite what was printed. Each
is shown as a visible escape instead (`\\x1b`), the spelling Python and PostgreSQL's E'…'
strings use, so that the character can be found again in the export.
"""

from __future__ import annotations

import re

# C0 but newline and tab, DEL, C1; the bidirectional overrides and isolates (they reorder
# what the terminal shows, "Trojan Source"); lone surrogates (an undecodable byte of a file
# name, which print() cannot encode and would fail on).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def visible(char: str) -> str:
    """`\\x1b` for a character below U+0100, `\\u202e` above."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str) -> str:
    """`text` with every control character but newline and tab written as a visible escape."""
    return _UNSAFE.sub(lambda m: visible(m.group()), text)
