"""The report as an Excel workbook (openpyxl): one sheet per section, native charts.

Cells keep numbers numeric (Excel users compute with them); number formats do the display,
the French way whatever the reader's locale: thousands grouped by a narrow no-break space
written into the format (`#" "###" "##0`: the leading placeholders print nothing, so small
numbers lose nothing), `/` for zero as the printed report does, `€` with cents only in
columns that have cents (the decimal mark stays the reader's: a comma in French). Shares and
changes are stored already rounded (0.52) so that Excel's display rounding cannot differ from
the report's rules. A masked cell holds the text mark. Every table is a sheet-scoped defined
name (`tableau_01`…), and the sheet `Sources` gives each printed figure's warehouse row.

Every value goes through `put`: text from exports, `structure.yaml`, the layout or folder
names is always a text cell, never a formula (the workbook holds no formula at all), with
the characters XML refuses written as visible escapes (pipelines/reporting/safe.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.chart import BarChart, PieChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.chart.label import DataLabelList
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.worksheet import Worksheet

from pipelines.reporting.model import Cell, Comparison, Paragraph, Report, Table
from pipelines.reporting.numbers import NNBSP
from pipelines.reporting.safe import printable

MASK = "*"
SOURCES_SHEET = "Sources"
GROUPED = f'#"{NNBSP}"###"{NNBSP}"##0'          # up to 999 999 999
COUNT_FORMAT = f'[=0]"/";{GROUPED}'
AMOUNT_FORMAT = f'[=0]"/";{GROUPED}"{NNBSP}€"'
CENTS_FORMAT = f'[=0]"/";{GROUPED}.00"{NNBSP}€"'
SHARE_FORMAT = f'0"{NNBSP}"%'
CHANGE_FORMAT = f'+0"{NNBSP}"%;-0"{NNBSP}"%;0"{NNBSP}"%'

ACCENT = "1F4E79"
TITLE_FONT = Font(bold=True, size=16, color=ACCENT)
SUBTITLE_FONT = Font(italic=True, color="595959")
TABLE_FONT = Font(bold=True, size=12, color=ACCENT)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
THIN = Side(style="thin", color="8EA9C1")
LABEL_WIDTH = 46
VALUE_WIDTH = 17
VALUE_COLUMNS = 7          # columns B..H are sized for values
MIN_CHART_COLUMN = 4       # charts sit to the right of their table (column D at the least)
ROW_CM = 0.53              # a default row is 15 pt high
MAX_CELL_TEXT = 32767      # Excel's limit: a longer text makes Excel "repair" the file
# what Excel would take as a formula if the user edited the cell (F2, Enter)
FORMULA_START = ("=", "+", "-", "@")
# `_x001B_` in a cell is Excel's escape of a character: a label holding that spelling is
# escaped in turn (`_x005F_`), so that Excel shows what the export holds
EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


@dataclass
class Placed:
    """Where a table landed on its sheet (1-based rows and columns)."""

    sheet: str
    table: Table
    header_row: int
    first_row: int
    last_body_row: int


def write_workbook(reports: list[Report], path: Path, comparison: Comparison | None = None,
                   prefix_sheets: bool = False) -> Path:
    """One sheet per section of each report (sheet names prefixed by the structure for a
    regional workbook), the comparison sheet first when given, `Sources` last."""
    wb = Workbook()
    wb.remove(wb.active)
    placed: list[tuple[str, int, Placed]] = []
    if comparison is not None:
        ws = wb.create_sheet("Comparaison")
        placed += [("", comparison.year, p) for p in _write_comparison(ws, comparison)]
    for report in reports:
        for section in report.sections:
            name = _sheet_name(f"{report.structure} · {section.name}" if prefix_sheets
                               else section.name, wb)
            ws = wb.create_sheet(name)
            placed += [(report.structure, report.year, p)
                       for p in _write_section(ws, report, section)]
    _write_sources(wb.create_sheet(SOURCES_SHEET), placed)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def put(ws: Worksheet, row: int, column: int, value: object) -> SheetCell:
    """Write `value` into a cell; a str is always a text cell (openpyxl makes any str that
    starts with `=` a formula), with what XML refuses escaped."""
    cell = ws.cell(row, column)
    if not isinstance(value, str):
        cell.value = value
        return cell
    text = EXCEL_ESCAPE.sub(r"_x005F_\1", printable(value))
    if len(text) > MAX_CELL_TEXT:
        text = text[:MAX_CELL_TEXT - 1] + "…"
    cell.value = text
    cell.data_type = "s"
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True        # stays text when edited in Excel
    return cell


def _sheet_name(name: str, wb: Workbook) -> str:
    """Excel's rules: 31 characters at most, unique, none of : \\ / ? * [ ], no apostrophe
    at either end; nothing XML refuses."""
    name = printable(name)
    for bad in ':\\/?*[]':
        name = name.replace(bad, "-")
    name = name[:31].strip("'") or "Feuille"
    base, n = name, 2
    while name in wb.sheetnames:
        name = f"{base[:28]} {n}"
        n += 1
    return name


# --- a section's sheet ------------------------------------------------------------------------

def _write_section(ws: Worksheet, report: Report, section) -> list[Placed]:
    _set_widths(ws)
    put(ws, 1, 1, section.name).font = TITLE_FONT
    put(ws, 2, 1, f"{report.title} — {report.structure}").font = SUBTITLE_FONT
    row = 3
    if report.min_cell_size:
        row = _paragraph(ws, row, report.mask_note, italic=True)
    row += 1
    placed = []
    for block in section.blocks:
        if isinstance(block, Paragraph):
            row = _paragraph(ws, row, block.text, bold=block.headline)
        else:
            where, row = _table(ws, block, row, len(placed) + 1)
            placed.append(where)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    return placed


def _set_widths(ws: Worksheet) -> None:
    ws.column_dimensions["A"].width = LABEL_WIDTH
    for j in range(2, 2 + VALUE_COLUMNS):
        ws.column_dimensions[get_column_letter(j)].width = VALUE_WIDTH


def _paragraph(ws: Worksheet, row: int, text: str, bold: bool = False,
               italic: bool = False) -> int:
    """A sentence across the table columns, wrapped; returns the next free row."""
    last = get_column_letter(1 + VALUE_COLUMNS)
    ws.merge_cells(f"A{row}:{last}{row}")
    cell = put(ws, row, 1, text)
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    cell.font = Font(bold=bold, italic=italic)
    chars_per_line = (LABEL_WIDTH + VALUE_WIDTH * VALUE_COLUMNS) * 1.1
    ws.row_dimensions[row].height = 15 * max(1, math.ceil(len(text) / chars_per_line))
    return row + 1


def _table(ws: Worksheet, table: Table, row: int, number: int) -> tuple[Placed, int]:
    """Title, header, rows; a chart to the right; returns where it is and the next free row."""
    title_row = row
    put(ws, row, 1, table.title).font = TABLE_FONT
    header_row = row + 1
    for j, header in enumerate(table.columns, start=1):
        cell = put(ws, header_row, j, header)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = Border(bottom=THIN)
        cell.alignment = Alignment(wrap_text=True, vertical="center",
                                   horizontal="left" if j == 1 else "center")
    longest = max(len(h) for h in table.columns[1:]) if len(table.columns) > 1 else 0
    ws.row_dimensions[header_row].height = 15 * max(1, math.ceil(longest / VALUE_WIDTH))
    row = header_row + 1
    where = Placed(ws.title, table, header_row, row, row - 1)
    for table_row in table.rows:
        _row(ws, row, table_row.label, table_row.cells, table_row.total)
        if not table_row.total:
            where.last_body_row = row
        row += 1
    if table.note:
        put(ws, row, 1, table.note).font = Font(italic=True, size=9, color="595959")
        row += 1
    ref = (f"{quote_sheetname(ws.title)}!$A${header_row}:"
           f"${get_column_letter(len(table.columns))}${row - 1}")
    ws.defined_names[f"tableau_{number:02d}"] = DefinedName(f"tableau_{number:02d}",
                                                            attr_text=ref)
    if table.chart and where.last_body_row >= where.first_row:
        height = _add_chart(ws, where, title_row)
        row = max(row, title_row + math.ceil(height / ROW_CM) + 1)
    return where, row + 1


def _row(ws: Worksheet, row: int, label: str, cells: list[Cell], total: bool) -> None:
    put(ws, row, 1, label).alignment = Alignment(wrap_text=True, vertical="top")
    for j, cell in enumerate(cells, start=2):
        if cell.masked:
            put(ws, row, j, MASK).alignment = Alignment(horizontal="right")
        elif cell.value is not None:
            value, number_format = _excel_value(cell)
            put(ws, row, j, value).number_format = number_format
    for j in range(1, len(cells) + 2):
        target = ws.cell(row, j)
        if total:
            target.font = Font(bold=True)
            target.fill = TOTAL_FILL
            target.border = Border(top=THIN)


def _excel_value(cell: Cell) -> tuple[object, str]:
    if cell.kind == "share":
        return Decimal(cell.value) / 100, SHARE_FORMAT
    if cell.kind == "change":
        return Decimal(cell.value) / 100, CHANGE_FORMAT
    if cell.kind == "amount":
        return Decimal(cell.value), CENTS_FORMAT if cell.cents else AMOUNT_FORMAT
    return int(cell.value), COUNT_FORMAT


# --- charts -----------------------------------------------------------------------------------

def _add_chart(ws: Worksheet, where: Placed, anchor_row: int) -> float:
    """A native chart of the table's body rows; returns its height in cm."""
    spec = where.table.chart
    body = where.last_body_row - where.first_row + 1
    series = len(spec.columns)
    chart = PieChart() if spec.kind == "pie" else BarChart()
    if spec.kind != "pie":
        chart.type = "col" if spec.kind == "col" else "bar"
        if spec.kind == "stacked":
            chart.grouping, chart.overlap = "stacked", 100
        chart.x_axis.delete = False            # openpyxl 3.1 hides axes unless told not to
        chart.y_axis.delete = False
        chart.y_axis.numFmt = "#,##0"
        chart.y_axis.majorGridlines = None
        if chart.type == "bar":
            chart.x_axis.scaling.orientation = "maxMin"   # first category on top
    for column in spec.columns:
        data = Reference(ws, min_col=column + 1, min_row=where.header_row,
                         max_row=where.last_body_row)
        chart.add_data(data, titles_from_data=True)
    # the categories are labels: a string reference (openpyxl's set_categories makes a
    # numeric one, which some readers show as 1, 2, 3)
    labels = Reference(ws, min_col=1, min_row=where.first_row, max_row=where.last_body_row)
    for series in chart.series:
        series.cat = AxDataSource(strRef=StrRef(f=str(labels)))
    chart.title = printable(spec.title)       # chart XML refuses what cell XML refuses
    # values on the bars (percentages on a pie), nothing else: readers default to more
    chart.dataLabels = DataLabelList(showVal=spec.kind in ("bar", "col"),
                                     showPercent=spec.kind == "pie", showSerName=False,
                                     showCatName=False, showLegendKey=False,
                                     showLeaderLines=False)
    if series == 1 and spec.kind != "pie":
        chart.legend = None
    elif chart.legend is not None:
        chart.legend.position = "b"
    chart.width = 17
    # horizontal bars need room per category; columns and pies a fixed frame
    chart.height = max(7.5, 0.6 * body + 3) if chart_is_horizontal(spec.kind) else 7.5
    # beside its table, one empty column between them
    column = max(len(where.table.columns) + 2, MIN_CHART_COLUMN)
    ws.add_chart(chart, f"{get_column_letter(column)}{anchor_row}")
    return chart.height


def chart_is_horizontal(kind: str) -> bool:
    return kind in ("bar", "stacked")


# --- the regional comparison and the sources --------------------------------------------------

def _write_comparison(ws: Worksheet, comparison: Comparison) -> list[Placed]:
    _set_widths(ws)
    put(ws, 1, 1, "Comparaison des structures").font = TITLE_FONT
    put(ws, 2, 1, f"Rapport d'activité {comparison.year} — vue régionale").font = SUBTITLE_FONT
    where, _ = _table(ws, comparison.table, 4, 1)
    ws.freeze_panes = ws.cell(where.first_row, 2)
    return [where]


SOURCE_COLUMNS = ["Feuille", "Cellule", "structure", "year", "indicator", "commune_insee",
                  "commune", "dimension_1", "category_1", "dimension_2", "category_2", "value"]


def _write_sources(ws: Worksheet, placed: list[tuple[str, int, Placed]]) -> None:
    """Each printed figure and the indicator_values rows it shows (several categories joined
    by ' + ' are added; a dimension with no category is the margin over it)."""
    for j, name in enumerate(SOURCE_COLUMNS, start=1):
        header = put(ws, 1, j, name)
        header.font = Font(bold=True)
        header.fill = HEADER_FILL
    row = 2
    for structure, year, where in placed:
        for offset, table_row in enumerate(where.table.rows):
            for j, cell in enumerate(table_row.cells, start=2):
                if cell.source is not None:
                    values = _source_row(where, where.first_row + offset, j, table_row.label,
                                         cell, cell.structure or structure, year)
                    for column, value in enumerate(values, start=1):
                        if value is not None:          # an empty cell stays absent
                            put(ws, row, column, value)
                    row += 1
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for j, width in enumerate([26, 9, 10, 7, 26, 13, 24, 18, 30, 16, 24, 14], start=1):
        ws.column_dimensions[get_column_letter(j)].width = width


def _source_row(where: Placed, row: int, column: int, label: str, cell: Cell, structure: str,
                year: int) -> list[object]:
    s = cell.source
    assert s is not None
    return [where.sheet, f"{get_column_letter(column)}{row}", structure, year, s.indicator,
            s.commune_insee, label if s.commune_insee else None, s.dimension_1,
            " + ".join(s.categories_1) or None, s.dimension_2,
            " + ".join(s.categories_2) or None,
            MASK if cell.masked else _excel_value(cell)[0]]
