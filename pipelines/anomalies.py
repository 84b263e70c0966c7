"""The fix-list for the staff who enter data in i-milo: `anomalies-<S>-<Y>.xlsx`.

Read from the warehouse only (`ingested_files`, `quarantine`, `validation_warnings`):
- `Synthèse`: per export, rows read, loaded, rejected, merged, the rejected cells and the
  warnings, then how to use the file (in French, for advisors);
- one sheet per export with rejected rows: every quarantined cell (file, sheet, Excel row,
  column, value, reason, what to do), sorted by file, sheet and row so that an advisor can
  correct i-milo record by record;
- `Avertissements`: the rows kept with a value counted as `Non renseigné` or ignored.

No personal data: the warehouse holds none (personal columns are dropped when read, the
young person's id is pseudonymised and blanked in `quarantine.value`); the value of a column
whose header is a personal or id column is blanked again here, in case. Every text cell goes
through the report's `put` (pipelines/reporting/xlsx.py): text from exports is never a
formula.

`observatoire anomalies` reads what analysts read (the published warehouse, read-only); the
Dagster asset `anomalies_workbook` reads the run's own database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.engine import Connection

from pipelines import tables as t
from pipelines.config import PROJECT_ROOT, export_specs, fold
from pipelines.reporting.xlsx import CellValue, cell_at, fit_to_page, put
from pipelines.validate import TypeResult
from pipelines.warehouse import NoWarehouse, published_connection

DEFAULT_OUT_DIR = PROJECT_ROOT / "reports"
SUMMARY_SHEET = "Synthèse"
WARNINGS_SHEET = "Avertissements"
QUARANTINE_HEADERS = [
    "Fichier",
    "Feuille",
    "Ligne Excel",
    "Colonne",
    "Valeur",
    "Raison",
    "Que faire",
]
WARNING_HEADERS = ["Export", "Avertissement", "Lignes concernées", "Que faire"]
SUMMARY_HEADERS = [
    "Export",
    "Fichiers",
    "Lignes lues",
    "Lignes chargées",
    "Lignes rejetées",
    "Répétitions fusionnées",
    "Anomalies (cellules rejetées)",
    "Avertissements (lignes gardées)",
]
HEADER_ROW = 3  # title, subtitle, then the table's header
DEFAULT_ACTION = "Corrigez la valeur dans i-milo, puis ré-exportez le fichier."
WARNING_ACTION = (
    "Ligne gardée : corrigez la valeur dans i-milo quand elle est connue, "
    "le chiffre sera plus juste au prochain chargement."
)

TITLE_FONT = Font(bold=True, size=14, color="1F4E79")
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")

HOW_TO = [
    "Chaque feuille d'export (Jeunes, Événements…) liste les lignes rejetées, triées par "
    "fichier, feuille et ligne Excel : ouvrez le fichier d'export à cette ligne pour "
    "retrouver le dossier, puis corrigez l'enregistrement dans i-milo.",
    "« Valeur » est vide pour les données personnelles (identifiant du jeune, nom, "
    "téléphone…) : le fichier, la feuille et la ligne suffisent à retrouver l'enregistrement.",
    "Une ligne rejetée n'est comptée dans aucun chiffre du rapport tant qu'elle n'est pas "
    "corrigée. Une cellule qui a plusieurs défauts a une ligne par défaut.",
    "« Que faire » dit la correction. Quand elle parle de config/codes.yaml ou de "
    "config/exports.yaml (un libellé ou un en-tête que l'Observatoire ne connaît pas "
    "encore), transmettez la ligne à la personne qui administre l'Observatoire plutôt que "
    "de changer i-milo.",
    "La feuille « Avertissements » liste les valeurs gardées mais comptées comme "
    "« Non renseigné » ou ignorées : rien n'est rejeté, mais les chiffres sont moins précis.",
    "Après les corrections : ré-exportez depuis i-milo, remplacez l'ancien fichier dans le "
    "dossier de dépôt et relancez le chargement ; ce fichier est refait à chaque « observatoire "
    "anomalies ».",
    "Ce fichier ne contient aucune donnée personnelle : n'y ajoutez pas de noms.",
]


class NotLoaded(LookupError):
    """The partition is not in the warehouse (message in French, for the person)."""


# --- the warnings, stored at validation time -------------------------------------------------


def warnings_frame(
    results: Mapping[str, TypeResult], structure: str, year: int, loaded_at: pd.Timestamp
) -> pd.DataFrame:
    """`validation_warnings` rows of a partition: one per export type and message."""
    rows = [
        {
            "structure": structure,
            "year": year,
            "export_type": result.export_type,
            "message": message,
            "rows": int(count),
            "loaded_at": loaded_at,
        }
        for result in results.values()
        for message, count in result.warnings.items()
    ]
    return pd.DataFrame(rows, columns=[c.name for c in t.validation_warnings.columns])


# --- what to do: the action part of a reason -------------------------------------------------

# "… : what to do" (French, a space before the colon, maybe a no-break one) or "…: what to do"
_SEPARATOR = re.compile(r"[ \u00a0\u202f]?:[ \u00a0\u202f]+")
_QUOTED = re.compile(r"«[^«»]*»")
_BRACKETED = re.compile(r"\([^()]*\)")


def _masked(text: str, literals: tuple[str | None, ...]) -> str:
    """`text` with the given literals (a value, a header), quoted values and parentheses
    blanked out, same length: a colon inside them (« (colonne X, valeur non reproduite :
    donnée personnelle) ») is not the separator."""
    for literal in literals:
        if literal:
            text = text.replace(literal, "x" * len(literal))
    for pattern in (_QUOTED, _BRACKETED):
        while (masked := pattern.sub(lambda m: "x" * len(m.group()), text)) != text:
            text = masked
    return text


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def reason_action(reason: str, value: str | None = None, column: str | None = None) -> str:
    """What to do, from a quarantine reason « value … : what to do » (the part after the
    first separator outside the value and the column's header)."""
    shortened = value[:79] + "…" if value and len(value) > 80 else None
    match = _SEPARATOR.search(_masked(reason, (value, shortened, column)))
    action = reason[match.end() :] if match else ""
    return _sentence(action) or DEFAULT_ACTION


def warning_action(message: str) -> str:
    """What to do, from a warning « export, column : what happened : what to do »: the part
    after the last separator when there are two (one only introduces the column)."""
    found = list(_SEPARATOR.finditer(_masked(message, ())))
    return _sentence(message[found[-1].end() :]) if len(found) >= 2 else WARNING_ACTION


# --- reading the warehouse -------------------------------------------------------------------


@dataclass
class Anomalies:
    """What the workbook shows for one partition, as the warehouse holds it."""

    structure: str
    year: int
    files: pd.DataFrame  # ingested_files rows
    quarantine: pd.DataFrame  # quarantine rows, sorted record by record
    warnings: pd.DataFrame  # validation_warnings rows

    @property
    def loaded_at(self) -> pd.Timestamp | None:
        times = pd.concat([self.files["loaded_at"], self.quarantine["loaded_at"]]).dropna()
        return pd.Timestamp(times.max()) if len(times) else None

    def export_types(self) -> list[str]:
        """Export types with anything to show, in config/exports.yaml order."""
        present = (
            set(self.files["export_type"])
            | set(self.quarantine["export_type"].dropna())
            | set(self.warnings["export_type"])
        )
        order = list(export_specs())
        return sorted(present, key=lambda e: (order.index(e) if e in order else len(order), e))

    def summary(self) -> pd.DataFrame:
        """Per export type: files, rows read/loaded/rejected/merged, rejected cells, warned
        rows (the `Synthèse` sheet's table, without its total)."""
        rows = []
        for export_type in self.export_types():
            files = self.files[self.files["export_type"] == export_type]
            read, loaded, rejected = (
                int(files[c].sum()) for c in ("rows_read", "rows_loaded", "rows_rejected")
            )
            rows.append(
                {
                    "export_type": export_type,
                    "label": label_of(export_type),
                    "files": int(files["file"].nunique()),
                    "rows_read": read,
                    "rows_loaded": loaded,
                    "rows_rejected": rejected,
                    "rows_merged": read - loaded - rejected,
                    "cells_rejected": int((self.quarantine["export_type"] == export_type).sum()),
                    "rows_warned": int(
                        self.warnings.loc[self.warnings["export_type"] == export_type, "rows"].sum()
                    ),
                }
            )
        return pd.DataFrame(
            rows,
            columns=[
                "export_type",
                "label",
                "files",
                "rows_read",
                "rows_loaded",
                "rows_rejected",
                "rows_merged",
                "cells_rejected",
                "rows_warned",
            ],
        )


def label_of(export_type: str | None) -> str:
    spec = export_specs().get(export_type or "")
    return spec.label if spec else (export_type or "Type inconnu")


def _personal_headers() -> dict[str, set[str]]:
    """Per export type, the folded headers (and aliases) of its personal and id columns."""
    return {
        name: {
            f for c in spec.columns if c.personal or c.kind == "young_id" for f in c.folded_names
        }
        for name, spec in export_specs().items()
    }


def record_order(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantine rows as an advisor goes through them: file, sheet, Excel row, column."""
    if quarantine.empty:
        return quarantine.reset_index(drop=True)
    keys = pd.DataFrame(
        {
            "file": quarantine["file"].fillna(""),
            "sheet": quarantine["sheet"].fillna(""),
            "row": quarantine["row_number"].fillna(0).astype(int),
            "column": quarantine["column"].fillna(""),
            "reason": quarantine["reason"],
        },
        index=quarantine.index,
    )
    order = keys.sort_values(["file", "sheet", "row", "column", "reason"], kind="stable").index
    return quarantine.loc[order].reset_index(drop=True)


def _partition_rows(conn: Connection, table: sa.Table, structure: str, year: int) -> pd.DataFrame:
    result = conn.execute(
        sa.select(table).where((table.c.structure == structure) & (table.c.year == year))
    )
    return pd.DataFrame(result.fetchall(), columns=[c.name for c in table.columns])


def _loaded_partitions(conn: Connection) -> list[tuple[str, int]]:
    files = t.ingested_files
    rows = conn.execute(sa.select(files.c.structure, files.c.year).distinct()).all()
    return sorted((s, int(y)) for s, y in rows)


def load_anomalies(conn: Connection, structure: str, year: int) -> Anomalies:
    """The partition's files, quarantine and warnings; `NotLoaded` when it was never loaded."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(t.ingested_files.name):
        raise NotLoaded(
            "l'entrepôt ne contient encore aucun chargement : lancez d'abord "
            f"« observatoire run --structure {structure} --year {year} »"
        )
    files = _partition_rows(conn, t.ingested_files, structure, year)
    quarantine = _partition_rows(conn, t.quarantine, structure, year)
    loads = t.partition_loads
    loaded = (
        not files.empty
        or not quarantine.empty
        or (
            inspector.has_table(loads.name, schema=loads.schema)
            and conn.execute(
                sa.select(sa.func.count())
                .select_from(loads)
                .where((loads.c.structure == structure) & (loads.c.year == year))
            ).scalar_one()
            > 0
        )
    )
    if not loaded:
        held = ", ".join(f"{s} {y}" for s, y in _loaded_partitions(conn)) or "aucune"
        raise NotLoaded(
            f"{structure} {year} n'a jamais été chargé dans l'entrepôt "
            f"(partitions chargées : {held}). Déposez ses exports dans "
            f"raw/{structure}/{year}/ et lancez d'abord « observatoire run "
            f"--structure {structure} --year {year} », puis relancez cette "
            f"commande."
        )
    warnings = (
        _partition_rows(conn, t.validation_warnings, structure, year)
        if inspector.has_table(t.validation_warnings.name)
        else pd.DataFrame(columns=[c.name for c in t.validation_warnings.columns])
    )
    personal = _personal_headers()
    if not quarantine.empty:
        blank = [
            fold(c) in personal.get(e, set())
            for e, c in zip(quarantine["export_type"], quarantine["column"], strict=True)
        ]
        quarantine.loc[blank, "value"] = None
    order = list(export_specs())
    warnings = (
        warnings.assign(
            _rank=warnings["export_type"].map(
                lambda e: order.index(e) if e in order else len(order)
            )
        )
        .sort_values(["_rank", "message"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )
    return Anomalies(structure, year, files, record_order(quarantine), warnings)


# --- the workbook ----------------------------------------------------------------------------


def _header(ws: Worksheet, row: int, headers: list[str]) -> None:
    for col, text in enumerate(headers, start=1):
        cell = put(ws, row, col, text)
        cell.font, cell.fill, cell.alignment = BOLD, HEADER_FILL, WRAP


def _titles(ws: Worksheet, title: str, subtitle: str) -> None:
    put(ws, 1, 1, title).font = TITLE_FONT
    put(ws, 2, 1, subtitle)


def _layout(ws: Worksheet, widths: list[int], table_rows: int) -> None:
    """Column widths, the header frozen and filterable, printed on A4 landscape at the
    page's width with the header on every page."""
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    last = get_column_letter(len(widths))
    ws.freeze_panes = cell_at(ws, HEADER_ROW + 1, 1)
    if table_rows:
        ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + table_rows}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    fit_to_page(ws)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"


def _subtitle(data: Anomalies) -> str:
    when = data.loaded_at
    return f"Chargement du {when:%d/%m/%Y à %H:%M}" if when is not None else "Chargement"


def _write_summary(ws: Worksheet, data: Anomalies) -> None:
    _titles(ws, f"Anomalies à corriger dans i-milo — {data.structure} {data.year}", _subtitle(data))
    _header(ws, HEADER_ROW, SUMMARY_HEADERS)
    summary = data.summary()
    row = HEADER_ROW
    numbers = [
        "files",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "rows_merged",
        "cells_rejected",
        "rows_warned",
    ]
    for record in summary.to_dict("records"):
        row += 1
        put(ws, row, 1, record["label"])
        for col, key in enumerate(numbers, start=2):
            put(ws, row, col, int(record[key]))
    row += 1
    put(ws, row, 1, "Total").font = BOLD
    for col, key in enumerate(numbers, start=2):
        put(ws, row, col, int(summary[key].sum()) if not summary.empty else 0).font = BOLD
    row += 2
    put(ws, row, 1, "Mode d'emploi").font = TITLE_FONT
    for line in HOW_TO:
        row += 1
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(numbers) + 1)
        put(ws, row, 1, f"• {line}").alignment = WRAP
        ws.row_dimensions[row].height = 32
    _layout(ws, [22, 10, 12, 14, 14, 14, 16, 18], 0)


def _write_quarantine(ws: Worksheet, data: Anomalies, export_type: str, rows: pd.DataFrame) -> None:
    records = rows[["file", "sheet", "row_number"]].drop_duplicates().shape[0]
    _titles(
        ws,
        f"{label_of(export_type)} — {len(rows)} anomalie(s) sur {records} ligne(s) rejetée(s)",
        f"{data.structure} {data.year} · {_subtitle(data)} · triées par fichier, feuille et ligne",
    )
    _header(ws, HEADER_ROW, QUARANTINE_HEADERS)
    for i, r in enumerate(rows.to_dict("records"), start=HEADER_ROW + 1):
        value = None if pd.isna(r["value"]) else str(r["value"])
        column = None if pd.isna(r["column"]) else str(r["column"])
        cells: list[CellValue] = [
            r["file"],
            None if pd.isna(r["sheet"]) else r["sheet"],
            None if pd.isna(r["row_number"]) else int(r["row_number"]),
            column,
            value,
            r["reason"],
            reason_action(r["reason"], value, column),
        ]
        for col, cell_value in enumerate(cells, start=1):
            put(ws, i, col, cell_value).alignment = WRAP
    _layout(ws, [30, 14, 11, 22, 22, 60, 50], len(rows))


def _write_warnings(ws: Worksheet, data: Anomalies) -> None:
    _titles(
        ws,
        f"Avertissements — {len(data.warnings)} (lignes gardées)",
        f"{data.structure} {data.year} · valeurs comptées comme « Non renseigné » ou "
        f"ignorées, à corriger dans i-milo quand c'est possible",
    )
    _header(ws, HEADER_ROW, WARNING_HEADERS)
    for i, w in enumerate(data.warnings.to_dict("records"), start=HEADER_ROW + 1):
        cells = [
            label_of(w["export_type"]),
            w["message"],
            int(w["rows"]),
            warning_action(w["message"]),
        ]
        for col, value in enumerate(cells, start=1):
            put(ws, i, col, value).alignment = WRAP
    _layout(ws, [18, 80, 12, 50], len(data.warnings))


def anomalies_path(out_dir: Path, structure: str, year: int) -> Path:
    return out_dir / f"anomalies-{structure}-{year}.xlsx"


def write_anomalies(data: Anomalies, out_dir: Path) -> Path:
    """`anomalies-<S>-<Y>.xlsx` under `out_dir` (replaced whole: written aside, then renamed)."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None  # a new workbook has one empty sheet
    _write_summary(summary, data)
    summary.title = SUMMARY_SHEET
    for export_type in data.export_types():
        rows = data.quarantine[data.quarantine["export_type"] == export_type]
        if not rows.empty:
            _write_quarantine(wb.create_sheet(label_of(export_type)[:31]), data, export_type, rows)
    _write_warnings(wb.create_sheet(WARNINGS_SHEET), data)
    path = anomalies_path(out_dir, data.structure, data.year)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.tmp")
    wb.save(partial)
    os.replace(partial, path)
    return path


def generate(url: str | None, structure: str, year: int, out_dir: Path) -> Path:
    """What `observatoire anomalies` does: the file from the published warehouse (a DuckDB
    file opened read-only: it never blocks a run)."""
    try:
        with published_connection(url) as conn:
            data = load_anomalies(conn, structure, year)
    except NoWarehouse as missing:
        raise NotLoaded(
            f"pas d'entrepôt à {missing.path} : lancez d'abord « observatoire run "
            f"--structure {structure} --year {year} » (ou donnez --warehouse)"
        ) from None
    return write_anomalies(data, out_dir)
