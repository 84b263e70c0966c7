"""From a table of text columns (a sheet, or a CSV file) to an ExportSheet: the data rows
below the header, the columns of the export type (personal ones left out), every cell as
text, normalised.

Cell normalisation (what every value of `ExportSheet.frame` looks like)
-----------------------------------------------------------------------
All files:
- whitespace around a value is stripped (Unicode whitespace, non-breaking and narrow
  no-break spaces included); a cell that is then empty is `None`;
- a text cell is kept as typed (`NC`, ` 059100` → `059100`, `1234567.0` stays
  `1234567.0`): values are never converted to numbers here.

Workbooks only (how fastexcel renders non-text cells as strings, made stable):
- date or datetime cell at midnight → `YYYY-MM-DD` (`2025-01-15`);
- datetime cell with a time → `YYYY-MM-DD HH:MM:SS`, fractions of a second dropped;
  a time-only cell → `1899-12-31 HH:MM:SS` (Excel's day 0);
- number cell with an integral value → its digits, no `.0` (`1234567`, `59100`, `-3`);
- other number cells → shortest decimal text that reads back as the same float, positional,
  never exponent (`0.3` for 0.1+0.2, `1234.56`, `12345678901.123`). fastexcel renders
  non-integral numbers with at most 9 decimals, so digits beyond the 9th decimal are lost
  (`1/3` → `0.333333333`); no export column needs them;
- boolean cell → `true` / `false`;
- formula cell → its cached value, normalised as above (a formula without a cached value
  is empty);
- error cell → its Excel text: `#N/A`, `#DIV/0!`, `#VALUE!`, `#REF!`, `#NAME?`, `#NUM!`,
  `#NULL!` (kept, so the validation step rejects the row instead of seeing an empty cell).
The date and number rules are applied by pattern to every cell of a workbook, so a text
cell typed exactly like fastexcel's rendering (`2025-01-15 00:00:00`, or a number with
exactly 9 decimals) is normalised the same way; the contract ignores time parts anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.config import export_specs
from pipelines.headers import Header

ROW_COLUMN = "_row"

_EXCEL_ERRORS = {
    "Div0": "#DIV/0!",
    "NA": "#N/A",
    "Name": "#NAME?",
    "Null": "#NULL!",
    "Num": "#NUM!",
    "Ref": "#REF!",
    "Value": "#VALUE!",
    "GettingData": "#GETTING_DATA",
}
_ERROR_DETAIL = re.compile(r"Error\((\w+)\)")
# fastexcel's rendering of cells (see the module docstring)
_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00(?:\.0+)?$"
_FRACTION_OF_SECOND = r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\.\d+$"
_NINE_DECIMALS = r"^-?\d+\.\d{9}$"


@dataclass
class ExportSheet:
    path: Path
    file: str
    sheet: str | None
    export_type: str
    header_row: int
    headers: dict[str, str]
    frame: pd.DataFrame
    rows_read: int


def as_string(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type):
        array = array.cast(pa.string())
    return array


def table_rows(columns: list[pa.Array], chunk: int = 64) -> Iterator[tuple[int, list[str | None]]]:
    """Rows of the table as Python lists, read a chunk at a time (for the header search)."""
    height = len(columns[0]) if columns else 0
    for start in range(0, height, chunk):
        parts = [c.slice(start, chunk).to_pylist() for c in columns]
        for offset, cells in enumerate(zip(*parts, strict=True)):
            yield start + offset, list(cells)


def _nonempty(array: pa.Array) -> np.ndarray:
    return pc.not_equal(array, pa.scalar("")).fill_null(False).to_numpy(zero_copy_only=False)


def _on_subset(
    array: pa.Array, candidates: pa.BooleanArray, change: Callable[[pa.Array], pa.Array]
) -> pa.Array:
    """Apply `change` (an array -> array function) to the cells flagged by `candidates` only
    (a cheap pre-filter keeps the regular expressions off most cells)."""
    mask = cast(pa.BooleanArray, candidates.fill_null(False))  # the stubs lose the type
    if not pc.any(mask).as_py():
        return array
    return pc.replace_with_mask(array, mask, change(array.filter(mask)))


def _shortest(texts: pa.Array) -> pa.Array:
    out = []
    for text in cast("list[str]", texts.to_pylist()):  # number texts only, no null
        short = np.format_float_positional(float(text), unique=True, trim="-")
        out.append(short if len(short) < len(text) else text)
    return pa.array(out, type=pa.string())


def _shortest_numbers(array: pa.Array) -> pa.Array:
    return _on_subset(array, pc.match_substring_regex(array, pattern=_NINE_DECIMALS), _shortest)


def _normalise_workbook_values(array: pa.Array) -> pa.Array:
    # A NUL (an `_x0000_` escape in the sheet XML) means nothing in an export and PostgreSQL
    # text cannot hold it: removed, on both engines alike, so the figures agree.
    array = _on_subset(
        array,
        pc.match_substring(array, "\x00"),
        lambda a: pc.replace_substring(a, pattern="\x00", replacement=""),
    )
    array = _on_subset(
        array,
        pc.match_substring(array, ":"),
        lambda a: pc.replace_substring_regex(
            pc.replace_substring_regex(a, pattern=_MIDNIGHT, replacement=r"\1"),
            pattern=_FRACTION_OF_SECOND,
            replacement=r"\1",
        ),
    )
    return _on_subset(array, pc.match_substring(array, "."), _shortest_numbers)


def error_cells(errors: object) -> dict[int, dict[int, str]]:
    """Error cells reported by fastexcel: column index -> row index -> Excel error text."""
    found: dict[int, dict[int, str]] = {}
    for error in getattr(errors, "errors", None) or ():
        m = _ERROR_DETAIL.search(error.detail)
        if not m:
            continue
        row, col = error.position
        found.setdefault(col, {})[row] = _EXCEL_ERRORS.get(m.group(1), f"#{m.group(1)}")
    return found


@dataclass
class TextTable:
    """One sheet (or CSV file) as text columns, before its header is known."""

    columns: list[pa.Array]
    first_row_number: int  # Excel/CSV row number of index 0
    workbook: bool  # apply the workbook cell normalisation
    errors: dict[int, dict[int, str]] = field(default_factory=dict)


def build_sheet(
    table: TextTable, header: Header, path: Path, file: str, sheet: str | None
) -> ExportSheet:
    export_type = header.recognition.export_type
    assert export_type is not None  # the callers skip or refuse an unrecognised header
    spec = export_specs()[export_type]
    start = header.index + 1
    trimmed: dict[int, pa.Array] = {}
    keep = [c for c in spec.columns if c.name in header.recognition.columns and not c.personal]
    keep_index = {header.recognition.columns[c.name] for c in keep}

    # which rows below the header hold anything (blank rows are not data)
    height = len(table.columns[0]) - start if table.columns else 0
    filled = np.zeros(max(height, 0), dtype=bool)
    for j, column in enumerate(table.columns):
        region = pc.utf8_trim_whitespace(column.slice(start))
        if j in keep_index:
            trimmed[j] = region
        filled |= _nonempty(region)
        for row in table.errors.get(j, {}):
            if row >= start:
                filled[row - start] = True
    rows = np.flatnonzero(filled)

    # one Total line below the data is not data
    if len(rows):
        last = int(rows[-1]) + start
        for column in table.columns:
            value = column[last].as_py()
            if value is not None and value.strip():
                if value.strip().casefold().startswith("total"):
                    rows = rows[:-1]
                break

    indices = pa.array(rows, type=pa.int64())
    data: dict[str, object] = {}
    headers: dict[str, str] = {}
    for col in keep:
        j = header.recognition.columns[col.name]
        headers[col.name] = str(header.cells[j]).strip()
        values = trimmed[j].take(indices)
        values = pc.if_else(pc.equal(values, pa.scalar("")), pa.scalar(None, pa.string()), values)
        if table.workbook:
            values = _normalise_workbook_values(values)
        series = values.to_pandas()
        errors = {row - start: text for row, text in table.errors.get(j, {}).items()}
        if errors:
            where = np.searchsorted(rows, list(errors))
            hits = [
                (int(w), text)
                for w, (row, text) in zip(where, errors.items(), strict=True)
                if w < len(rows) and rows[w] == row
            ]
            if hits:
                series = series.astype(object)
                series.iloc[[w for w, _ in hits]] = [t for _, t in hits]
        data[col.name] = series
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
    for name in frame.columns:
        frame[name] = frame[name].astype(object)
    frame[ROW_COLUMN] = (rows + start + table.first_row_number).astype("int64")
    return ExportSheet(
        path=path,
        file=file,
        sheet=sheet,
        export_type=spec.name,
        header_row=header.index + table.first_row_number,
        headers=headers,
        frame=frame,
        rows_read=len(rows),
    )
