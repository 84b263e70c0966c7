"""The annual report (issue 5): a real pipeline run on a seeded drop zone (DuckDB), the
report generated from the warehouse, the workbook reopened with openpyxl and every printed
figure compared with indicator_values; charts, sentences, masking, the regional view, the
CLI, the Dagster asset, the HTML page in headless Chromium, and the 2025 demo."""

from __future__ import annotations

import csv
import html
import shutil
import struct
import subprocess
import zlib
from collections import defaultdict
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import openpyxl
import pytest
from openpyxl.utils.cell import range_boundaries

from pipelines.cli import main
from pipelines.config import PROJECT_ROOT
from pipelines.reporting.build import layout
from pipelines.reporting.masking import apply_masking
from pipelines.reporting.model import MASK, Cell, Report, Row, Section, Table
from pipelines.reporting.numbers import (
    change_pct,
    fr_amount,
    fr_change,
    fr_count,
    fr_pct,
    share_pct,
)
from pipelines.reporting.write import generate
from pipelines.runner import run_partitions
from tests.builders import JEUNES_HEADERS, write_structure, write_xlsx, young
from tests.conftest import RUN_DATE, query
from tests.report_data import write_drop_zone

SECTIONS = [s["name"] for s in layout()["sections"]]


# --- fixtures: one pipeline run, reports generated once -------------------------------------


def _run(raw: Path, url: str) -> None:
    summary = run_partitions(
        raw_dir=raw,
        url=url,
        run_date=RUN_DATE,
        instance=dg.DagsterInstance.ephemeral(),
        progress=lambda _m: None,
    )
    assert summary.outcomes and not summary.failed, [o.error for o in summary.failed]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """TST 2024 + 2025 and ML2 2025, run through the Dagster assets into DuckDB."""
    root = tmp_path_factory.mktemp("report")
    raw = write_drop_zone(root / "raw")
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    _run(raw, url)
    values = query(url, "SELECT * FROM indicator_values")
    return SimpleNamespace(root=root, raw=raw, url=url, values=values)


@pytest.fixture(scope="module")
def plain(built: SimpleNamespace) -> openpyxl.Workbook:
    written = generate(built.url, "TST", 2025, built.root / "plain", raw_dir=built.raw)
    assert [p.name for p in written.files] == ["rapport-TST-2025.xlsx", "rapport-TST-2025.html"]
    return openpyxl.load_workbook(written.files[0])


@pytest.fixture(scope="module")
def masked_files(built: SimpleNamespace) -> list[Path]:
    written = generate(
        built.url, "TST", 2025, built.root / "masked", min_cell_size=3, raw_dir=built.raw
    )
    assert written.masked_cells > 10
    return written.files


@pytest.fixture(scope="module")
def masked(masked_files: list[Path]) -> openpyxl.Workbook:
    return openpyxl.load_workbook(masked_files[0])


# --- helpers: read the workbook as a reader would ---------------------------------------------


def sources(wb: openpyxl.Workbook) -> list[dict]:
    rows = list(wb["Sources"].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def warehouse_figure(values: list[dict], src: dict) -> Decimal:
    """What a Sources row says the cell shows: the sum of the indicator_values rows it names
    (categories joined by ' + ' are added; a dimension without category is its margin)."""

    def matches(row: dict, n: int) -> bool:
        dim, cat = src[f"dimension_{n}"], src[f"category_{n}"]
        if row[f"dimension_{n}"] != dim:
            return False
        if dim is None:
            return True
        return row[f"category_{n}"] in cat.split(" + ") if cat else True

    found = [
        Decimal(str(r["value"]))
        for r in values
        if r["structure"] == src["structure"]
        and r["year"] == src["year"]
        and r["indicator"] == src["indicator"]
        and r["commune_insee"] == src["commune_insee"]
        and matches(r, 1)
        and matches(r, 2)
    ]
    return sum(found, Decimal(0))


def tables(ws) -> list[tuple[int, int, int, int]]:
    """The defined tables of a sheet: (min_col, min_row, max_col, max_row), header row first."""
    found = []
    for name in sorted(ws.defined_names):
        ((_, ref),) = list(ws.defined_names[name].destinations)
        found.append(range_boundaries(ref.replace("$", "")))
    return found


def table_rows(ws, bounds) -> tuple[list[str], list[int], list[int]]:
    """Headers, body rows and total rows of a defined table."""
    c1, r1, c2, r2 = bounds
    headers = [ws.cell(r1, c).value for c in range(c1, c2 + 1)]
    body, totals = [], []
    for r in range(r1 + 1, r2 + 1):
        label = ws.cell(r, 1).value
        if label is None or ws.cell(r, 2).value is None and ws.cell(r, 1).font.italic:
            continue  # a note under the table
        (totals if str(label).startswith("Total") else body).append(r)
    return headers, body, totals


def number(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


# --- the workbook against the warehouse -------------------------------------------------------


def test_sheets_are_the_report_sections(plain):
    assert plain.sheetnames == [*SECTIONS, "Sources"]


def test_every_printed_figure_is_the_warehouse_figure(plain, built):
    rows = sources(plain)
    assert len(rows) > 400
    for src in rows:
        cell = plain[src["Feuille"]][src["Cellule"]]
        assert isinstance(cell.value, int | float), src
        assert (
            number(cell.value)
            == number(src["value"])
            == number(warehouse_figure(built.values, src))
        ), src


def test_every_number_of_a_table_is_traced(plain):
    """No figure without its warehouse row: every number in a table body is in Sources,
    except the shares and the previous year's columns of the key figures."""
    traced = {(s["Feuille"], s["Cellule"]) for s in sources(plain)}
    for name in SECTIONS:
        ws = plain[name]
        for bounds in tables(ws):
            headers, body, totals = table_rows(ws, bounds)
            for r in body + totals:
                for j, header in enumerate(headers[1:], start=2):
                    cell = ws.cell(r, j)
                    if header in ("Part", "Évolution", "2024") or cell.value is None:
                        continue
                    assert (name, cell.coordinate) in traced, (name, cell.coordinate, header)


def test_rows_and_columns_are_labelled_as_their_warehouse_rows(plain, built):
    labels = {r["commune_insee"]: r["commune"] for r in built.values if r["commune_insee"]}
    catalogue = {
        r["indicator"]: r["label"] for r in query(built.url, "SELECT * FROM indicator_catalogue")
    }
    for src in sources(plain):
        ws = plain[src["Feuille"]]
        cell = ws[src["Cellule"]]
        label = ws.cell(cell.row, 1).value
        if src["commune_insee"]:
            assert label == labels[src["commune_insee"]] == src["commune"], src
        elif src["dimension_2"] and src["category_1"] and src["category_2"]:
            header_row = next(b[1] for b in tables(ws) if b[1] <= cell.row <= b[3])
            assert (label, ws.cell(header_row, cell.column).value) == (
                src["category_1"],
                src["category_2"],
            ), src
        elif src["dimension_1"] and src["category_1"] and " + " not in src["category_1"]:
            # a category's row, or the total line of a table of that category (aid tables)
            assert label == src["category_1"] or label.startswith("Total"), src
        elif src["dimension_1"] is None:
            assert label.startswith("Total") or label == catalogue[src["indicator"]], src


def test_communes_are_in_territory_order_with_a_total_line(plain, built):
    territory = [
        r["commune"]
        for r in query(
            built.url,
            "SELECT commune FROM conformed.communes WHERE structure = 'TST' ORDER BY position",
        )
    ]
    seen = 0
    for name in SECTIONS:
        ws = plain[name]
        for bounds in tables(ws):
            headers, body, totals = table_rows(ws, bounds)
            if headers[0] != "Commune":
                continue
            labels = [ws.cell(r, 1).value for r in body]
            assert labels[: len(territory)] == territory
            assert set(labels[len(territory) :]) <= {"Hors territoire", "Non renseignée"}
            assert [ws.cell(r, 1).value for r in totals] == ["Total général"]
            seen += 1
    assert seen >= 15


def test_numbers_stay_numbers_formatted_for_people(plain):
    rows = sources(plain)
    zero = next(s for s in rows if s["value"] == 0 and s["indicator"] != "aid_amount")
    cell = plain[zero["Feuille"]][zero["Cellule"]]
    assert cell.value == 0 and cell.number_format.startswith('[=0]"/"')  # printed "/"
    assert '"\u202f"' in cell.number_format  # thousands: a narrow no-break space
    by_type = {
        s["category_1"]: plain[s["Feuille"]][s["Cellule"]]
        for s in rows
        if s["indicator"] == "aid_amount"
        and s["commune_insee"] is None
        and s["dimension_1"] == "aid_type"
        and s["Feuille"] == "Aides financières"
    }
    assert "0.00" in by_type["Aide mobilité"].number_format  # amounts with cents
    assert "0.00" not in by_type["Allocation CEJ"].number_format  # whole euros
    assert "€" in by_type["Allocation CEJ"].number_format
    share = next(c for c in plain["Le public"]["C"] if c.number_format.endswith("%"))
    assert isinstance(share.value, float) and share.value == round(share.value, 2)


# --- charts -----------------------------------------------------------------------------------

EXPECTED_CHARTS = {
    "Le public": {
        "Nouveaux accueils par sexe et âge",
        "Nouveaux accueils par âge et niveau de qualification",
    },
    "Les jeunes accompagnés": {"Jeunes accompagnés par niveau de qualification"},
    "Emploi": {"Contrats signés par type", "Contrats signés par domaine professionnel (ROME)"},
    "Aides financières": {"Montant des aides par commune et par type"},
}


def chart_title(chart) -> str:
    return "".join(run.t for p in chart.title.tx.rich.p for run in p.r or [])


def _ref(formula: str) -> tuple[str, tuple[int, int, int, int]]:
    sheet, _, cells = formula.rpartition("!")
    return sheet.strip("'"), range_boundaries(cells.replace("$", ""))


def test_charts_draw_their_tables(plain):
    for name in SECTIONS:
        ws = plain[name]
        titles = {chart_title(c) for c in ws._charts}
        assert EXPECTED_CHARTS.get(name, set()) <= titles, (name, titles)
        for chart in ws._charts:
            _check_chart(ws, chart)


def _check_chart(ws, chart) -> None:
    """Each series: values in one column of a table's body, its title the column's header,
    its categories the row labels of the same rows."""
    for series in chart.series:
        sheet, (c1, r1, c2, r2) = _ref(series.val.numRef.f)
        assert sheet == ws.title and c1 == c2
        bounds = next(b for b in tables(ws) if b[1] < r1 and r2 <= b[3])
        headers, body, _ = table_rows(ws, bounds)
        assert (r1, r2) == (body[0], body[-1])
        assert series.tx.strRef.f.endswith(f"{ws.cell(bounds[1], c1).coordinate}")
        _, (a1, ar1, a2, ar2) = _ref(series.cat.strRef.f)
        assert (a1, a2, ar1, ar2) == (1, 1, r1, r2)
        assert all(
            isinstance(ws.cell(r, c1).value, int | float) or ws.cell(r, c1).value == MASK
            for r in range(r1, r2 + 1)
        )


def test_sex_by_age_chart_has_one_series_per_age_band(plain):
    ws = plain["Le public"]
    chart = next(c for c in ws._charts if chart_title(c) == "Nouveaux accueils par sexe et âge")
    series_titles = [
        ws[s.tx.strRef.f.rpartition("!")[2].replace("$", "")].value for s in chart.series
    ]
    assert series_titles[:2] == ["16-17 ans", "18-21 ans"]
    _, (_, r1, _, r2) = _ref(chart.series[0].cat.strRef.f)
    assert [ws.cell(r, 1).value for r in range(r1, r2 + 1)] == ["Femmes", "Hommes"]


# --- sentences and rounding -------------------------------------------------------------------


def test_rounding_rules():
    assert share_pct(1, 8) == 13 and share_pct(Decimal("52.5"), 100) == 53  # half up
    assert change_pct(Decimal("112.5"), 100) == 13  # +12.5 %
    assert change_pct(Decimal("81.5"), 100) == -19  # -18.5 %
    assert change_pct(5, 0) is None and change_pct(5, None) is None
    assert fr_count(2135533) == "2\u202f135\u202f533"
    assert fr_amount(Decimal("2135533.46"), cents=True) == "2\u202f135\u202f533,46\u202f€"
    assert fr_amount(Decimal("60659"), cents=False) == "60\u202f659\u202f€"
    assert fr_change(9) == "a progressé de 9\u202f%" and fr_change(-19).startswith("a diminué")


def _sheet_text(ws) -> list[str]:
    return [c.value for c in ws["A"] if isinstance(c.value, str)]


def _total(values: list[dict], indicator: str, year: int, d1=None, c1=None) -> Decimal:
    return next(
        Decimal(str(r["value"]))
        for r in values
        if (r["structure"], r["year"], r["indicator"]) == ("TST", year, indicator)
        and r["commune_insee"] is None
        and r["dimension_1"] == d1
        and r["category_1"] == c1
        and r["dimension_2"] is None
    )


def test_change_and_share_sentences(plain, built):
    v = built.values
    now, before = _total(v, "new_arrivals", 2025), _total(v, "new_arrivals", 2024)
    change = (
        f"Le nombre de jeunes nouvellement inscrits {fr_change(change_pct(now, before))} "
        f"par rapport à 2024."
    )
    women = share_pct(_total(v, "new_arrivals", 2025, "sex", "Femmes"), now)
    women_before = share_pct(_total(v, "new_arrivals", 2024, "sex", "Femmes"), before)
    shares = (
        f"{fr_pct(women)} des nouveaux inscrits sont des femmes ({fr_pct(women_before)} en 2024)."
    )
    text = _sheet_text(plain["Le public"])
    assert change in text and shares in text


def test_no_change_without_the_previous_year(built):
    """TST 2024 has no 2023: no change, no Y-1 share, no Y-1 column (the asset's report)."""
    wb = openpyxl.load_workbook(built.root / "reports" / "rapport-TST-2024.xlsx")
    for name in SECTIONS:
        text = " ".join(_sheet_text(wb[name]))
        assert "2023" not in text and "progressé" not in text and "diminué" not in text
        assert wb[name].cell(5, 3).value is None  # key figures: no Y-1 column


# --- masking ----------------------------------------------------------------------------------


def _lines(ws, bounds) -> list[list]:
    """The groups of body cells that add up to a printed total (value columns of a table with
    a total line; the rows of a grid too)."""
    headers, body, totals = table_rows(ws, bounds)
    if headers[0] == "Indicateur" or not totals:
        return []
    columns = [j for j, h in enumerate(headers[1:], start=2) if h not in ("Part", "Total")]
    lines = [[ws.cell(r, j) for r in body] for j in columns]
    if headers[-1] == "Total":
        lines += [[ws.cell(r, j) for j in columns] for r in body]
    return lines


def test_no_masked_cell_can_be_recomputed_from_the_totals(masked):
    lines = 0
    for name in SECTIONS:
        ws = masked[name]
        for bounds in tables(ws):
            for line in _lines(ws, bounds):
                hidden = [c.coordinate for c in line if c.value == MASK]
                assert len(hidden) != 1, (name, hidden)
                lines += bool(hidden)
            _, _, totals = table_rows(ws, bounds)
            assert all(ws.cell(r, j).value != MASK for r in totals for j in range(1, bounds[2] + 1))
    assert lines >= 10


def test_small_counts_are_never_printed(masked):
    for src in sources(masked):
        is_body = src["dimension_1"] is not None or src["commune_insee"] is not None
        cell = masked[src["Feuille"]][src["Cellule"]]
        if (
            src["indicator"] != "aid_amount"
            and is_body
            and src["value"] != MASK
            and (src["category_1"] or src["commune_insee"])
        ):
            assert not 0 < cell.value < 3, src


def test_amounts_of_masked_counts_are_masked(masked):
    ws = masked["Aides financières"]
    checked = 0
    for bounds in tables(ws):
        headers, body, _ = table_rows(ws, bounds)
        if headers[0] != "Commune" or "Montant" not in headers:
            continue
        amount = headers.index("Montant") + 1
        for r in body:
            if ws.cell(r, 2).value == MASK:
                assert ws.cell(r, amount).value == MASK
                checked += 1
    assert checked


def test_a_row_masked_somewhere_is_masked_everywhere(masked):
    by_key = defaultdict(set)
    for src in sources(masked):
        key = tuple(
            src[k]
            for k in (
                "indicator",
                "commune_insee",
                "dimension_1",
                "category_1",
                "dimension_2",
                "category_2",
            )
        )
        by_key[key].add(src["value"] == MASK)
    assert all(len(states) == 1 for states in by_key.values())


def test_secondary_masking_iterates_until_stable():
    """A grid with one small cell: the masks spread until every row and column holding a
    mask holds two (10 and 9 first, then 8 to protect the 10)."""
    grid = [[10, 1, 20], [15, 12, 30], [8, 9, 40]]
    cells = [
        [Cell(v, keys=((f"k{i}{j}", None, None, None, None, None),)) for j, v in enumerate(row)]
        for i, row in enumerate(grid)
    ]
    rows = [Row(f"r{i}", [*cs, Cell(sum(grid[i]), total=True)]) for i, cs in enumerate(cells)]
    table = Table(
        "grille",
        ["", "a", "b", "c", "Total"],
        rows,
        lines=[*cells, *[list(col) for col in zip(*cells, strict=True)]],
    )
    report = Report("X", 2025, "t", [Section("s", [table])])
    figures = SimpleNamespace(values={})
    assert apply_masking(report, figures, 3, {}) == 4
    shown = [[MASK if c.masked else c.value for c in row] for row in cells]
    assert shown == [[MASK, MASK, 20], [15, 12, 30], [MASK, MASK, 40]]


# --- the published report: its own files, charts that say what their tables say ---------------


def test_the_masked_report_has_its_own_files_and_leaves_the_internal_one(built, tmp_path):
    out = tmp_path / "both"
    internal = generate(built.url, "TST", 2025, out, raw_dir=built.raw).files
    before = {p.name: p.read_bytes() for p in internal}
    published = generate(built.url, "TST", 2025, out, min_cell_size=3, raw_dir=built.raw).files
    assert [p.name for p in internal] == ["rapport-TST-2025.xlsx", "rapport-TST-2025.html"]
    assert [p.name for p in published] == [
        "rapport-TST-2025-diffusion.xlsx",
        "rapport-TST-2025-diffusion.html",
    ]
    assert {p.name: p.read_bytes() for p in internal} == before  # untouched
    assert MASK not in [
        c.value for ws in openpyxl.load_workbook(internal[0]) for row in ws.iter_rows() for c in row
    ]
    assert any(
        c.value == MASK
        for row in openpyxl.load_workbook(published[0])["Le public"].iter_rows()
        for c in row
    )


def test_titles_carry_the_structures_name(plain, masked_files):
    name = "Mission Locale de Test"
    for ws in plain.worksheets[:-1]:
        assert ws["A2"].value == f"Rapport d'activité 2025 — {name}", ws.title
    page = html.unescape(masked_files[1].read_text(encoding="utf-8"))
    assert f"<title>Rapport d'activité 2025 — {name}</title>" in page
    assert f"<h1>Rapport d'activité 2025 — {name}</h1>" in page
    assert "— TST<" not in page


def _chart_labels(series) -> dict[int, str]:
    """Point index -> the number format of its own data label (the mark of a masked point)."""
    return {d.idx: d.numFmt for d in (series.dLbls.dLbl if series.dLbls else [])}


def test_workbook_charts_agree_with_their_tables_under_masking(masked):
    """Each chart series reads the table's own cells; a masked cell is the mark in the table
    and its point is labelled with the mark, never a number; no point is a partial sum."""
    checked = hidden = 0
    for name in SECTIONS:
        ws = masked[name]
        for chart in ws._charts:
            _check_chart(ws, chart)
            for series in chart.series:
                _, (c1, r1, _, r2) = _ref(series.val.numRef.f)
                labels = _chart_labels(series)
                for i, r in enumerate(range(r1, r2 + 1)):
                    value = ws.cell(r, c1).value
                    if value == MASK:
                        assert labels.get(i) == f'"{MASK}"', (name, r, c1)
                        hidden += 1
                    else:
                        assert isinstance(value, int | float) and i not in labels
                    checked += 1
    assert checked > 50 and hidden >= 3


class _Page(HTMLParser):
    """Tables (caption -> {(row label, header): printed text}) and the figures the SVG charts
    draw (data-categorie, data-serie, data-valeur), in page order, with the chart's caption."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.charts: list[dict] = []
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._headers: list[str] = []
        self._in_thead = False
        self._caption: list[str] | None = None
        self._figcaption: list[str] | None = None
        self._svg_text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"title": "", "cells": {}, "headers": []})
        elif tag == "thead":
            self._in_thead = True
        elif tag == "caption":
            self._caption = []
        elif tag in ("th", "td") and self.tables:
            self._cell = []
        elif tag == "tr":
            self._row = []
        elif tag == "figcaption":
            self._figcaption = []
        elif tag in ("rect", "path") and "data-valeur" in a and self.charts:
            self.charts[-1]["points"].append(
                (a["data-categorie"], a["data-serie"], a["data-valeur"])
            )
        elif tag == "text" and self.charts:
            self._svg_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_thead = False
            self.tables[-1]["headers"] = self._row
        elif tag == "caption":
            self.tables[-1]["title"] = "".join(self._caption or [])
            self._caption = None
        elif tag in ("th", "td") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and not self._in_thead and self.tables and self._row:
            headers = self.tables[-1]["headers"]
            for header, text in zip(headers[1:], self._row[1:], strict=False):
                self.tables[-1]["cells"][(self._row[0], header)] = text
        elif tag == "figcaption":
            self.charts.append(
                {
                    "title": "".join(self._figcaption or []),
                    "points": [],
                    "texts": [],
                    "table": self.tables[-1],
                }
            )
            self._figcaption = None
        elif tag == "text" and self._svg_text is not None:
            self.charts[-1]["texts"].append("".join(self._svg_text))
            self._svg_text = None

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._caption, self._figcaption, self._svg_text):
            if part is not None:
                part.append(data)


def read_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_page_charts_agree_with_their_tables_under_masking(masked_files):
    """Every figure an SVG chart draws is the text its table prints for that row and column
    (the mark when masked); a stacked bar ends with its row's printed total."""
    page = read_page(masked_files[1])
    points = masked_points = 0
    for chart in page.charts:
        cells = chart["table"]["cells"]
        for category, serie, text in chart["points"]:
            assert cells[(category, serie)] == text, (chart["title"], category, serie, text)
            points += 1
            masked_points += text == MASK
        if chart["title"] == "Montant des aides par commune et par type":
            for (label, header), text in cells.items():
                if header == "Total" and label != "Total général":
                    assert text in chart["texts"], (label, text)
    assert points > 50 and masked_points >= 3


def test_demo_published_report_prints_the_tables_totals_in_its_charts(demo_warehouse, tmp_path):
    """The issue's case: La Madeleine's aids chart printed a partial sum with a mark
    (378 686 € (*)) where its table prints 379 215,27 €, and Lompret 0 € (*) for 4 913,00 €."""
    url, root = demo_warehouse
    written = generate(url, "MNO", 2025, tmp_path, min_cell_size=5, raw_dir=root / "raw")
    page = read_page(written.files[1])
    (chart,) = [c for c in page.charts if c["title"] == "Montant des aides par commune et par type"]
    totals = {
        label: text
        for (label, header), text in chart["table"]["cells"].items()
        if header == "Total"
    }
    assert totals["La Madeleine"] == "379\u202f215,27\u202f€"
    assert totals["Lompret"] == "4\u202f913,00\u202f€"
    assert {"379\u202f215,27\u202f€", "4\u202f913,00\u202f€"} <= set(chart["texts"])
    assert not [t for t in chart["texts"] if f"({MASK})" in t and "€" in t]
    for category, serie, text in chart["points"]:
        assert chart["table"]["cells"][(category, serie)] == text
    assert written.files[1].name == "rapport-MNO-2025-diffusion.html"
    assert (
        "<h1>Rapport d'activité 2025 — Mission Locale Métropole Nord-Ouest</h1>"
        in html.unescape(written.files[1].read_text(encoding="utf-8"))
    )


# --- regional view, CLI, Dagster asset --------------------------------------------------------


def test_regional_workbook_compares_structures(built):
    written = generate(built.url, None, 2025, built.root / "regional")
    assert written.files[0].name == "rapport-regional-2025.xlsx"
    wb = openpyxl.load_workbook(written.files[0])
    assert wb.sheetnames[0] == "Comparaison"
    assert {"ML2 · Le public", "TST · Le public", "TST · Aides financières"} <= set(wb.sheetnames)
    ws = wb["Comparaison"]
    (bounds,) = tables(ws)
    headers, body, _ = table_rows(ws, bounds)
    assert headers == ["Indicateur", "ML2", "TST", "Total"]
    totals = {
        (r["structure"], r["indicator"]): Decimal(str(r["value"]))
        for r in built.values
        if r["year"] == 2025 and r["commune_insee"] is None and r["dimension_1"] is None
    }
    labels = {
        r["label"]: r["indicator"] for r in query(built.url, "SELECT * FROM indicator_catalogue")
    }
    for r in body:
        code = labels[ws.cell(r, 1).value]
        ml2, tst, total = (number(ws.cell(r, j).value) for j in (2, 3, 4))
        assert (ml2, tst) == (number(totals[("ML2", code)]), number(totals[("TST", code)]))
        assert total == ml2 + tst
    assert len(body) == len(labels)


def test_cli_report(built, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "report",
                "--structure",
                "TST",
                "--year",
                "2025",
                "--out",
                str(out),
                "--warehouse",
                built.url,
                "--raw",
                str(built.raw),
                "--min-cell-size",
                "3",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {
        "rapport-TST-2025-diffusion.xlsx",
        "rapport-TST-2025-diffusion.html",
    }
    assert "rapport-TST-2025-diffusion.xlsx" in printed
    assert (
        openpyxl.load_workbook(out / "rapport-TST-2025-diffusion.xlsx")["Le public"]["A2"].value
        == "Rapport d'activité 2025 — Mission Locale de Test"
    )
    assert (
        main(
            [
                "report",
                "--structure",
                "NOPE",
                "--year",
                "2025",
                "--out",
                str(out),
                "--warehouse",
                built.url,
            ]
        )
        == 1
    )


def test_the_dagster_asset_writes_each_partitions_report(built):
    reports = built.root / "reports"
    assert {p.name for p in reports.iterdir()} >= {
        "rapport-TST-2024.xlsx",
        "rapport-TST-2025.xlsx",
        "rapport-TST-2025.html",
        "rapport-ML2-2025.xlsx",
    }
    assert openpyxl.load_workbook(reports / "rapport-TST-2025.xlsx").sheetnames == [
        *SECTIONS,
        "Sources",
    ]


# --- the HTML page in headless Chromium -------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (scripts/test-services.sh installs it as root)")
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (a tiny decoder: enough to tell
    a page from a blank one)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_html_page_renders_in_chromium(built, tmp_path):
    written = generate(built.url, "TST", 2025, tmp_path)
    page = written.files[1]
    html = page.read_text(encoding="utf-8")
    assert (
        '<html lang="fr">' in html
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    total = _total(built.values, "new_arrivals", 2025)
    amount = _total(built.values, "aid_amount", 2025)
    for text in (
        "Le public",
        "Aides financières",
        "Total général",
        fr_count(total),
        fr_amount(amount, cents=amount % 1 != 0),
        "<svg",
    ):
        assert text in dom, text
    shot = tmp_path / "page.png"
    _chromium(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1280,4000",
        "--hide-scrollbars",
        page.as_uri(),
    )
    assert shot.stat().st_size > 50_000
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1280, 4000)
    assert len(set(pixels[: width * 4 * 600])) > 20  # not a blank page


# --- the 2025 demo: every figure of the printed report, on its sheet ---------------------------


def expected_csv() -> Path:
    shared = Path(__file__).resolve().parents[2] / "shared" / "contract"
    folder = (
        shared
        if (shared / "report-2025-expected.csv").exists()
        else PROJECT_ROOT / "pipelines" / "demo" / "targets"
    )
    return folder / "report-2025-expected.csv"


@pytest.fixture(scope="module")
def demo(demo_warehouse: tuple[str, Path]) -> SimpleNamespace:
    """The seeded demo (run once per session, tests/conftest.py) and its 2025 report."""
    url, root = demo_warehouse
    written = generate(url, "MNO", 2025, root / "out")
    sections = {
        r["indicator"]: r["section"] for r in query(url, "SELECT * FROM indicator_catalogue")
    }
    return SimpleNamespace(wb=openpyxl.load_workbook(written.files[0]), sections=sections)


def test_demo_report_prints_every_figure_of_the_2025_report_on_its_sheet(demo):
    printed = defaultdict(list)
    for src in sources(demo.wb):
        key = tuple(
            src[k] or ""
            for k in (
                "indicator",
                "commune_insee",
                "dimension_1",
                "category_1",
                "dimension_2",
                "category_2",
            )
        )
        printed[key].append(src)
    with expected_csv().open(encoding="utf-8") as handle:
        expected = list(csv.DictReader(handle))
    assert len(expected) > 300
    missing = []
    for row in expected:
        key = tuple(
            row[k]
            for k in (
                "indicator",
                "commune_insee",
                "dimension_1",
                "category_1",
                "dimension_2",
                "category_2",
            )
        )
        sheet = demo.sections[row["indicator"]]
        on_sheet = [s for s in printed.get(key, []) if s["Feuille"] == sheet]
        if not any(
            number(demo.wb[sheet][s["Cellule"]].value) == number(row["value"]) for s in on_sheet
        ):
            missing.append((sheet, key, row["value"]))
    assert not missing, f"{len(missing)} figures not printed: {missing[:10]}"


def test_a_figure_printed_as_a_total_elsewhere_is_never_masked():
    """The 6 young people of one aid type are that type's table total: masking them in the
    breakdown by type would hide nothing and leave a single mask in that line."""

    def key(name: str) -> tuple:
        return ("aid_recipients", None, "aid_type", name, None, None)

    small, big, other = (Cell(v, keys=(key(n),)) for v, n in ((2, "a"), (40, "b"), (30, "c")))
    by_type = Table(
        "par type",
        ["", "n"],
        [
            Row("a", [small]),
            Row("b", [big]),
            Row("c", [other]),
            Row("Total", [Cell(72, total=True)], total=True),
        ],
        lines=[[small, big, other]],
    )
    one_type = Table(
        "a",
        ["Commune", "n"],
        [Row("Total général", [Cell(2, keys=(key("a"),), total=True)], total=True)],
    )
    report = Report("X", 2025, "t", [Section("s", [by_type, one_type])])
    assert apply_masking(report, SimpleNamespace(values={}), 3, {}) == 0
    assert not any(c.masked for c in (small, big, other))


def test_a_partition_with_almost_nothing_still_gets_its_report(tmp_path, run):
    """Young people, no event, no situation, no aid: every table prints its zeros, no chart
    is drawn from an empty grid, and no sentence divides by zero."""
    raw = tmp_path / "raw"
    write_structure(raw, "VIDE")
    write_xlsx(
        raw / "VIDE" / "2025" / "jeunes.xlsx",
        JEUNES_HEADERS,
        [young("1", first="10/10/2023"), young("2", sex="H", first=None)],
    )
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    assert not run(raw, url).failed
    wb = openpyxl.load_workbook(tmp_path / "reports" / "rapport-VIDE-2025.xlsx")
    assert wb.sheetnames == [*SECTIONS, "Sources"]
    assert all(s["value"] == 0 for s in sources(wb))
    assert not wb["Le public"]._charts
