"""The annual activity report, generated from the warehouse only.

For one structure: `rapport-<S>-<Y>.xlsx` (one sheet per section, native charts, a `Sources`
sheet) and `rapport-<S>-<Y>.html` (one self-contained page). With several structures and none
named: `rapport-regional-<Y>.xlsx` and `.html` (a comparison of the structures, then every
structure's sections). Masked (`min_cell_size` > 0), the report is the one meant for
publication and its files end with `-diffusion` (config/report.yaml, `published_suffix`): it
never replaces the internal report. Layout: config/report.yaml. Figures: indicator_values,
indicator_trends, indicator_catalogue and conformed.communes, nothing else; the structure's
name in titles comes from `raw/<S>/structure.yaml` (the code when it cannot be read).

`observatoire report` reads what analysts read (the published warehouse, opened read-only so
that it never blocks a run: `published_connection`, pipelines/warehouse.py); the Dagster
asset `report` (assets/report.py) reads the run's own database. Small-cell masking
(`min_cell_size`, 0 = off): pipelines/reporting/masking.py. The page's HTML and CSS:
pipelines/reporting/templates/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.config import PROJECT_ROOT, StructureConfigError, load_structure
from pipelines.reporting.build import build_report, comparison_table, layout
from pipelines.reporting.figures import Figures, latest_year, load_figures, structures_of
from pipelines.reporting.html import write_html
from pipelines.reporting.model import Comparison, Report
from pipelines.reporting.xlsx import write_workbook
from pipelines.resources import DropZoneResource
from pipelines.warehouse import published_connection

DEFAULT_REPORTS_DIR = PROJECT_ROOT / "reports"


@dataclass
class Written:
    """What a report run wrote."""

    files: list[Path]
    reports: list[Report]

    @property
    def masked_cells(self) -> int:
        return sum(r.masked_cells for r in self.reports)


def _checked(figures: Figures) -> Figures:
    if not figures.values:
        raise LookupError(
            f"aucun chiffre pour {figures.structure} {figures.year} dans "
            f"l'entrepôt : lancez d'abord `observatoire run`"
        )
    return figures


def structure_name(raw_dir: Path | None, structure: str) -> str:
    """The name `raw/<S>/structure.yaml` gives the structure; its code when the file is
    absent or wrong (a report of a warehouse whose drop zone is elsewhere still prints)."""
    root = raw_dir if raw_dir is not None else DropZoneResource().root
    try:
        return load_structure(root / structure).name
    except (StructureConfigError, OSError, ValueError):
        return structure


def report_stem(name: str, min_cell_size: int) -> str:
    """`rapport-MNO-2025`, or `rapport-MNO-2025-diffusion` for the masked report."""
    return f"{name}{layout()['published_suffix']}" if min_cell_size > 0 else name


def write_report(figures: Figures, out_dir: Path, min_cell_size: int = 0) -> Written:
    """rapport-<S>-<Y>.xlsx and .html under `out_dir` (`-diffusion` when masked)."""
    report = build_report(_checked(figures), min_cell_size)
    stem = out_dir / report_stem(f"rapport-{figures.structure}-{figures.year}", min_cell_size)
    files = [
        write_workbook([report], stem.with_suffix(".xlsx")),
        write_html([report], stem.with_suffix(".html")),
    ]
    return Written(files, [report])


def write_regional_report(
    all_figures: list[Figures], out_dir: Path, min_cell_size: int = 0
) -> Written:
    """rapport-regional-<Y>.xlsx and .html: structures side by side, then each one's sheets."""
    reports = [build_report(_checked(f), min_cell_size) for f in all_figures]
    year = all_figures[0].year
    comparison = Comparison(
        year, [f.structure for f in all_figures], comparison_table(all_figures), reports
    )
    stem = out_dir / report_stem(f"rapport-regional-{year}", min_cell_size)
    files = [
        write_workbook(reports, stem.with_suffix(".xlsx"), comparison, prefix_sheets=True),
        write_html(reports, stem.with_suffix(".html"), comparison),
    ]
    return Written(files, reports)


def generate(
    url: str | None,
    structure: str | None,
    year: int | None,
    out_dir: Path,
    min_cell_size: int = 0,
    raw_dir: Path | None = None,
) -> Written:
    """What `observatoire report` does: one structure's report, or, without a structure, the
    regional report when the warehouse holds several (the one structure's report otherwise).
    The year defaults to the latest one with figures; names come from `raw_dir` (default:
    the drop zone of the runs)."""
    with published_connection(url) as conn:
        year = year or latest_year(conn, structure)
        if year is None:
            raise LookupError(
                "l'entrepôt ne contient aucun chiffre : lancez d'abord `observatoire run`"
            )
        structures = [structure] if structure else structures_of(conn, year)
        if not structures:
            raise LookupError(f"aucun chiffre pour {year} dans l'entrepôt")
        all_figures = [load_figures(conn, s, year) for s in structures]
    for figures in all_figures:
        figures.name = structure_name(raw_dir, figures.structure)
    if len(all_figures) == 1:
        return write_report(all_figures[0], out_dir, min_cell_size)
    return write_regional_report(all_figures, out_dir, min_cell_size)
