"""Read the i-milo exports of a partition folder into frames of text.

Implements `shared/contract/exports.md`, sections *Folder layout*, *Recognising a file* and
*Headers*: which files of `raw/<STRUCTURE>/<YEAR>/` are read, how a header row is found
(up to 10 title lines above it) and recognised as one of the export types of
`config/exports.yaml`, which rows are data (blank rows and a final `Total` line are not).
Parsing values (dates, amounts, codes) is left to the next step: every cell comes out as
text, exactly as typed, so nothing is lost to a reader's type guessing (see
`shared/notes/measurements.md`, *Pitfall — type guessing loses data*).

Readers
-------
- `.xlsx`, `.xlsm`, `.xls`: fastexcel (calamine), every column read as `string`, one read per
  sheet. Sheet visibility comes from fastexcel too (`ExcelSheet.visible`).
- `.csv`: decoded as UTF-8 (with or without BOM; a UTF-16 BOM is honoured too), else as
  Windows-1252; separator `;` or `,`, whichever gives a recognisable header row.

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

import csv
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import fastexcel
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.config import ExportSpec, export_specs, fold

EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")
CSV_EXTENSIONS = (".csv",)
MAX_TITLE_LINES = 10
HEADER_SCAN_ROWS = MAX_TITLE_LINES + 1  # non-empty rows looked at for the header
CSV_SEPARATORS = (";", ",")
ROW_COLUMN = "_row"

# Bounds on what one file may make the reader hold (exports.md, *What bad input gets*;
# docs/faults.md): a file beyond them fails its partition with a message, never the process.
MAX_FILE_BYTES = 256 * 1024 * 1024  # a 1 M-row CSV is ≈100 MB, a full Excel sheet less
MAX_SHEET_CELLS = 50_000_000  # rows × columns calamine holds for one sheet (≈40 bytes each)
MAX_UNCOMPRESSED_BYTES = 2 * 1024 * 1024 * 1024  # XML parts of one workbook, as declared
MAX_ZIP_MEMBERS = 10_000

_OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_ZIP_MAGIC = b"PK\x03\x04"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")

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

_WHAT_TO_DO_HEADER = (
    "check that it is an i-milo export; if it is, add the headers it uses as aliases in "
    "config/exports.yaml and rerun"
)


class UnreadableFileError(Exception):
    """A file of the drop zone that cannot be read: its partition's ingest fails.

    The message names the file (path relative to `raw/`), the cause and what to do.
    """

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


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


@dataclass
class ReadResult:
    sheets: list[ExportSheet] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Recognising a header row


@dataclass(frozen=True)
class _TypeMatch:
    spec: ExportSpec
    columns: dict[str, int]  # canonical column -> index in the row
    missing: tuple[str, ...]  # contract header names of the missing required columns

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class _Recognition:
    export_type: str | None
    columns: dict[str, int]
    explanation: str
    tied: tuple[str, ...] = ()
    nearest: _TypeMatch | None = None  # when no type matches

    @property
    def found_type(self) -> bool:
        """A row holding every required column of some type (even if tied)."""
        return self.export_type is not None or bool(self.tied)

    def closeness(self) -> tuple[int, int]:
        """Sort key of a non-matching row: fewest required columns missing, most found."""
        if self.nearest is None:
            return (0, 0)
        return (len(self.nearest.missing), -len(self.nearest.columns))


def _match_type(spec: ExportSpec, folded: list[str]) -> _TypeMatch:
    used: set[int] = set()
    columns: dict[str, int] = {}
    for col in spec.columns:
        for name in col.folded_names:
            index = next((i for i, f in enumerate(folded) if f == name and i not in used), None)
            if index is not None:
                columns[col.name] = index
                used.add(index)
                break
    missing = tuple(c.header for c in spec.required if c.name not in columns)
    return _TypeMatch(spec=spec, columns=columns, missing=missing)


def _recognise(headers: Iterable[object]) -> _Recognition:
    folded = [fold(h) if h is not None else "" for h in headers]
    matches = [_match_type(spec, folded) for spec in export_specs().values()]
    complete = [m for m in matches if m.complete]
    if complete:
        best = max(len(m.columns) for m in complete)
        winners = [m for m in complete if len(m.columns) == best]
        if len(winners) > 1:
            names = tuple(m.spec.name for m in winners)
            return _Recognition(
                export_type=None,
                columns={},
                explanation=(
                    f"the header row matches several export types equally "
                    f"({', '.join(names)}: {best} columns each), so the type cannot be "
                    "told; remove or rename the ambiguous columns, or make the aliases in "
                    "config/exports.yaml more specific"
                ),
                tied=names,
            )
        win = winners[0]
        others = [f"{m.spec.name} ({len(m.columns)})" for m in complete if m is not win]
        explanation = (
            f"recognised as {win.spec.name}: {len(win.columns)} of its "
            f"{len(win.spec.columns)} columns found"
        )
        if others:
            explanation += f"; also satisfies {', '.join(others)}, with fewer columns"
        return _Recognition(win.spec.name, dict(win.columns), explanation)
    nearest = min(matches, key=lambda m: (len(m.missing), -len(m.columns)))
    return _Recognition(
        export_type=None,
        columns={},
        explanation=(
            f"no export type recognised; nearest is {nearest.spec.name}, "
            f"lacking {', '.join(nearest.missing)}"
        ),
        nearest=nearest,
    )


def recognise(headers: list[str]) -> tuple[str | None, dict[str, int], str]:
    """Recognise the export type of a header row (exports.md, *Recognising a file*).

    Returns (export type or None, canonical column -> index in `headers`, explanation).
    A type matches when every one of its required columns is found; among several, the
    one with the most of its listed columns found wins (personal and text columns count);
    a tie gives None and names the tied types; no match gives None and names the nearest
    type (fewest required columns missing) with its missing columns' contract headers.
    The mapping holds every column found, personal ones included.
    """
    r = _recognise(headers)
    return r.export_type, r.columns, r.explanation


@dataclass(frozen=True)
class _Header:
    index: int  # index of the row in the table's columns
    cells: list[str | None]
    recognition: _Recognition


def _find_header(rows: Iterable[tuple[int, list[str | None]]]) -> _Header | None:
    """The first of the first 11 non-empty rows that holds a type's required columns.

    Without one, the row closest to a type (to explain what is missing). None when every
    row is empty.
    """
    best: _Header | None = None
    seen = 0
    for index, cells in rows:
        if not any(c is not None and str(c).strip() for c in cells):
            continue
        seen += 1
        header = _Header(index, cells, _recognise(cells))
        if header.recognition.found_type:
            return header
        if best is None or header.recognition.closeness() < best.recognition.closeness():
            best = header
        if seen >= HEADER_SCAN_ROWS:
            break
    return best


# ---------------------------------------------------------------------------------------
# From a table of text columns to an ExportSheet


def _as_string(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_string(array.type):
        array = array.cast(pa.string())
    return array


def _rows(columns: list[pa.Array], chunk: int = 64) -> Iterator[tuple[int, list[str | None]]]:
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
    array = _on_subset(array, pc.match_substring(array, "\x00"),
                       lambda a: pc.replace_substring(a, pattern="\x00", replacement=""))
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


def _error_cells(errors: object) -> dict[int, dict[int, str]]:
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
class _Table:
    """One sheet (or CSV file) as text columns, before its header is known."""

    columns: list[pa.Array]
    first_row_number: int  # Excel/CSV row number of index 0
    workbook: bool  # apply the workbook cell normalisation
    errors: dict[int, dict[int, str]] = field(default_factory=dict)


def _build_sheet(
    table: _Table, header: _Header, path: Path, file: str, sheet: str | None
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
        values = pc.if_else(pc.equal(values, pa.scalar("")), pa.scalar(None, pa.string()),
                            values)
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


def _describe_nearest(header: _Header, sheet: str | None, row_number: int) -> str:
    nearest = header.recognition.nearest
    where = f"sheet '{sheet}', row {row_number}" if sheet is not None else f"row {row_number}"
    assert nearest is not None
    return (
        f"nearest type is {nearest.spec.name} ({where}), which lacks the required "
        f"column(s): {', '.join(nearest.missing)}"
    )


# ---------------------------------------------------------------------------------------
# Files


def relative_name(path: Path, raw_root: Path) -> str:
    """`S/Y/name` as listed (a link keeps its own name), else the resolved path."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(raw_root)).as_posix()
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(raw_root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _inside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root)
        return True
    except ValueError:
        return False


def _special_kind(mode: int) -> str | None:
    """What a non-regular, non-folder entry is (in French), or None for a file or folder."""
    if stat.S_ISFIFO(mode):
        return "un tube nommé (FIFO)"
    if stat.S_ISSOCK(mode):
        return "une socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "un périphérique"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "un fichier spécial"


def link_problem(entry: Path, raw_root: Path) -> str | None:
    """Why a symbolic link of the drop zone is not followed (in French), or None when it
    leads to a file or folder inside `raw_root`."""
    try:
        target = entry.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop
        return ("lien symbolique cassé (sa cible n'existe pas) : remplacez-le par le fichier "
                "lui-même, ou supprimez-le")
    if not _inside(target, raw_root.resolve()):
        return ("lien symbolique vers un emplacement hors de raw/ : il n'est pas suivi ; "
                "copiez le fichier lui-même dans le dossier, ou supprimez le lien")
    return None


def list_export_files(year_dir: Path, raw_root: Path | None = None
                      ) -> tuple[list[Path], list[str]]:
    """Files to read in `raw/<S>/<Y>/` (xlsx, xlsm, xls, csv; sorted by name) and warnings
    for the entries skipped (other extensions, Excel `~$` lock files, hidden files,
    sub-folders, FIFOs, sockets and devices, symbolic links leading out of `raw_root`,
    default: two levels up). Never opens a file: a FIFO cannot block the listing."""
    year_dir = Path(year_dir)
    raw_root = Path(raw_root) if raw_root is not None else year_dir.parent.parent
    shown = Path(*year_dir.parts[-2:]) if len(year_dir.parts) >= 2 else year_dir
    files: list[Path] = []
    warnings: list[str] = []
    for entry in sorted(year_dir.iterdir(), key=lambda p: p.name):
        name = (shown / entry.name).as_posix()
        if entry.name.startswith("."):
            warnings.append(f"{name}: skipped (hidden file)")
            continue
        if entry.name.startswith("~$"):
            warnings.append(
                f"{name}: skipped (Excel lock file: the workbook is open in Excel or Excel "
                "did not close cleanly; it holds no data)"
            )
            continue
        try:
            if entry.is_symlink() and (problem := link_problem(entry, raw_root)):
                warnings.append(f"{name}: ignoré ({problem})")
                continue
            mode = entry.stat().st_mode  # follows a link inside raw/; never opens
        except OSError as exc:
            warnings.append(f"{name}: ignoré (illisible : {exc.strerror})")
            continue
        if kind := _special_kind(mode):
            warnings.append(
                f"{name}: ignoré (ce n'est pas un fichier mais {kind} ; seuls des fichiers "
                "ordinaires sont lus : retirez-le du dossier)"
            )
        elif stat.S_ISDIR(mode):
            warnings.append(f"{name}: skipped (folder: files in sub-folders are not read)")
        elif entry.suffix.lower() in EXCEL_EXTENSIONS + CSV_EXTENSIONS:
            files.append(entry)
        else:
            warnings.append(
                f"{name}: skipped (not an export: only .xlsx, .xlsm, .xls and .csv files are read)"
            )
    return files, warnings


def read_file_bytes(path: Path, file: str, raw_root: Path | None = None) -> bytes:
    """The bytes of one export file, read once (what is parsed, hashed and sized is the same
    version, even if the file is replaced meanwhile). Opened without blocking (a FIFO put in
    the file's place is refused, not waited on); a link must lead inside `raw_root`; at most
    MAX_FILE_BYTES."""
    path = Path(path)
    if raw_root is not None and path.is_symlink() and (problem := link_problem(path, raw_root)):
        raise UnreadableFileError(file, problem)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFileError(file, f"cannot be opened ({exc.strerror})") from exc
    try:
        info = os.fstat(fd)
        if kind := _special_kind(info.st_mode):
            raise UnreadableFileError(
                file, f"ce n'est pas un fichier mais {kind} : retirez-le du dossier")
        if stat.S_ISDIR(info.st_mode):
            raise UnreadableFileError(file, "c'est un dossier, pas un fichier")
        if info.st_size > MAX_FILE_BYTES:
            raise UnreadableFileError(file, _too_big(info.st_size))
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 22):
            total += len(chunk)
            if total > MAX_FILE_BYTES:  # grew while being read
                raise UnreadableFileError(file, _too_big(total))
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFileError(file, f"cannot be read ({exc.strerror})") from exc
    finally:
        os.close(fd)


def _n(number: float) -> str:
    """A number as a French reader writes it: 17 179 869 184."""
    return f"{number:,.0f}".replace(",", " ")


def _too_big(size: int) -> str:
    return (f"le fichier fait {_n(size / 2**20)} Mio, au-delà de la limite de "
            f"{_n(MAX_FILE_BYTES // 2**20)} Mio qu'un export peut occuper en mémoire : "
            "découpez l'extraction (par exemple par semestre) en plusieurs fichiers du même "
            "dossier, ou vérifiez que c'est bien un export i-milo")


def read_partition(year_dir: Path, raw_root: Path) -> ReadResult:
    """All files of a partition folder; an unreadable file raises UnreadableFileError."""
    files, warnings = list_export_files(year_dir, raw_root)
    result = ReadResult(sheets=[], warnings=list(warnings))
    for path in files:
        one = read_export_file(path, raw_root)
        result.sheets.extend(one.sheets)
        result.warnings.extend(one.warnings)
    return result


def read_export_file(path: Path, raw_root: Path, content: bytes | None = None) -> ReadResult:
    """Read one export file (from `content`, its bytes, when the caller has them already).

    Raises UnreadableFileError (corrupt, password-protected, not a workbook, empty, no
    sheet with a recognisable header, a header matching two types equally, beyond the
    memory bounds...) naming the file, the cause and what to do.
    """
    path = Path(path)
    file = relative_name(path, raw_root)
    if content is None:
        content = read_file_bytes(path, file, raw_root)
    if not content:
        raise UnreadableFileError(
            file, "the file is empty (0 bytes): extract it again from i-milo, or remove it"
        )
    if path.suffix.lower() in CSV_EXTENSIONS:
        return _read_csv(content, path, file)
    return _read_workbook(content, path, file)


# ---------------------------------------------------------------------------------------
# Workbooks


def _looks_like(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") and (b"<html" in text or b"<table" in text or b"<!doctype" in text):
        return "html"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError:
            try:
                head.decode("cp1252")
                return "text"
            except UnicodeDecodeError:
                pass
    return "binary"


def _open_workbook(content: bytes, path: Path, file: str) -> fastexcel.ExcelReader:
    head = content[:4096]
    ext = path.suffix.lower()
    password = (
        "it is password-protected (protégé par mot de passe): open it in Excel and save it "
        "without a password (File > Info > Protect Workbook > Encrypt with Password: clear "
        "the password), then rerun"
    )
    if head.startswith(b"PK"):  # a zip: .xlsx, .xlsm (or a truncated one)
        try:
            checked = check_zip_workbook(content, file)
            return fastexcel.read_excel(checked)
        except (fastexcel.FastExcelError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise UnreadableFileError(
                file,
                "the workbook is corrupt or truncated (fichier endommagé), or is not an "
                "Excel file: open it in Excel and save it again, or extract it again from "
                f"i-milo [{_first_line(exc)}]",
            ) from exc
    if head.startswith(_OLE2_MAGIC):
        # An OLE2 container: a real .xls, or an encrypted (password-protected) .xlsx
        if _ENCRYPTED_PACKAGE in content:
            raise UnreadableFileError(file, password)
        check_xls_workbook(content, file)
        try:  # an old-format .xls saved under a .xlsx name reads fine from its bytes
            return fastexcel.read_excel(content)
        except fastexcel.FastExcelError as exc:
            if ext == ".xls" and not re.search(r"password|encrypt", str(exc), re.IGNORECASE):
                raise UnreadableFileError(
                    file,
                    "the workbook is corrupt (fichier endommagé) or password-protected: "
                    "open it in Excel and save it again as .xlsx without a password "
                    f"[{_first_line(exc)}]",
                ) from exc
            if ext == ".xls":
                raise UnreadableFileError(file, password) from exc
            raise UnreadableFileError(
                file,
                f"{password} (a {ext} file stored as an OLE2 container is an encrypted "
                f"workbook; if it has no password, it is corrupt) [{_first_line(exc)}]",
            ) from exc
    kind = _looks_like(head)
    if kind == "html":
        reason = (
            f"not an Excel workbook but a web page (HTML) saved with a {ext} name: open it "
            "in Excel and save it as .xlsx"
        )
    elif kind == "text":
        reason = (
            f"not an Excel workbook but a text file with a {ext} name: if it is a CSV "
            "export, rename it to .csv; otherwise extract it again from i-milo"
        )
    else:
        reason = (
            "not an Excel workbook (unknown content): extract it again from i-milo, or "
            "remove it from the folder"
        )
    raise UnreadableFileError(file, reason)


# ---------------------------------------------------------------------------------------
# What a workbook declares, checked before calamine reads it
#
# Measured with fastexcel 0.21 (docs/faults.md): calamine holds a sheet as a dense grid
# from A1 to its farthest cell holding a value (≈40 bytes a cell), so one value in
# XFD1048576 asks for ≈512 GiB and aborts the process; it also reserves room for the
# shared strings' declared `uniqueCount`, and, in a .xls, for the DIMENSIONS record's area
# and the SST's declared count. The `<dimension ref>` of a .xlsx, empty formatted cells
# (`<c r="XFD1048576" s="1"/>`) and formatted empty rows cost nothing: such files are read
# as they are.

_XLSX_SMALL_OR_ODD = re.compile(  # a cell tag not of the usual small form `<c r="BZ99999"`
    rb'<c(?:[>/\t\r\n]| (?!r="[A-B]?[A-Z]?[0-9]{1,5}"))')
_XLSX_PREFIXED_CELL = re.compile(rb':c[\s>/]')  # apart: an alternation slows the search 4x
_XLSX_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*?(/?)>')
_XLSX_TAG = re.compile(  # any row or cell tag, any prefix, any attribute layout
    rb'<(/?)(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*?)(/?)>')
_XLSX_REF = re.compile(rb'(?:^|\s)r\s*=\s*["\']\s*([A-Za-z$]*)\$?([0-9]*)')
_SST_UNIQUE = re.compile(rb'(\suniqueCount\s*=\s*["\'])([0-9]+)(["\'])')
_REL_TARGET = re.compile(rb'Target\s*=\s*["\']([^"\']+)["\']')
_CHUNK = 8 << 20


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        if not 65 <= ch <= 90:
            return 1 << 20  # not a column calamine knows: count it as far away
        n = n * 26 + ch - 64
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out or "A"


class _Extent:
    """The farthest row and column holding a value in one worksheet part, as calamine
    places cells (a cell's `r`, else the row's and a running column)."""

    def __init__(self) -> None:
        self.rows = 0
        self.cols = 0
        self.row = 0  # calamine's running position, for cells without `r`
        self.col = 0

    def fast(self, text: bytes) -> bool:
        """The usual layout (every cell `<c r="..."`, near A1): nothing to do. False when
        the exact pass is needed."""
        return _XLSX_SMALL_OR_ODD.search(text) is None and (
            b":c" not in text or _XLSX_PREFIXED_CELL.search(text) is None)

    def exact(self, text: bytes) -> None:
        cells = _XLSX_CELL.findall(text)
        if (len(cells) == text.count(b"<c ") == text.count(b'<c r="')
                and b":c" not in text and re.search(rb"<c[>/\t\r\n]", text) is None):
            filled = [(c, r) for c, r, closed in cells if not closed]
            if filled:  # every cell has its own `r`: no running position to follow
                self.rows = max(self.rows, max(int(r) for _, r in filled))
                self.cols = max(self.cols, max(_column_number(c) for c in {c for c, _ in filled}))
                self.row, self.col = int(filled[-1][1]) - 1, _column_number(filled[-1][0])
            return
        self.follow(text)

    def follow(self, text: bytes) -> None:
        """Tag by tag, as calamine's cell reader does (rare layouts: prefixes, no `r`)."""
        for closing, tag, attrs, empty in _XLSX_TAG.findall(text):
            if tag == b"row":
                if closing:
                    self.row, self.col = self.row + 1, 0
                    continue
                m = _XLSX_REF.search(attrs)
                if m and m.group(2):
                    self.row = int(m.group(2)) - 1
                if empty:  # <row/>: opened and closed
                    self.row, self.col = self.row + 1, 0
                continue
            if closing:
                continue
            m = _XLSX_REF.search(attrs)
            if m and (m.group(1) or m.group(2)):
                row = int(m.group(2)) - 1 if m.group(2) else self.row
                col = _column_number(m.group(1)) - 1 if m.group(1) else self.col
            else:
                row, col = self.row, self.col
            if not empty:  # a self-closed cell holds no value: calamine skips it
                self.rows = max(self.rows, row + 1)
                self.cols = max(self.cols, col + 1)
            self.col = col + 1


def _member_chunks(content: bytes, info: zipfile.ZipInfo, file: str) -> Iterator[bytes]:
    """The decompressed bytes of one zip member, a chunk at a time; refuses a member that
    decompresses to more than it declares (what a zip bomb does)."""
    offset = info.header_offset
    if content[offset:offset + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_len, extra_len = struct.unpack_from("<HH", content, offset + 26)
    start = offset + 30 + name_len + extra_len
    raw = memoryview(content)[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        for i in range(0, len(raw), _CHUNK):
            yield bytes(raw[i:i + _CHUNK])
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise UnreadableFileError(
            file, f"la partie {info.filename} du classeur est compressée d'une façon "
            f"qu'Excel n'emploie pas (méthode {info.compress_type}) : ouvrez le fichier dans "
            "Excel et enregistrez-le de nouveau en .xlsx")
    inflate = zlib.decompressobj(-15)
    produced, pos = 0, 0
    pending: bytes | memoryview = b""
    while True:
        if not pending:
            if pos >= len(raw):
                break
            pending, pos = raw[pos:pos + _CHUNK], pos + _CHUNK
        chunk = inflate.decompress(pending, _CHUNK)
        pending = inflate.unconsumed_tail
        produced += len(chunk)
        if produced > info.file_size:
            raise UnreadableFileError(
                file, f"la partie {info.filename} du classeur se décompresse en plus que les "
                f"{info.file_size} octets qu'elle déclare (fichier forgé ou endommagé, une "
                "« bombe zip ») : il n'est pas lu ; extrayez-le de nouveau depuis i-milo")
        if chunk:
            yield chunk
        if inflate.eof:
            break


def _scan_sheet(content: bytes, info: zipfile.ZipInfo, file: str) -> None:
    extent, carry = _Extent(), b""
    for chunk in _member_chunks(content, info, file):
        text = carry + chunk
        cut = text.rfind(b"<")  # a tag cut by the chunk's end waits for the next chunk
        text, carry = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
        if not extent.fast(text):
            extent.exact(text)
    if carry:
        extent.exact(carry)
    cells = extent.rows * extent.cols
    if cells > MAX_SHEET_CELLS:
        far = f"{_column_letters(extent.cols)}{extent.rows}"
        raise UnreadableFileError(
            file,
            f"une feuille a une cellule remplie jusqu'en {far} (partie {info.filename}) : la "
            f"lire demanderait de tenir {_n(cells)} cellules en mémoire, au-delà de la limite "
            f"de {_n(MAX_SHEET_CELLS)} ; ouvrez le fichier dans Excel, allez à la dernière "
            "cellule (Ctrl+Fin), supprimez les lignes et colonnes au-delà des données, "
            "enregistrez et relancez",
        )


def _shared_strings(content: bytes, info: zipfile.ZipInfo, file: str) -> tuple[int, int]:
    """(uniqueCount declared, an upper bound of the strings actually there)."""
    declared, found, carry = -1, 0, b""
    for chunk in _member_chunks(content, info, file):
        text = carry + chunk  # 2 bytes carried: a `<si` cut in two is counted once
        if declared < 0 and (m := re.search(rb"<(?:[\w.-]+:)?sst\b[^>]*>", text)):
            unique = _SST_UNIQUE.search(m.group())
            declared = int(unique.group(2)) if unique else 0
        found += text.count(b"<si") + text.count(b":si")
        carry = text[-2:]
    return max(declared, 0), found


def _sheet_parts(zf: zipfile.ZipFile) -> set[str]:
    """Every part calamine may read as a sheet: the `xl/` XML parts, and whatever the
    workbook's relationships point at (a sheet may have any name)."""
    names = set(zf.namelist())
    parts = {n for n in names if n.lower().endswith(".xml") and n.startswith("xl/")}
    if "xl/_rels/workbook.xml.rels" in names:
        rels = zf.read("xl/_rels/workbook.xml.rels")[:1 << 20]
        for target in _REL_TARGET.findall(rels):
            t = target.decode("utf-8", "replace")
            part = t.lstrip("/") if t.startswith("/") else os.path.normpath(f"xl/{t}")
            if part in names:
                parts.add(part)
    return parts


def check_zip_workbook(content: bytes, file: str) -> bytes:
    """Check what a .xlsx/.xlsm declares before calamine reads it; return the bytes to read
    (the same, or a copy whose shared strings' `uniqueCount` is set to the real number).

    Refuses (UnreadableFileError) a workbook whose reading would exceed the bounds: more
    than MAX_ZIP_MEMBERS parts, XML parts over MAX_UNCOMPRESSED_BYTES declared, a part
    decompressing to more than it declares, a sheet whose farthest value makes a grid of
    more than MAX_SHEET_CELLS cells."""
    zf = zipfile.ZipFile(io.BytesIO(content))
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UnreadableFileError(
            file, f"le classeur compte {len(infos)} parties (au-delà de {MAX_ZIP_MEMBERS}) : "
            "ce n'est pas un export ; extrayez-le de nouveau depuis i-milo")
    parts = _sheet_parts(zf)
    declared = sum(i.file_size for i in infos if i.filename in parts)
    if declared > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableFileError(
            file, f"le classeur déclare {_n(declared / 2**20)} Mio une fois décompressé, "
            f"au-delà de la limite de {_n(MAX_UNCOMPRESSED_BYTES // 2**20)} Mio : découpez "
            "l'extraction en plusieurs fichiers")
    rewrite: dict[str, bytes] = {}
    for info in infos:
        if info.filename not in parts or info.is_dir():
            continue
        if info.filename.lower().endswith("sharedstrings.xml"):
            declared_unique, found = _shared_strings(content, info, file)
            if declared_unique > found:  # calamine reserves room for uniqueCount strings
                rewrite[info.filename] = _SST_UNIQUE.sub(
                    rb"\g<1>" + str(found).encode() + rb"\g<3>", zf.read(info), count=1)
        else:
            _scan_sheet(content, info, file)
    if not rewrite:
        return content
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in infos:
            copy.writestr(info, rewrite.get(info.filename) or zf.read(info),
                          compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


# .xls (BIFF8 in an OLE2 container): record types whose first two fields are (row, col)
_BIFF_CELLS = {0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006}
_BIFF_MULRK, _BIFF_DIMENSIONS, _BIFF_SST, _BIFF_BOF = 0x00BD, 0x0200, 0x00FC, 0x0809


def check_xls_workbook(content: bytes, file: str) -> None:
    """Check what a .xls declares before calamine reads it (it reads every sheet at once):
    the DIMENSIONS records' areas, the SST's declared count and the farthest cell of each
    sheet. Refuses (UnreadableFileError) what would exceed MAX_SHEET_CELLS."""
    import olefile  # late import: only .xls files need it

    try:
        ole = olefile.OleFileIO(io.BytesIO(content))
        name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
        if name is None:
            return  # not a workbook: calamine says so itself
        stream = ole.openstream(name).read(MAX_FILE_BYTES)
    except Exception:  # a container olefile cannot parse: calamine reports it, with its cause
        return
    refuse = (
        "ouvrez le fichier dans Excel, supprimez les lignes et colonnes au-delà des données "
        "et enregistrez-le en .xlsx, puis relancez")
    rows = cols = 0
    pos, size = 0, len(stream)
    while pos + 4 <= size:
        kind, length = struct.unpack_from("<HH", stream, pos)
        data = stream[pos + 4:pos + 4 + length]
        pos += 4 + length
        if kind == _BIFF_BOF:
            rows = cols = 0
        elif kind in _BIFF_CELLS and length >= 4:
            row, col = struct.unpack_from("<HH", data)
            rows, cols = max(rows, row + 1), max(cols, col + 1)
        elif kind == _BIFF_MULRK and length >= 6:
            row, = struct.unpack_from("<H", data)
            last, = struct.unpack_from("<H", data, length - 2)
            rows, cols = max(rows, row + 1), max(cols, last + 1)
        elif kind == _BIFF_DIMENSIONS and length in (10, 14):
            if length == 14:
                first_row, last_row, first_col, last_col = struct.unpack_from("<IIHH", data)
            else:
                first_row, last_row, first_col, last_col = struct.unpack_from("<HHHH", data)
            # calamine reserves (last - first) rows × columns, in u32 (a last before the
            # first wraps round to ≈4 billion)
            area = 1
            if last_row >= 1 and last_col >= 1:
                area = ((last_row - first_row) % 2**32) * ((last_col - first_col) % 2**32)
            if area > MAX_SHEET_CELLS:
                raise UnreadableFileError(
                    file, f"une feuille déclare {_n(area)} cellules (enregistrement "
                    f"DIMENSIONS), au-delà de la limite de {_n(MAX_SHEET_CELLS)} : {refuse}")
        elif kind == _BIFF_SST and length >= 8:
            unique, = struct.unpack_from("<i", data, 4)
            if unique < 0 or unique > size // 3:  # each string takes 3 bytes at least
                raise UnreadableFileError(
                    file, f"la table des textes déclare {unique} textes, impossible dans un "
                    f"fichier de cette taille (fichier forgé ou endommagé) : {refuse}")
        if rows * cols > MAX_SHEET_CELLS:
            raise UnreadableFileError(
                file, f"une feuille a une cellule remplie jusqu'en {_column_letters(cols)}"
                f"{rows} : la lire demanderait de tenir {_n(rows * cols)} cellules en "
                f"mémoire, au-delà de la limite de {_n(MAX_SHEET_CELLS)} : {refuse}")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_workbook(content: bytes, path: Path, file: str) -> ReadResult:
    reader = _open_workbook(content, path, file)
    result = ReadResult()
    best: tuple[_Header, str] | None = None
    skipped = 0
    for name in reader.sheet_names:
        try:
            loaded = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
            visible = loaded.visible
            if visible != "visible":
                result.warnings.append(f"{file}, sheet '{name}': skipped ({visible} sheet)")
                skipped += 1
                continue
            if loaded.width == 0 or loaded.height == 0:
                result.warnings.append(f"{file}, sheet '{name}': skipped (empty sheet)")
                skipped += 1
                continue
            batch, errors = loaded.to_arrow_with_errors()
        except fastexcel.FastExcelError as exc:
            raise UnreadableFileError(
                file,
                f"sheet '{name}' cannot be read: the workbook is corrupt (fichier endommagé); "
                f"open it in Excel and save it again [{_first_line(exc)}]",
            ) from exc
        table = _Table(
            columns=[_as_string(batch.column(i)) for i in range(batch.num_columns)],
            first_row_number=1,
            workbook=True,
            errors=_error_cells(errors),
        )
        header = _find_header(_rows(table.columns))
        if header is None:
            result.warnings.append(f"{file}, sheet '{name}': skipped (empty sheet)")
            skipped += 1
            continue
        recognition = header.recognition
        row_number = header.index + table.first_row_number
        if recognition.tied:
            raise UnreadableFileError(
                file, f"sheet '{name}', row {row_number}: {recognition.explanation}"
            )
        if recognition.export_type is None:
            result.warnings.append(
                f"{file}, sheet '{name}': skipped (no export type recognised in its first "
                f"{HEADER_SCAN_ROWS} non-empty rows; {_describe_nearest(header, name, row_number)})"
            )
            if best is None or recognition.closeness() < best[0].recognition.closeness():
                best = (header, name)
            continue
        result.sheets.append(_build_sheet(table, header, path, file, name))
    if not result.sheets:
        if best is None:
            raise UnreadableFileError(
                file,
                "the workbook has no visible sheet with data"
                + (" (hidden or empty sheets skipped)" if skipped else "")
                + ": extract it again from i-milo, or remove it",
            )
        header, name = best
        raise UnreadableFileError(
            file,
            f"no sheet has a header row recognised as an export type (looked in the first "
            f"{HEADER_SCAN_ROWS} non-empty rows of each visible sheet); "
            f"{_describe_nearest(header, name, header.index + 1)}; {_WHAT_TO_DO_HEADER}",
        )
    return result


# ---------------------------------------------------------------------------------------
# CSV


def _decode(raw: bytes, file: str) -> str:
    encodings: tuple[str, ...]
    if raw.startswith(b"\xef\xbb\xbf"):
        encodings = ("utf-8-sig",)
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFileError(
        file,
        "the CSV is neither UTF-8 nor Windows-1252 text: save it again from Excel as "
        "'CSV UTF-8 (délimité par des virgules)'",
    )


def _csv_header(text: str, sep: str) -> tuple[_Header | None, dict[int, int]]:
    """Header search on a CSV read with `sep`; also the physical lines before each record."""
    lines_before: dict[int, int] = {}
    reader = csv.reader(io.StringIO(text), delimiter=sep)

    def records() -> Iterator[tuple[int, list[str | None]]]:
        index = 0
        while True:
            lines_before[index] = reader.line_num
            try:
                cells = next(reader)
            except StopIteration:
                return
            yield index, list(cells)
            index += 1

    return _find_header(records()), lines_before


def _read_csv(raw: bytes, path: Path, file: str) -> ReadResult:
    if raw.startswith(_ZIP_MAGIC) or raw.startswith(_OLE2_MAGIC):
        raise UnreadableFileError(
            file,
            "not a CSV but an Excel workbook with a .csv name: rename it to .xlsx (or .xls)",
        )
    text = _decode(raw, file)
    if "\x00" in text:
        raise UnreadableFileError(
            file, "not a text CSV (it holds binary data): save it again from Excel as CSV"
        )
    if not text.strip():
        raise UnreadableFileError(
            file, "the file holds no data: extract it again from i-milo, or remove it"
        )
    candidates: list[tuple[_Header, dict[int, int], str]] = []
    try:
        for sep in CSV_SEPARATORS:
            header, lines_before = _csv_header(text, sep)
            if header is not None:
                candidates.append((header, lines_before, sep))
    except csv.Error as exc:
        raise UnreadableFileError(file, f"the CSV cannot be parsed ({exc})") from exc
    if not candidates:
        raise UnreadableFileError(
            file, "the file holds no data: extract it again from i-milo, or remove it"
        )
    found = [c for c in candidates if c[0].recognition.found_type]
    if not found:
        header = min((c[0] for c in candidates), key=lambda h: h.recognition.closeness())
        raise UnreadableFileError(
            file,
            f"no header row recognised as an export type (looked in the first "
            f"{HEADER_SCAN_ROWS} non-empty lines, with ';' and ',' as separators); "
            f"{_describe_nearest(header, None, header.index + 1)}; {_WHAT_TO_DO_HEADER}",
        )
    # both separators may give a header (a one-column match is impossible, but be safe):
    # prefer a recognised type, then the most columns found, then ';'
    header, lines_before, sep = max(
        found,
        key=lambda c: (c[0].recognition.export_type is not None, len(c[0].recognition.columns)),
    )
    if header.recognition.tied:
        raise UnreadableFileError(file, f"row {header.index + 1}: {header.recognition.explanation}")
    width = len(header.cells)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            skiprows=lines_before[header.index],
            usecols=range(width),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise UnreadableFileError(file, f"the CSV cannot be parsed ({exc})") from exc
    table = _Table(
        columns=[
            pa.array(frame[j].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
            for j in range(width)
        ],
        first_row_number=header.index + 1,
        workbook=False,
    )
    local = _Header(index=0, cells=header.cells, recognition=header.recognition)
    return ReadResult(sheets=[_build_sheet(table, local, path, file, None)], warnings=[])
