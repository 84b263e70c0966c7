"""Read stage, second half: the sheets read from a partition folder -> staging rows.

Staging keeps the rows as read (text), minus the personal columns (dropped by the reader),
with the young person's id already replaced by its keyed pseudonym, so no raw id ever
reaches the warehouse. It also records the files seen (sha256) and each typed sheet's
header as written, for the quarantine's messages. Each file is read once: the sha256 and
size recorded are those of the very bytes parsed, even if the file is replaced meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.cells import parse_id
from pipelines.config import export_specs
from pipelines.pseudonym import pseudonymise, resolve_key
from pipelines.read import (
    ExportSheet,
    list_export_files,
    read_export_file,
    read_file_bytes,
    relative_name,
)
from pipelines.tables import staging_tables


@dataclass
class StagedPartition:
    """Everything the staging layer stores for one partition."""

    tables: dict[str, pd.DataFrame]  # export type -> staging rows
    sheets: pd.DataFrame  # staging.sheets
    files: pd.DataFrame  # staging.raw_files
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return int(self.sheets["rows_read"].sum()) if not self.sheets.empty else 0


class NotARegularFileError(OSError):
    """The path is a FIFO, a socket, a device or a folder: it is not read (a FIFO would
    block)."""


def sha256_of(path: Path) -> str:
    """sha256 of a regular file; opened without blocking, so a FIFO put in its place raises
    NotARegularFileError instead of waiting for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFileError(f"{path}: not a regular file")
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)


def stage_sheet(
    sheet: ExportSheet, structure: str, key: bytes, pseudonyms: dict[object, str] | None = None
) -> pd.DataFrame:
    """One sheet's rows in the staging table's shape, ids keyed with `key` (`pseudonyms`: ids
    already keyed in this partition, see `pseudonymise`)."""
    table = staging_tables[sheet.export_type]
    frame = sheet.frame
    out = pd.DataFrame(index=frame.index)
    out["structure"] = structure
    out["source_file"] = sheet.file
    out["source_sheet"] = sheet.sheet
    out["source_row"] = frame["_row"].astype(int)
    for column in table.columns:
        name = column.name
        if name in ("structure", "year", "source_file", "source_sheet", "source_row"):
            continue
        out[name] = frame[name] if name in frame.columns else None
    if "young_id" in out:
        out["young_id"] = pseudonymise(structure, parse_id(out["young_id"]), key, known=pseudonyms)
    return out


def stage_partition(
    year_dir: Path,
    raw_root: Path,
    structure: str,
    year: int,
    seen_at: pd.Timestamp,
    key: bytes | None = None,
) -> StagedPartition:
    """Read every export file of `raw/<structure>/<year>/` into staging frames, ids keyed
    with `key` (default: the configured key, `pseudonym.resolve_key`).

    Raises `UnreadableFileError` for a file that cannot be read: the caller then writes
    nothing, so the partition keeps its last good state.
    """
    files, warnings = list_export_files(year_dir, raw_root)
    by_type: dict[str, list[pd.DataFrame]] = {name: [] for name in export_specs()}
    sheet_rows, file_rows = [], []
    pseudonyms: dict[object, str] = {}
    key = resolve_key().secret if key is None else key
    for path in files:
        file = relative_name(path, raw_root)
        content = read_file_bytes(path, file, raw_root)  # once: parsed, hashed and sized
        result = read_export_file(path, raw_root, content)
        warnings.extend(result.warnings)
        for sheet in result.sheets:
            by_type[sheet.export_type].append(stage_sheet(sheet, structure, key, pseudonyms))
            sheet_rows.append(
                {
                    "structure": structure,
                    "year": year,
                    "file": sheet.file,
                    "sheet": sheet.sheet,
                    "export_type": sheet.export_type,
                    "header_row": sheet.header_row,
                    "rows_read": sheet.rows_read,
                    "headers": json.dumps(sheet.headers, ensure_ascii=False),
                }
            )
        file_rows.append(
            {
                "structure": structure,
                "year": year,
                "file": file,
                "sha256": hashlib.sha256(content).hexdigest(),
                "size_bytes": len(content),
                "status": "read",
                "note": None,
                "seen_at": seen_at,
            }
        )
        del content  # one file's bytes held at a time
    warnings.extend(_copies(file_rows))
    tables = {}
    for name, frames in by_type.items():
        cols = [c.name for c in staging_tables[name].columns]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
        frame["year"] = year
        tables[name] = frame[cols]
    sheets = pd.DataFrame(
        sheet_rows,
        columns=[
            "structure",
            "year",
            "file",
            "sheet",
            "export_type",
            "header_row",
            "rows_read",
            "headers",
        ],
    )
    files_frame = pd.DataFrame(
        file_rows,
        columns=["structure", "year", "file", "sha256", "size_bytes", "status", "note", "seen_at"],
    )
    return StagedPartition(tables=tables, sheets=sheets, files=files_frame, warnings=warnings)


def _copies(file_rows: list[dict]) -> list[str]:
    """Warnings for files of a partition with the same content (a file dropped twice)."""
    first: dict[str, str] = {}
    out = []
    for row in file_rows:
        if row["sha256"] in first:
            out.append(
                f"{row['file']} : même contenu que {first[row['sha256']]} (une copie) : les "
                f"lignes qui ont leur propre identifiant sont fusionnées, mais celles qui n'en "
                f"ont pas (événements, propositions, situations ou aides sans identifiant) "
                f"sont comptées deux fois ; retirez la copie et relancez"
            )
        else:
            first[row["sha256"]] = row["file"]
    return out


def headers_by_sheet(sheets: pd.DataFrame) -> dict[tuple[str, str | None], dict[str, str]]:
    """(file, sheet) -> canonical column -> header as written, from staging.sheets."""
    out = {}
    for file, sheet, headers in sheets[["file", "sheet", "headers"]].itertuples(index=False):
        out[(file, None if pd.isna(sheet) else sheet)] = json.loads(headers)
    return out
