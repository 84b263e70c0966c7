"""Text from data, configuration or file names, made safe for the files the report writes.

Labels come from exports (an aid type, a programme), from `structure.yaml` (commune names),
from config/report.yaml and from folder names; any of them may start with `=` or hold a
control character. Two rules, applied by the workbook writer and the HTML writer alike:

- characters a format refuses never fail the report: XML 1.0 (the workbook's sheets, shared
  strings and charts; the SVG) refuses C0 controls but tab, newline and carriage return, the
  non-characters U+FFFE and U+FFFF, and lone surrogates (UTF-8 cannot encode them); HTML5
  calls C1 controls and DEL parse errors. Each is written as a visible escape (`\\x0b`), as
  on the terminal (pipelines/terminal.py), rather than U+FFFD: two categories that differ by
  their control character keep two labels, and the reader sees which character to look for
  in the export;
- no text becomes a formula: the workbook writer stores every str as a text cell
  (pipelines/reporting/xlsx.py, `put`).
"""

from __future__ import annotations

import re
from html import escape

from pipelines.terminal import visible

_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """`text` with every character XML 1.0 or HTML refuses written as a visible escape."""
    return _REFUSED.sub(lambda m: visible(m.group()), text)


def html_text(text: str) -> str:
    """`text` for HTML or SVG, in an element or an attribute: escaped, quotes included."""
    return escape(printable(text), quote=True)
