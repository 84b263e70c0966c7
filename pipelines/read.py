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
How each cell is normalised: pipelines/sheet_frame.py. Where the work is:
- pipelines/export_files.py: which files of the folder are read, their bytes read once;
- pipelines/workbook_checks.py: what a workbook declares, checked before it is read;
- pipelines/headers.py: the header row found and its export type recognised;
- pipelines/sheet_frame.py: the data rows below the header as an ExportSheet;
- here: one file read, a workbook sheet by sheet or a CSV, with the errors it can give.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import pandas as pd
import pyarrow as pa

from pipelines.export_files import (
    CSV_EXTENSIONS,
    EXCEL_EXTENSIONS,
    MAX_FILE_BYTES,
    UnreadableFileError,
    link_problem,
    list_export_files,
    read_file_bytes,
    relative_name,
)
from pipelines.headers import (
    HEADER_SCAN_ROWS,
    MAX_TITLE_LINES,
    WHAT_TO_DO_HEADER,
    Header,
    describe_nearest,
    find_header,
    recognise,
    where,
)
from pipelines.sheet_frame import (
    ROW_COLUMN,
    ExportSheet,
    TextTable,
    as_string,
    build_sheet,
    error_cells,
    table_rows,
)
from pipelines.workbook_checks import (
    MAX_SHEET_CELLS,
    MAX_UNCOMPRESSED_BYTES,
    MAX_ZIP_MEMBERS,
    check_xls_workbook,
    check_zip_workbook,
)

# What callers import from here (the reader's one entry point), wherever it is defined.
__all__ = [
    "CSV_EXTENSIONS",
    "CSV_SEPARATORS",
    "EXCEL_EXTENSIONS",
    "HEADER_SCAN_ROWS",
    "MAX_FILE_BYTES",
    "MAX_SHEET_CELLS",
    "MAX_TITLE_LINES",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_ZIP_MEMBERS",
    "ROW_COLUMN",
    "ExportSheet",
    "ReadResult",
    "UnreadableFileError",
    "check_xls_workbook",
    "check_zip_workbook",
    "link_problem",
    "list_export_files",
    "read_export_file",
    "read_file_bytes",
    "read_partition",
    "recognise",
    "relative_name",
]

CSV_SEPARATORS = (";", ",")
NO_DATA = (
    "le fichier ne contient aucune donnée : extrayez-le de nouveau depuis i-milo, ou "
    "retirez-le du dossier"
)
CSV_UNPARSABLE = (
    "le CSV est illisible (guillemets ou lignes mal formés) : ouvrez-le dans "
    "Excel et enregistrez-le de nouveau au format CSV, ou extrayez-le de nouveau "
    "depuis i-milo"
)

_OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_ZIP_MAGIC = b"PK\x03\x04"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


@dataclass
class ReadResult:
    sheets: list[ExportSheet] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
            file,
            "le fichier est vide (0 octet) : extrayez-le de nouveau depuis i-milo, ou "
            "retirez-le du dossier",
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
        "le classeur est protégé par mot de passe : ouvrez-le dans Excel et enregistrez-le "
        "sans mot de passe (Fichier > Informations > Protéger le classeur > Chiffrer avec "
        "mot de passe : effacez le mot de passe), puis relancez"
    )
    if head.startswith(b"PK"):  # a zip: .xlsx, .xlsm (or a truncated one)
        try:
            checked = check_zip_workbook(content, file)
            return fastexcel.read_excel(checked)
        except (fastexcel.FastExcelError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise UnreadableFileError(
                file,
                "le classeur est endommagé ou tronqué, ou ce n'est pas un fichier Excel : "
                "ouvrez-le dans Excel et enregistrez-le de nouveau, ou extrayez-le de nouveau "
                f"depuis i-milo {technical(exc)}",
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
                    "le classeur est endommagé ou protégé par mot de passe : ouvrez-le "
                    "dans Excel et enregistrez-le de nouveau en .xlsx, sans mot de passe "
                    f"{technical(exc)}",
                ) from exc
            if ext == ".xls":
                raise UnreadableFileError(file, password) from exc
            raise UnreadableFileError(
                file,
                f"{password} (un fichier {ext} rangé dans un conteneur OLE2 est un classeur "
                f"chiffré ; s'il n'a pas de mot de passe, il est endommagé) {technical(exc)}",
            ) from exc
    kind = _looks_like(head)
    if kind == "html":
        reason = (
            f"ce n'est pas un classeur Excel mais une page web (HTML) enregistrée sous un nom "
            f"en {ext} : ouvrez-la dans Excel et enregistrez-la au format .xlsx"
        )
    elif kind == "text":
        reason = (
            f"ce n'est pas un classeur Excel mais un fichier texte nommé en {ext} : si c'est "
            "un export CSV, renommez-le en .csv ; sinon, extrayez-le de nouveau depuis i-milo"
        )
    else:
        reason = (
            "ce n'est pas un classeur Excel (contenu inconnu) : extrayez-le de nouveau depuis "
            "i-milo, ou retirez-le du dossier"
        )
    raise UnreadableFileError(file, reason)


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def technical(exc: BaseException) -> str:
    """The reader's own error, in its own language, for whoever supports the pipeline."""
    return f"[détail technique : {first_line(exc)}]"


def _read_workbook(content: bytes, path: Path, file: str) -> ReadResult:
    reader = _open_workbook(content, path, file)
    result = ReadResult()
    best: tuple[Header, str] | None = None
    skipped = 0
    for name in reader.sheet_names:
        try:
            loaded = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
            visible = loaded.visible
            if visible != "visible":
                result.warnings.append(
                    f"{file}, feuille « {name} » : ignorée (feuille "
                    f"{'masquée' if visible == 'hidden' else 'très masquée'})"
                )
                skipped += 1
                continue
            if loaded.width == 0 or loaded.height == 0:
                result.warnings.append(f"{file}, feuille « {name} » : ignorée (feuille vide)")
                skipped += 1
                continue
            batch, errors = loaded.to_arrow_with_errors()
        except fastexcel.FastExcelError as exc:
            raise UnreadableFileError(
                file,
                f"la feuille « {name} » est illisible, le classeur est endommagé : ouvrez-le "
                f"dans Excel et enregistrez-le de nouveau, ou extrayez-le de nouveau depuis "
                f"i-milo {technical(exc)}",
            ) from exc
        table = TextTable(
            columns=[as_string(batch.column(i)) for i in range(batch.num_columns)],
            first_row_number=1,
            workbook=True,
            errors=error_cells(errors),
        )
        header = find_header(table_rows(table.columns))
        if header is None:
            result.warnings.append(f"{file}, feuille « {name} » : ignorée (feuille vide)")
            skipped += 1
            continue
        recognition = header.recognition
        row_number = header.index + table.first_row_number
        if recognition.tied:
            raise UnreadableFileError(
                file, f"{where(name, row_number)} : {recognition.explanation}"
            )
        if recognition.export_type is None:
            result.warnings.append(
                f"{file}, feuille « {name} » : ignorée (aucun type d'export reconnu dans ses "
                f"{HEADER_SCAN_ROWS} premières lignes non vides ; "
                f"{describe_nearest(header, None, row_number)}) ; si elle contient un export, "
                "ajoutez les en-têtes qu'il emploie comme alias dans config/exports.yaml et "
                "relancez"
            )
            if best is None or recognition.closeness() < best[0].recognition.closeness():
                best = (header, name)
            continue
        result.sheets.append(build_sheet(table, header, path, file, name))
    if not result.sheets:
        if best is None:
            raise UnreadableFileError(
                file,
                "le classeur n'a aucune feuille visible qui contienne des données"
                + (" (feuilles masquées ou vides ignorées)" if skipped else "")
                + " : extrayez-le de nouveau depuis i-milo, ou retirez-le du dossier",
            )
        header, name = best
        raise UnreadableFileError(
            file,
            f"aucune feuille n'a de ligne d'en-tête reconnue comme un type d'export (cherchée "
            f"dans les {HEADER_SCAN_ROWS} premières lignes non vides de chaque feuille "
            f"visible) ; {describe_nearest(header, name, header.index + 1)} ; "
            f"{WHAT_TO_DO_HEADER}",
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
        "le CSV n'est ni du texte UTF-8 ni du texte Windows-1252 : enregistrez-le de nouveau "
        "depuis Excel au format « CSV UTF-8 (délimité par des virgules) »",
    )


def _csv_header(text: str, sep: str) -> tuple[Header | None, dict[int, int]]:
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

    return find_header(records()), lines_before


def _read_csv(raw: bytes, path: Path, file: str) -> ReadResult:
    if raw.startswith(_ZIP_MAGIC) or raw.startswith(_OLE2_MAGIC):
        raise UnreadableFileError(
            file,
            "ce n'est pas un CSV mais un classeur Excel nommé en .csv : renommez-le en .xlsx "
            "(ou .xls)",
        )
    text = _decode(raw, file)
    if "\x00" in text:
        raise UnreadableFileError(
            file,
            "ce n'est pas un CSV texte (il contient des données binaires) : "
            "enregistrez-le de nouveau depuis Excel au format CSV",
        )
    if not text.strip():
        raise UnreadableFileError(file, NO_DATA)
    candidates: list[tuple[Header, dict[int, int], str]] = []
    try:
        for sep in CSV_SEPARATORS:
            header, lines_before = _csv_header(text, sep)
            if header is not None:
                candidates.append((header, lines_before, sep))
    except csv.Error as exc:
        raise UnreadableFileError(file, f"{CSV_UNPARSABLE} {technical(exc)}") from exc
    if not candidates:
        raise UnreadableFileError(file, NO_DATA)
    found = [c for c in candidates if c[0].recognition.found_type]
    if not found:
        header = min((c[0] for c in candidates), key=lambda h: h.recognition.closeness())
        raise UnreadableFileError(
            file,
            f"aucune ligne d'en-tête reconnue comme un type d'export (cherchée dans les "
            f"{HEADER_SCAN_ROWS} premières lignes non vides, avec « ; » et « , » comme "
            f"séparateurs) ; {describe_nearest(header, None, header.index + 1)} ; "
            f"{WHAT_TO_DO_HEADER}",
        )
    # both separators may give a header (a one-column match is impossible, but be safe):
    # prefer a recognised type, then the most columns found, then ';'
    header, lines_before, sep = max(
        found,
        key=lambda c: (c[0].recognition.export_type is not None, len(c[0].recognition.columns)),
    )
    if header.recognition.tied:
        raise UnreadableFileError(
            file, f"{where(None, header.index + 1)} : {header.recognition.explanation}"
        )
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
        raise UnreadableFileError(file, f"{CSV_UNPARSABLE} {technical(exc)}") from exc
    table = TextTable(
        columns=[
            pa.array(frame[j].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
            for j in range(width)
        ],
        first_row_number=header.index + 1,
        workbook=False,
    )
    local = Header(index=0, cells=header.cells, recognition=header.recognition)
    return ReadResult(sheets=[build_sheet(table, local, path, file, None)], warnings=[])
