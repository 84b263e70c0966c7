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

Printing: every sheet is set for A4 landscape, fitted to the page width, with its title rows
(the column headers for `Sources`) repeated on each page. The workbook places its own row
breaks: a table, its title and its chart form one block that starts a new page when it would
not fit on the current one (the page height is computed from the row heights written here,
all explicit, and the scale the fit to width gives). Charts sit beside a narrow table or below
a wide one, always inside the print area. `Sources` is the one sheet printed small (its
figures are for checking, not for reading on paper): see `_write_sources`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.chart import BarChart, PieChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.chart.label import DataLabel, DataLabelList
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from pipelines.reporting.model import (
    MASK,
    Cell,
    Comparison,
    Paragraph,
    Report,
    Section,
    Table,
    chart_kind,
)
from pipelines.reporting.numbers import NNBSP
from pipelines.reporting.safe import printable

SOURCES_SHEET = "Sources"
GROUPED = f'#"{NNBSP}"###"{NNBSP}"##0'  # up to 999 999 999
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
VALUE_COLUMNS = 7  # columns B..H are sized for values
ROW_PT = 15.0  # a default row (Calibri 11)
LABEL_CHARS = 50  # characters of a label per line in column A (kept low: a row a
# little too high costs nothing, a clipped label does)
# printing: A4 landscape, in points; margins in inches (openpyxl's unit)
PT_PER_CM = 72 / 2.54
PAGE_WIDTH, PAGE_HEIGHT = 842.0, 595.0
MARGINS = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6, header=0.25, footer=0.25)
PAGE_FILL = 0.95  # the share of a page's height the breaks fill (rounding of
# heights and fonts by the printing application)
CHART_WIDTH_CM = 17.0
MIN_BESIDE_CM = 11.0  # a chart narrower than this goes below its table
FOOTER = "&A — page &P / &N"
MAX_CELL_TEXT = 32767  # Excel's limit: a longer text makes Excel "repair" the file
# what Excel would take as a formula if the user edited the cell (F2, Enter)
FORMULA_START = ("=", "+", "-", "@")
# `_x001B_` in a cell is Excel's escape of a character: a label holding that spelling is
# escaped in turn (`_x005F_`), so that Excel shows what the export holds
EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")

# what the workbooks written here hold in a cell (openpyxl takes more: dates, rich text)
CellValue = str | int | float | Decimal | None


@dataclass
class Sheet:
    """What the page breaks need to know about a sheet: the height of every row written
    (points), the blocks that must not be cut (first and last row) and the last column."""

    ws: Worksheet
    title_rows: int = 2
    heights: dict[int, float] = field(default_factory=dict)
    blocks: list[tuple[int, int]] = field(default_factory=list)
    last_column: int = 1 + VALUE_COLUMNS

    def height(self, row: int, points: float | None = None) -> float:
        """Set (or, with None, keep or give the default) the explicit height of `row`: every
        row has one, so that a printing application's page matches the breaks placed."""
        if points is not None or row not in self.heights:
            self.heights[row] = points if points is not None else ROW_PT
            self.ws.row_dimensions[row].height = self.heights[row]
        return self.heights[row]


def column_points(width: float) -> float:
    """An Excel column width (characters of the default font) in points."""
    return (width * 7 + 5) * 0.75


def _columns_points(ws: Worksheet, last: int) -> float:
    return sum(
        column_points(ws.column_dimensions[get_column_letter(j)].width or 8.43)
        for j in range(1, last + 1)
    )


@dataclass
class Placed:
    """Where a table landed on its sheet (1-based rows and columns)."""

    sheet: str
    table: Table
    header_row: int
    first_row: int
    last_body_row: int


def write_workbook(
    reports: list[Report],
    path: Path,
    comparison: Comparison | None = None,
    prefix_sheets: bool = False,
) -> Path:
    """One sheet per section of each report (sheet names prefixed by the structure for a
    regional workbook), the comparison sheet first when given, `Sources` last."""
    wb = Workbook()
    default = wb.active
    assert default is not None  # a new workbook has one empty sheet
    wb.remove(default)
    placed: list[tuple[str, int, Placed]] = []
    if comparison is not None:
        ws = wb.create_sheet("Comparaison")
        placed += [("", comparison.year, p) for p in _write_comparison(ws, comparison)]
    for report in reports:
        for section in report.sections:
            name = _sheet_name(
                f"{report.structure} · {section.name}" if prefix_sheets else section.name, wb
            )
            ws = wb.create_sheet(name)
            placed += [
                (report.structure, report.year, p) for p in _write_section(ws, report, section)
            ]
    _write_sources(wb.create_sheet(SOURCES_SHEET), placed)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def cell_at(ws: Worksheet, row: int, column: int) -> SheetCell:
    """The cell at (row, column), which must not be hidden by a merge (only a merge's top-left
    cell takes a value)."""
    cell = ws.cell(row, column)
    assert isinstance(cell, SheetCell), f"{cell.coordinate} is inside a merged range"
    return cell


def put(ws: Worksheet, row: int, column: int, value: CellValue) -> SheetCell:
    """Write `value` into a cell; a str is always a text cell (openpyxl makes any str that
    starts with `=` a formula), with what XML refuses escaped."""
    cell = cell_at(ws, row, column)
    if not isinstance(value, str):
        cell.value = value
        return cell
    text = EXCEL_ESCAPE.sub(r"_x005F_\1", printable(value))
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 1] + "…"
    cell.value = text
    cell.data_type = "s"
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True  # stays text when edited in Excel
    return cell


def _sheet_name(name: str, wb: Workbook) -> str:
    """Excel's rules: 31 characters at most, unique, none of : \\ / ? * [ ], no apostrophe
    at either end; nothing XML refuses."""
    name = printable(name)
    for bad in ":\\/?*[]":
        name = name.replace(bad, "-")
    name = name[:31].strip("'") or "Feuille"
    base, n = name, 2
    while name in wb.sheetnames:
        name = f"{base[:28]} {n}"
        n += 1
    return name


# --- a section's sheet ------------------------------------------------------------------------


def _write_section(ws: Worksheet, report: Report, section: Section) -> list[Placed]:
    _set_widths(ws)
    sheet = Sheet(ws)
    put(ws, 1, 1, section.name).font = TITLE_FONT
    sheet.height(1, 22)
    put(ws, 2, 1, report.title).font = SUBTITLE_FONT  # carries the structure's name
    sheet.height(2)
    row = 3
    if report.min_cell_size:
        row = _paragraph(sheet, row, report.mask_note, italic=True)
    sheet.height(row)
    row += 1
    placed: list[Placed] = []
    for block in section.blocks:
        if isinstance(block, Paragraph):
            row = _paragraph(sheet, row, block.text, bold=block.headline)
        else:
            where, row = _table(sheet, block, row, len(placed) + 1)
            placed.append(where)
    _print_setup(sheet, row - 1)
    return placed


def _print_setup(sheet: Sheet, last_row: int, title_rows: str | None = "1:2") -> None:
    """A4 landscape fitted to the width, title rows repeated, a footer with the sheet's name
    and the page; the print area is the sheet's tables and charts; breaks between blocks."""
    ws = sheet.ws
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    fit_to_page(ws)
    ws.page_margins = PageMargins(
        **{k: getattr(MARGINS, k) for k in ("left", "right", "top", "bottom", "header", "footer")}
    )
    footer = ws.oddFooter
    assert footer is not None  # openpyxl gives every sheet its header and footer
    footer.center.text = FOOTER
    footer.center.size = 8
    if title_rows:
        ws.print_title_rows = title_rows
    ws.print_area = f"A1:{get_column_letter(sheet.last_column)}{max(last_row, 1)}"
    _page_breaks(sheet, last_row)


def fit_to_page(ws: Worksheet) -> None:
    """Print at the scale the page_setup's fitToWidth / fitToHeight ask for."""
    properties = ws.sheet_properties.pageSetUpPr
    assert properties is not None  # openpyxl gives every sheet its page setup properties
    properties.fitToPage = True


def print_scale(ws: Worksheet, last_column: int) -> float:
    """The scale a fit to the page width gives (never above 100 %)."""
    printable = PAGE_WIDTH - 72 * (MARGINS.left + MARGINS.right)
    return min(1.0, printable / _columns_points(ws, last_column))


def page_capacity(sheet: Sheet) -> float:
    """The height of sheet rows one page holds below the repeated title rows (points)."""
    printable = PAGE_HEIGHT - 72 * (MARGINS.top + MARGINS.bottom)
    titles = sum(sheet.height(r) for r in range(1, sheet.title_rows + 1))
    return printable / print_scale(sheet.ws, sheet.last_column) * PAGE_FILL - titles


def _page_breaks(sheet: Sheet, last_row: int) -> None:
    """A row break before every block that would not fit on the rest of its page (a block
    taller than a page starts a page and is left to the application's own breaks)."""
    capacity = page_capacity(sheet)
    starts = {first: last for first, last in sheet.blocks or []}
    used, row = 0.0, sheet.title_rows + 1
    while row <= last_row:
        if row in starts:
            block = sum(sheet.height(r) for r in range(row, starts[row] + 1))
            if used and used + block > capacity:
                sheet.ws.row_breaks.append(Break(id=row - 1))
                used = 0.0
            used = (used + block) % capacity if block > capacity else used + block
            row = starts[row] + 1
            continue
        used += sheet.height(row)
        row += 1


def _set_widths(ws: Worksheet) -> None:
    ws.column_dimensions["A"].width = LABEL_WIDTH
    for j in range(2, 2 + VALUE_COLUMNS):
        ws.column_dimensions[get_column_letter(j)].width = VALUE_WIDTH


def _paragraph(sheet: Sheet, row: int, text: str, bold: bool = False, italic: bool = False) -> int:
    """A sentence across the table columns, wrapped; returns the next free row."""
    ws = sheet.ws
    last = get_column_letter(1 + VALUE_COLUMNS)
    ws.merge_cells(f"A{row}:{last}{row}")
    cell = put(ws, row, 1, text)
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    cell.font = Font(bold=bold, italic=italic)
    chars_per_line = LABEL_WIDTH + VALUE_WIDTH * VALUE_COLUMNS
    sheet.height(row, ROW_PT * max(1, math.ceil(len(text) / chars_per_line)))
    sheet.blocks.append((row, row))
    return row + 1


def _lines(text: str, width: float) -> int:
    return max(1, math.ceil(len(text) / max(width * 0.9, 1)))


def _table(sheet: Sheet, table: Table, row: int, number: int) -> tuple[Placed, int]:
    """Title, header, rows, a chart beside or below; the whole is one block that no page
    break cuts. Returns where the table is and the next free row."""
    ws = sheet.ws
    title_row = row
    put(ws, row, 1, table.title).font = TABLE_FONT
    sheet.height(row, 18)
    header_row = row + 1
    for j, header in enumerate(table.columns, start=1):
        cell = put(ws, header_row, j, header)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = Border(bottom=THIN)
        cell.alignment = Alignment(
            wrap_text=True, vertical="center", horizontal="left" if j == 1 else "center"
        )
    # headers are bold and wrap on word boundaries: fewer characters per line than labels
    lines = max(
        _lines(h, 0.8 * (LABEL_WIDTH if j == 0 else VALUE_WIDTH))
        for j, h in enumerate(table.columns)
    )
    sheet.height(header_row, ROW_PT * lines)
    row = header_row + 1
    where = Placed(ws.title, table, header_row, row, row - 1)
    for table_row in table.rows:
        _row(ws, row, table_row.label, table_row.cells, table_row.total)
        sheet.height(row, ROW_PT * _lines(table_row.label, LABEL_CHARS / 0.9))
        if not table_row.total:
            where.last_body_row = row
        row += 1
    if table.note:
        put(ws, row, 1, table.note).font = Font(italic=True, size=9, color="595959")
        sheet.height(row)
        row += 1
    ref = (
        f"{quote_sheetname(ws.title)}!$A${header_row}:"
        f"${get_column_letter(len(table.columns))}${row - 1}"
    )
    ws.defined_names[f"tableau_{number:02d}"] = DefinedName(f"tableau_{number:02d}", attr_text=ref)
    sheet.last_column = max(sheet.last_column, len(table.columns))
    last = row - 1
    if table.chart and where.last_body_row >= where.first_row:
        last = max(last, _add_chart(sheet, where, title_row, row + 1))
    sheet.blocks.append((title_row, last))
    sheet.height(last + 1)
    return where, last + 2


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


def _excel_value(cell: Cell) -> tuple[Decimal | int, str]:
    value = cell.value
    assert value is not None  # an empty cell is not written
    if cell.kind == "share":
        return Decimal(value) / 100, SHARE_FORMAT
    if cell.kind == "change":
        return Decimal(value) / 100, CHANGE_FORMAT
    if cell.kind == "amount":
        return Decimal(value), CENTS_FORMAT if cell.cents else AMOUNT_FORMAT
    return int(value), COUNT_FORMAT


# --- charts -----------------------------------------------------------------------------------


def _add_chart(sheet: Sheet, where: Placed, title_row: int, below_row: int) -> int:
    """A native chart of the table's body rows, beside the table when there is room within
    the print width, else below it; returns the last row it covers. A masked value is a
    text cell, drawn as nothing and labelled with the mark (never a number); a pie with a
    masked slice is drawn as bars, as on the HTML page."""
    ws = sheet.ws
    spec = where.table.chart
    assert spec is not None  # only a table with a chart gets here
    kind = chart_kind(where.table)
    body = where.last_body_row - where.first_row + 1
    chart = PieChart() if kind == "pie" else _bar_chart(kind)
    for column in spec.columns:
        data = Reference(
            ws, min_col=column + 1, min_row=where.header_row, max_row=where.last_body_row
        )
        chart.add_data(data, titles_from_data=True)
    # the categories are labels: a string reference (openpyxl's set_categories makes a
    # numeric one, which some readers show as 1, 2, 3)
    labels = Reference(ws, min_col=1, min_row=where.first_row, max_row=where.last_body_row)
    for series, column in zip(chart.series, spec.columns, strict=True):
        series.cat = AxDataSource(strRef=StrRef(f=str(labels)))
        masked = [i for i, r in enumerate(where.table.body) if r.cells[column - 1].masked]
        if masked:
            # the mark as the label of a masked point: a number format printing "*"
            series.dLbls = DataLabelList(
                dLbl=[
                    DataLabel(
                        idx=i,
                        numFmt=f'"{MASK}"',
                        showVal=True,
                        showSerName=False,
                        showCatName=False,
                        showLegendKey=False,
                        showPercent=False,
                    )
                    for i in masked
                ],
                showVal=kind in ("bar", "col"),
                showSerName=False,
                showCatName=False,
                showLegendKey=False,
                showPercent=False,
            )
    chart.title = printable(spec.title)  # chart XML refuses what cell XML refuses
    # values on the bars (percentages on a pie), nothing else: readers default to more
    chart.dataLabels = DataLabelList(
        showVal=kind in ("bar", "col"),
        showPercent=kind == "pie",
        showSerName=False,
        showCatName=False,
        showLegendKey=False,
        showLeaderLines=False,
    )
    if len(spec.columns) == 1 and kind != "pie":
        chart.legend = None
    elif chart.legend is not None:
        chart.legend.position = "b"
    # horizontal bars need room per category; columns and pies a fixed frame
    chart.height = max(7.5, 0.6 * body + 3) if chart_is_horizontal(kind) else 7.5
    beside = len(where.table.columns) + 2  # one empty column between them
    room = (
        _columns_points(ws, 1 + VALUE_COLUMNS) - _columns_points(ws, beside - 1)
    ) / PT_PER_CM - 0.3
    if room >= MIN_BESIDE_CM:
        width, anchor_row = min(CHART_WIDTH_CM, room), title_row
        anchor = f"{get_column_letter(beside)}{title_row}"
    else:
        width, anchor_row, anchor = CHART_WIDTH_CM, below_row, f"A{below_row}"
    # openpyxl takes any number of cm (it converts to EMU); its stubs declare width an int
    chart.width = width  # type: ignore[assignment]
    ws.add_chart(chart, anchor)
    # the rows the chart covers, from its anchor down
    covered, row = 0.0, anchor_row
    while covered < chart.height * PT_PER_CM:
        covered += sheet.height(row)
        row += 1
    return row - 1


def _bar_chart(kind: str) -> BarChart:
    """An empty bar chart of `kind` (bar, col, stacked), its axes shown."""
    chart = BarChart()
    chart.type = "col" if kind == "col" else "bar"
    if kind == "stacked":
        chart.grouping, chart.overlap = "stacked", 100
    chart.x_axis.delete = False  # openpyxl 3.1 hides axes unless told not to
    chart.y_axis.delete = False
    chart.y_axis.numFmt = "#,##0"
    chart.y_axis.majorGridlines = None
    if chart.type == "bar":
        chart.x_axis.scaling.orientation = "maxMin"  # first category on top
    return chart


def chart_is_horizontal(kind: str) -> bool:
    return kind in ("bar", "stacked")


# --- the regional comparison and the sources --------------------------------------------------


def _write_comparison(ws: Worksheet, comparison: Comparison) -> list[Placed]:
    _set_widths(ws)
    sheet = Sheet(ws)
    put(ws, 1, 1, "Comparaison des structures").font = TITLE_FONT
    sheet.height(1, 22)
    put(ws, 2, 1, f"Rapport d'activité {comparison.year} — vue régionale").font = SUBTITLE_FONT
    sheet.height(2)
    sheet.height(3)
    where, row = _table(sheet, comparison.table, 4, 1)
    ws.freeze_panes = cell_at(ws, where.first_row, 2)
    # one long table: its title and header repeat on every page
    sheet.title_rows = where.header_row
    sheet.blocks = []
    _print_setup(sheet, row - 1, f"1:{where.header_row}")
    return [where]


SOURCE_WIDTHS = [26, 9, 10, 7, 26, 13, 24, 18, 30, 16, 24, 14]
SOURCES_HEADER = (
    "Extrait : les {shown} premières lignes sur {total}. Pour tout imprimer : "
    "Mise en page > Zone d'impression > Effacer."
)
SOURCE_COLUMNS = [
    "Feuille",
    "Cellule",
    "structure",
    "year",
    "indicator",
    "commune_insee",
    "commune",
    "dimension_1",
    "category_1",
    "dimension_2",
    "category_2",
    "value",
]


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
                    values = _source_row(
                        where,
                        where.first_row + offset,
                        j,
                        table_row.label,
                        cell,
                        cell.structure or structure,
                        year,
                    )
                    for column, value in enumerate(values, start=1):
                        if value is not None:  # an empty cell stays absent
                            put(ws, row, column, value)
                    row += 1
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for j, width in enumerate(SOURCE_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    _print_sources(ws, row - 1)


def _print_sources(ws: Worksheet, last_row: int) -> None:
    """Sources is for checking on screen (filters, one line per printed figure: 55 pages of
    the demo's 73 as a whole): its print area is its first page, the header says it is an
    extract and how to print it all. A4 landscape, fitted to the width, header row repeated."""
    sheet = Sheet(ws, title_rows=1, last_column=len(SOURCE_COLUMNS))
    shown = min(last_row, 1 + int(page_capacity(sheet) // ROW_PT))
    _print_setup(sheet, shown, "1:1")
    if shown < last_row:
        header = ws.oddHeader
        assert header is not None  # openpyxl gives every sheet its header and footer
        header.center.text = SOURCES_HEADER.format(shown=shown - 1, total=last_row - 1)
        header.center.size = 9


def _source_row(
    where: Placed, row: int, column: int, label: str, cell: Cell, structure: str, year: int
) -> list[CellValue]:
    s = cell.source
    assert s is not None
    return [
        where.sheet,
        f"{get_column_letter(column)}{row}",
        structure,
        year,
        s.indicator,
        s.commune_insee,
        label if s.commune_insee else None,
        s.dimension_1,
        " + ".join(s.categories_1) or None,
        s.dimension_2,
        " + ".join(s.categories_2) or None,
        MASK if cell.masked else _excel_value(cell)[0],
    ]
