"""Rows rendered into cells as i-milo users and extractions write them."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import random
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from demo.arithmetic import excel_serial
from demo.categories import FAKE_ADVISERS, SITES
from demo.export_layout import ExportFile, Sheet
from demo.population import YearData
from demo.workbook import write_workbook
from pipelines.config import fold


@functools.lru_cache
def _forms(spec: str) -> tuple[str, list[str], list[float]]:
    kind, *variants = spec.split()
    names = [v.split("=")[0] for v in variants]
    return kind, names, [float(v.split("=")[1]) if "=" in v else 1.0 for v in variants]


def _amount_text(value: Decimal, style: str, csv_safe: bool) -> str:
    sign, value = ("-" if value < 0 else ""), abs(value)
    euros, cents = divmod(int((value * 100).to_integral_value(ROUND_HALF_UP)), 100)
    if style == "plain":
        return f"{sign}{euros}.{cents:02d}"
    sep = "\xa0" if csv_safe else "\u202f"
    grouped = f"{euros:,}".replace(",", sep)
    return f"{sign}{grouped},{cents:02d}" + (" €" if style == "euro" else "")


def commune_spellings(name: str) -> list[str]:
    """How i-milo users type a commune: as written, in capitals without accents, ... All fold
    to the territory's name (exports.md, Headers)."""
    words = fold(name).split()
    spellings = [
        name,
        " ".join(words).upper(),
        " ".join(w.capitalize() for w in words),
        name.upper(),
    ]
    assert all(fold(s) == fold(name) for s in spellings)
    return spellings


class Writer:
    """Renders rows into cells: varied date forms, ids as numbers or text, amounts as numbers
    or `1 234,56 €`, commune names as typed; records where the notable rows land."""

    def __init__(self, seed: int, year: int, name: str) -> None:
        self.rng = random.Random(f"{seed}-{year}-{name}")
        self.notes: list[tuple[str, str | None, int, str]] = []

    def formatter(self, key: str, form: str, csv_safe: bool) -> Callable[[dict[str, Any]], Any]:
        """The function that turns a row into this column's cell value."""
        rng = self.rng
        kind, names, weights = _forms(form)

        def value(row: dict[str, Any]) -> Any:
            v = row[key] if key in row else self.decor(key)
            return None if v == "" else v

        def styled(render: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any]:
            def cell(row: dict[str, Any]) -> Any:
                v = value(row)
                return None if v is None else render(v)

            return cell

        if kind == "text":
            return styled(str)
        if kind == "id_num":
            return styled(lambda v: int(v) if str(v).isdigit() else v)
        if kind == "id_text":
            return styled(lambda v: f" {v} " if rng.random() < 0.01 else str(v))
        if kind == "insee":
            return styled(lambda v: int(v) if rng.random() < 0.5 else str(v))
        if kind == "commune":
            odds = [45, 35, 15, 5] if names == ["varied"] else [75, 25, 0, 0]
            return styled(lambda v: rng.choices(commune_spellings(v), odds)[0])
        if kind == "amount":

            def amount(v: Any) -> Any:
                if not isinstance(v, Decimal):
                    return str(v)
                style = rng.choices(names, weights)[0]
                return float(v) if style == "num" else _amount_text(v, style, csv_safe)

            return styled(amount)
        if kind == "date":
            patterns = {"dmy": "%d/%m/%Y", "dmy2": "%d/%m/%y", "iso": "%Y-%m-%d"}

            def date(v: Any) -> Any:
                if isinstance(v, str):
                    return v
                style = rng.choices(names, weights)[0]
                if style == "excel":
                    return v
                if style == "dt":
                    return dt.datetime.combine(
                        v, dt.time(rng.randint(8, 17), rng.choice([0, 15, 30, 45]))
                    )
                if style == "serial":
                    return excel_serial(v)
                return v.strftime(patterns[style])

            return styled(date)
        raise ValueError(f"unknown cell form {form}")

    def decor(self, key: str) -> Any:
        """Columns nobody asked for, or that the pipeline must never keep (advisers)."""
        rng = self.rng
        if key == "conseiller":
            return rng.choice(FAKE_ADVISERS)
        if key == "lieu":
            return rng.choice(SITES + ["Téléphone", "Visioconférence"])
        if key == "theme_evt":
            return rng.choice(["Emploi", "Formation", "Santé", "Logement", "Mobilité", "Suivi CEJ"])
        if key == "libelle":
            return rng.choice(
                [
                    "Offre d'emploi",
                    "Atelier CV",
                    "Information métier",
                    "Bilan de santé",
                    "Orientation vers un partenaire",
                    "Session de recrutement",
                ]
            )
        if key == "commentaire":
            return rng.choice(["", "", "Texte libre de démonstration", "RAS"])
        return None

    def table(
        self, rel: str, sheet: Sheet, rows: list[dict[str, Any]], csv_safe: bool
    ) -> Iterable[list[Any]]:
        yield from sheet.titles
        yield [header for _, header, _ in sheet.columns]
        first = len(sheet.titles) + 2
        cells = [self.formatter(key, form, csv_safe) for key, _, form in sheet.columns]
        for i, row in enumerate(rows):
            if row.get("_note"):
                self.notes.append((rel, None if csv_safe else sheet.name, first + i, row["_note"]))
            yield [cell(row) for cell in cells]
        if sheet.total:
            yield []
            yield [sheet.total.format(n=len(rows))]

    def write(self, folder: Path, spec: ExportFile, data: YearData, raw_root: Path) -> Path:
        path = folder / spec.name
        rel = path.relative_to(raw_root).as_posix()
        if path.suffix == ".csv":
            sheet = spec.sheets[0]
            assert sheet.kind is not None  # a CSV export is one table
            with open(path, "w", encoding="cp1252", newline="") as fh:
                out = csv.writer(fh, delimiter=";")
                for line in self.table(rel, sheet, data.rows[sheet.kind], csv_safe=True):
                    out.writerow(["" if v is None else v for v in line])
            return path
        sheets = [
            (
                sheet.name,
                self.table(rel, sheet, data.rows[sheet.kind], False)
                if sheet.kind
                else sheet.titles,
            )
            for sheet in spec.sheets
        ]
        write_workbook(path, sheets, stamp=dt.datetime.combine(data.extraction, dt.time(7, 30)))
        return path
