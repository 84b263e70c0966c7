"""From the layout (config/report.yaml) and a partition's figures to a Report."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, cast

from pipelines.compute import catalogue
from pipelines.config import CONFIG_DIR, report_layout
from pipelines.config_files import parse_yaml
from pipelines.reporting.figures import Figures, Source
from pipelines.reporting.masking import apply_masking
from pipelines.reporting.model import Cell, Chart, Paragraph, Report, Row, Section, Table
from pipelines.reporting.numbers import change_pct, has_cents, share_pct
from pipelines.reporting.sentences import fill_title, render

KEY_FIGURES = "Chiffres clés"
TOTAL_GENERAL = "Total général"
TOTAL = "Total"


@cache
def layout(config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """config/report.yaml as written, for the blocks' settings; checked first by its typed
    model (`report_layout`), which refuses a mistyped file naming the key."""
    report_layout(config_dir)
    text = (config_dir / "report.yaml").read_text(encoding="utf-8")
    return cast(dict[str, Any], parse_yaml(text))


def build_report(
    figures: Figures, min_cell_size: int = 0, spec: dict[str, Any] | None = None
) -> Report:
    """The report of one partition, masked when `min_cell_size` > 0."""
    spec = spec or layout()
    sections = [_section(s, figures, min_cell_size) for s in spec["sections"]]
    report = Report(
        structure=figures.structure,
        year=figures.year,
        title=fill_title(spec["title"], figures),
        sections=sections,
        min_cell_size=min_cell_size,
        name=figures.structure_name,
        mask_note=" ".join(spec["mask_note"].replace("{n}", str(min_cell_size)).split()),
    )
    report.masked_cells = apply_masking(
        report, figures, min_cell_size, spec.get("amounts_follow_counts") or {}
    )
    return report


def _section(spec: dict[str, Any], figures: Figures, min_cell_size: int) -> Section:
    blocks: list[Table | Paragraph] = [key_figures(spec["name"], figures)]
    for block in spec.get("blocks") or []:
        ((kind, body),) = block.items()
        if kind == "text":
            paragraph = render(body, figures, min_cell_size)
            if paragraph is not None:
                blocks.append(paragraph)
        else:
            blocks.append(BUILDERS[kind](body, figures))
    return Section(spec["name"], blocks)


# --- cells ------------------------------------------------------------------------------------


def figure_cell(figures: Figures, source: Source, total: bool = False) -> Cell:
    """The printed value of `source`: a count, or euros for amount indicators."""
    kind = "amount" if figures.entry(source.indicator).is_amount else "count"
    total_value = figures.sum(source)
    value: Decimal | int = total_value if kind == "amount" else int(total_value)
    return Cell(
        value=value, kind=kind, source=source, keys=tuple(figures.keys(source)), total=total
    )


def _share_cell(count: Cell, total: Decimal | int | None) -> Cell:
    pct = share_pct(count.value or 0, total) if total else None
    return Cell(value=pct, kind="share", share_of=count)


def _cents_by_column(table: Table) -> None:
    """Euros show cents in a column where one of its amounts has cents (as the report does:
    "60 659 €" for the PACEA, "259,00 €" for mobility aids)."""
    width = max((len(r.cells) for r in table.rows), default=0)
    for j in range(width):
        column = [r.cells[j] for r in table.rows if j < len(r.cells)]
        cents = any(c.kind == "amount" and has_cents(c.value) for c in column)
        for c in column:
            c.cents = cents


def _chart(spec: dict[str, Any] | None, columns: list[int], figures: Figures) -> Chart | None:
    if not spec or not columns:  # a grid whose categories are all zero draws nothing
        return None
    return Chart(kind=spec["kind"], title=fill_title(spec["title"], figures), columns=columns)


# --- tables -----------------------------------------------------------------------------------


def key_figures(section: str, figures: Figures) -> Table:
    """The totals of the section's indicators, with Y-1 and the change."""
    order = [i.code for i in catalogue().indicators]
    codes = sorted(
        (
            c
            for c, e in figures.entries.items()
            if e.section == section and figures.total(c) is not None
        ),
        key=lambda c: order.index(c) if c in order else len(order),
    )
    with_previous = bool(figures.previous)
    columns = ["Indicateur", str(figures.year)]
    if with_previous:
        columns += [str(figures.year - 1), "Évolution"]
    rows = [_key_figure_row(code, figures, with_previous) for code in codes]
    table = Table(title=KEY_FIGURES, columns=columns, rows=rows, key_figures=True)
    _cents_by_column(table)
    return table


def _key_figure_row(code: str, figures: Figures, with_previous: bool) -> Row:
    """An indicator's total; with Y-1, its total then and the change."""
    cells = [figure_cell(figures, Source(code), total=True)]
    if with_previous:
        previous_total = figures.total(code, previous=True)
        previous: Decimal | int | None = previous_total
        if previous_total is not None and cells[0].kind == "count":
            previous = int(previous_total)
        trend = figures.trend(Source(code))
        cells += [
            Cell(value=previous, kind=cells[0].kind, total=True),
            Cell(value=change_pct(*trend) if trend else None, kind="change", total=True),
        ]
    return Row(figures.entry(code).label, cells)


def communes_table(spec: dict[str, Any], figures: Figures) -> Table:
    """One row per commune, one column per indicator, a `Total général` line."""
    columns = spec["columns"]
    dimension, category = next(iter((spec.get("where") or {None: None}).items()))
    categories = (category,) if category else ()
    codes = [c["indicator"] for c in columns]
    rows = []
    for insee, label in figures.communes(codes, dimension, category):
        rows.append(
            Row(
                label,
                [
                    figure_cell(figures, Source(code, insee, dimension, categories))
                    for code in codes
                ],
            )
        )
    totals = [
        figure_cell(figures, Source(code, None, dimension, categories), total=True)
        for code in codes
    ]
    rows.append(Row(TOTAL_GENERAL, totals, total=True))
    table = Table(
        title=fill_title(spec["title"], figures),
        columns=["Commune", *(fill_title(c["title"], figures) for c in columns)],
        rows=rows,
        chart=_chart(spec.get("chart"), [1], figures),
        note=spec.get("note"),
    )
    table.lines = [[r.cells[j] for r in table.body] for j in range(len(codes))]
    _cents_by_column(table)
    return table


def _merged_groups(
    categories: list[str], merge: dict[str, list[str]]
) -> list[tuple[str, tuple[str, ...]]]:
    """Rows of a breakdown: merged categories take the place of their first member."""
    groups: list[tuple[str, tuple[str, ...]]] = []
    merged_into = {member: label for label, members in merge.items() for member in members}
    for category in categories:
        label = merged_into.get(category)
        if label is None:
            groups.append((category, (category,)))
        elif label not in [g[0] for g in groups]:
            members = tuple(m for m in merge[label] if m in categories)
            groups.append((label, members))
    return groups


def breakdown_table(spec: dict[str, Any], figures: Figures) -> Table:
    """A 1-D breakdown: one row per category (merged as the report merges them), the total,
    optionally the share of each category."""
    dimension = spec["dimension"]
    columns = spec.get("columns") or [{"indicator": spec["indicator"], "title": spec["column"]}]
    codes = [c["indicator"] for c in columns]
    groups = _merged_groups(
        figures.categories(spec["indicator"], dimension), spec.get("merge") or {}
    )
    summed = spec.get("total") == "sum"
    totals = [
        figure_cell(figures, Source(code, None, dimension) if summed else Source(code), total=True)
        for code in codes
    ]
    rows = []
    for label, members in groups:
        cells = [figure_cell(figures, Source(code, None, dimension, members)) for code in codes]
        if spec.get("shares"):
            cells.append(_share_cell(cells[0], totals[0].value))
        rows.append(Row(label, cells))
    headers = [fill_title(c["title"], figures) for c in columns]
    if spec.get("shares"):
        headers.append("Part")
        totals.append(Cell(value=None, kind="share", total=True))
    if spec.get("sort") == "desc":
        rows.sort(key=lambda r: -(r.cells[0].value or 0))
    rows.append(Row(TOTAL, totals, total=True))
    table = Table(
        title=fill_title(spec["title"], figures),
        columns=[_dimension_header(spec), *headers],
        rows=rows,
        chart=_chart(spec.get("chart"), [1], figures),
        note=spec.get("note"),
        sort_desc=spec.get("sort") == "desc",
    )
    table.lines = [[r.cells[j] for r in table.body] for j in range(len(codes))]
    _cents_by_column(table)
    return table


def dimension_header(dimension: str) -> str:
    """A breakdown table's column header for a dimension (config/report.yaml)."""
    return report_layout().dimension_headers.get(dimension, dimension)


def _dimension_header(spec: dict[str, Any]) -> str:
    return spec.get("header") or dimension_header(spec["dimension"])


def grid_table(spec: dict[str, Any], figures: Figures) -> Table:
    """A 2-D breakdown with its margins; rows and columns zero throughout are left out."""
    code, rd, cd = spec["indicator"], spec["rows"], spec["columns"]

    def cell(r: str | None, c: str | None, total: bool = False) -> Cell:
        return figure_cell(
            figures, Source(code, None, rd, (r,) if r else (), cd, (c,) if c else ()), total=total
        )

    rows_all = figures.categories(code, rd, cd, axis=1)
    cols_all = figures.categories(code, rd, cd, axis=2)
    row_cats = [r for r in rows_all if any(cell(r, c).value for c in cols_all)]
    col_cats = [c for c in cols_all if any(cell(r, c).value for r in rows_all)]

    def margin(dimension: str, category: str, row: str | None, column: str | None) -> Cell:
        # the warehouse's own 1-D row where the indicator has that breakdown (its lineage is
        # then that row), else the sum over the other dimension
        if (code, None, dimension, category, None, None) in figures.values:
            return figure_cell(figures, Source(code, None, dimension, (category,)), total=True)
        return cell(row, column, total=True)

    rows = [Row(r, [*(cell(r, c) for c in col_cats), margin(rd, r, r, None)]) for r in row_cats]
    rows.append(
        Row(
            TOTAL,
            [
                *(margin(cd, c, None, c) for c in col_cats),
                figure_cell(figures, Source(code), total=True),
            ],
            total=True,
        )
    )
    table = Table(
        title=fill_title(spec["title"], figures),
        columns=[f"{dimension_header(rd)} / {dimension_header(cd)}", *col_cats, TOTAL],
        rows=rows,
        chart=_chart(spec.get("chart"), list(range(1, len(col_cats) + 1)), figures),
        note=spec.get("note"),
    )
    _grid_lines(table, len(col_cats))
    return table


def _grid_lines(table: Table, width: int) -> None:
    """Each row and each column of the grid's body adds up to a printed margin."""
    body = table.body
    table.lines = [r.cells[:width] for r in body]
    table.lines += [[r.cells[j] for r in body] for j in range(width)]


def commune_grid_table(spec: dict[str, Any], figures: Figures) -> Table:
    """Communes × the categories of a `by_commune` breakdown, with margins; categories zero
    throughout are left out."""
    code, dim = spec["indicator"], spec["dimension"]
    categories = [
        c for c in figures.categories(code, dim) if figures.sum(Source(code, None, dim, (c,)))
    ]
    rows = []
    for insee, label in figures.communes([code]):
        cells = [figure_cell(figures, Source(code, insee, dim, (c,))) for c in categories]
        rows.append(Row(label, [*cells, figure_cell(figures, Source(code, insee), total=True)]))
    rows.append(
        Row(
            TOTAL_GENERAL,
            [
                *(
                    figure_cell(figures, Source(code, None, dim, (c,)), total=True)
                    for c in categories
                ),
                figure_cell(figures, Source(code), total=True),
            ],
            total=True,
        )
    )
    table = Table(
        title=fill_title(spec["title"], figures),
        columns=["Commune", *categories, TOTAL],
        rows=rows,
        chart=_chart(spec.get("chart"), list(range(1, len(categories) + 1)), figures),
        note=spec.get("note"),
    )
    _grid_lines(table, len(categories))
    _cents_by_column(table)
    return table


BUILDERS = {
    "communes": communes_table,
    "breakdown": breakdown_table,
    "grid": grid_table,
    "commune_grid": commune_grid_table,
}


def comparison_table(all_figures: list[Figures]) -> Table:
    """The regional view: each indicator's total per structure, side by side, and their sum
    (figures of different structures count different young people: they add up)."""
    order = [i.code for i in catalogue().indicators]
    sections = [s["name"] for s in layout()["sections"]]
    entries = {code: e for f in all_figures for code, e in f.entries.items()}
    codes = sorted(
        (c for c in entries if any(f.total(c) is not None for f in all_figures)),
        key=lambda c: (
            sections.index(entries[c].section) if entries[c].section in sections else len(sections),
            order.index(c) if c in order else len(order),
        ),
    )
    rows = []
    for code in codes:
        cells = []
        for figures in all_figures:
            cell = figure_cell(figures, Source(code), total=True)
            cell.structure = figures.structure
            cells.append(cell)
        kind = cells[0].kind
        total = sum((Decimal(c.value or 0) for c in cells), Decimal(0))
        cells.append(Cell(value=total if kind == "amount" else int(total), kind=kind, total=True))
        rows.append(Row(entries[code].label, cells))
    table = Table(
        title="Principaux chiffres par structure",
        columns=["Indicateur", *(f.structure for f in all_figures), TOTAL],
        rows=rows,
    )
    _cents_by_column(table)
    return table
