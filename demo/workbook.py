"""The one writer of export-shaped workbooks: the demo, the benchmark (bench/generate.py) and
the tests (tests/builders.py) all write their i-milo exports with it.

It lives beside the demo, outside the installed package: production never writes exports (the
report's workbook, pipelines/reporting/xlsx.py, is styled sheets and charts, another job).
The tests and the benchmark run with the repository's root on sys.path, so they import it.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from openpyxl import Workbook

Lines = Iterable[Sequence[object]]


def export_lines(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    title_lines: Iterable[Sequence[object]] = (),
    total_line: str | None = None,
) -> Iterable[list[object]]:
    """A sheet as i-milo extracts it: title lines, the header, the rows, then the Total line
    when `total_line` is given."""
    for line in title_lines:
        yield list(line)
    yield list(headers)
    for row in rows:
        yield list(row)
    if total_line is not None:
        yield [total_line]


def write_workbook(
    path: Path, sheets: Iterable[tuple[str, Lines]], stamp: dt.datetime | None = None
) -> Path:
    """Write `(sheet name, lines)` in order with openpyxl's write-only mode (≈ 20 µs a cell,
    the fastest it has); with `stamp`, the file carries that time instead of the time of saving,
    so that the same lines always give the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    for name, lines in sheets:
        ws = wb.create_sheet(name)
        for line in lines:
            ws.append(list(line))
    wb.save(path)
    if stamp is not None:
        _freeze_stamps(path, stamp)
    return path


def _freeze_stamps(path: Path, when: dt.datetime) -> None:
    """openpyxl stamps the time of saving into docProps/core.xml and the zip entries; put
    `when` instead."""
    with zipfile.ZipFile(path) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            if name == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, content
                )
            archive.writestr(
                zipfile.ZipInfo(name, date_time=when.timetuple()[:6]),
                content,
                compress_type=zipfile.ZIP_DEFLATED,
            )
