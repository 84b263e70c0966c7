"""The report on paper (issue 17, point 4): the 2025 demo workbook turned into PDF by
LibreOffice (`soffice --headless`, Debian's libreoffice-calc, installed by
scripts/test-services.sh when it can), and the HTML page's print and phone styles.

What "no chart or table cut" means here, checked on both sides:
- in the workbook, every block (a table's title, header, rows, note and its chart) lies
  between two of the row breaks the workbook sets, and every chart is inside the print width;
- in the PDF, each sheet has exactly as many pages as its breaks make (its footer names the
  sheet): LibreOffice needed no break of its own, so every page starts at one of ours and
  nothing is cut.

The page bound: 40 pages for the demo (8 section sheets and one page of Sources; 32 when this
was written). The workbook printed 73 pages before, 55 of them Sources printed column by
column: a Sources printed in full (+13 pages) or a sheet no longer fitted to the page width
(each page split in two) goes past the bound, a table moving from one page to the next
does not.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries

from pipelines.reporting.write import generate
from pipelines.reporting.xlsx import (
    PT_PER_CM,
    SOURCES_SHEET,
    column_points,
)

MAX_PAGES = 40
EMU_PER_CM = 360000


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} n'est pas installé (scripts/test-services.sh installe "
            f"libreoffice-calc et poppler-utils avec apt-get quand il le peut)"
        )
    return path


@pytest.fixture(scope="module")
def printed(
    demo_warehouse: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> SimpleNamespace:
    """The demo's 2025 workbook and page, the workbook converted into PDF."""
    soffice = _tool("soffice")
    _tool("pdftotext")
    url, root = demo_warehouse
    out = tmp_path_factory.mktemp("print")
    written = generate(url, "MNO", 2025, out, raw_dir=root / "raw")
    workbook, page = written.files
    # a profile of its own: a LibreOffice already open elsewhere would take the job
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(out / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(workbook),
        ],
        capture_output=True,
        timeout=300,
        check=True,
    )
    pdf = workbook.with_suffix(".pdf")
    assert pdf.exists()
    return SimpleNamespace(
        workbook=workbook,
        page=page,
        pdf=pdf,
        wb=openpyxl.load_workbook(workbook),
        pages=_pages(pdf),
    )


def _pages(pdf: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    count = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    return [
        subprocess.run(
            ["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for i in range(1, count + 1)
    ]


def _sheet_of(page: str) -> str:
    """The sheet a PDF page prints, from its footer "<sheet> — page n / N"."""
    found = re.findall(r"(\S[^\n]*?) — page \d+ / \d+", page)
    assert found, page[-300:]
    return found[-1].strip()


def _breaks(ws) -> list[int]:
    """The workbook's row breaks: the last row of each page but the last."""
    return sorted(b.id for b in ws.row_breaks.brk)


def _row_height(ws, row: int) -> float:
    return ws.row_dimensions[row].height or 15.0


def _chart_rows(ws, chart) -> tuple[int, int]:
    """First and last row a chart covers (its anchor, then its height in the rows' heights)."""
    first = chart.anchor._from.row + 1
    height = chart.anchor.ext.height / EMU_PER_CM * PT_PER_CM
    covered, row = 0.0, first
    while covered < height - 0.01:
        covered += _row_height(ws, row)
        row += 1
    return first, row - 1


def _tables(ws) -> list[tuple[int, int]]:
    """Each defined table's rows, its title (the row above the header) included."""
    found = []
    for name in ws.defined_names:
        ((_, ref),) = list(ws.defined_names[name].destinations)
        _, r1, _, r2 = range_boundaries(ref.replace("$", ""))
        found.append((r1 - 1, r2))
    return found


def test_every_sheet_is_set_for_a4(printed):
    for ws in printed.wb.worksheets:
        setup = ws.page_setup
        assert (int(setup.paperSize), setup.orientation) == (int(ws.PAPERSIZE_A4), "landscape"), (
            ws.title
        )
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), ws.title
        assert ws.print_title_rows == ("$1:$1" if ws.title == SOURCES_SHEET else "$1:$2"), ws.title
        assert ws.print_area, ws.title


def test_no_break_cuts_a_table_or_a_chart_and_charts_stay_inside_the_print_width(printed):
    charts = 0
    for ws in printed.wb.worksheets:
        if ws.title == SOURCES_SHEET:
            continue
        breaks = _breaks(ws)
        (area,) = ws.print_area if isinstance(ws.print_area, list) else [ws.print_area]
        _, _, last_column, _ = range_boundaries(area.split("!")[-1].replace("$", ""))
        width = sum(
            column_points(ws.column_dimensions[get_column_letter(j)].width)
            for j in range(1, last_column + 1)
        )
        blocks = _tables(ws)
        for chart in ws._charts:
            first, last = _chart_rows(ws, chart)
            blocks.append((first, last))
            left = sum(
                column_points(ws.column_dimensions[get_column_letter(j)].width)
                for j in range(1, chart.anchor._from.col + 1)
            )
            assert left + chart.anchor.ext.width / EMU_PER_CM * PT_PER_CM <= width + 1, (
                ws.title,
                chart.anchor._from.col,
            )
            charts += 1
        for first, last in blocks:
            assert not [b for b in breaks if first <= b < last], (ws.title, first, last, breaks)
            # a heading is never the last row of a page: its table follows it
            assert first not in breaks, (ws.title, first)
    assert charts >= 8


def test_the_pdf_pages_are_the_workbooks_pages(printed):
    """Each section sheet prints on exactly the pages its breaks make: LibreOffice placed
    no break of its own, so no table or chart runs over a page; Sources prints one page."""
    per_sheet: dict[str, int] = {}
    for page in printed.pages:
        sheet = _sheet_of(page)
        per_sheet[sheet] = per_sheet.get(sheet, 0) + 1
    sections = [ws for ws in printed.wb.worksheets if ws.title != SOURCES_SHEET]
    assert {ws.title: len(_breaks(ws)) + 1 for ws in sections} == {
        k: v for k, v in per_sheet.items() if k != SOURCES_SHEET
    }
    assert per_sheet[SOURCES_SHEET] == 1
    assert len(printed.pages) <= MAX_PAGES, len(printed.pages)


def test_every_page_starts_with_a_heading_and_charts_print_whole(printed):
    """Seen in the PDF's text: after the repeated title rows, each page of a section starts
    with a table's title or a sentence, never with the rows of a table begun on the page
    before; each chart's title is on the page of its table's title."""
    titles = {
        ws.title: [ws.cell(first, 1).value for first, _ in _tables(ws)]
        for ws in printed.wb.worksheets
        if ws.title != SOURCES_SHEET
    }
    for page in printed.pages:
        sheet = _sheet_of(page)
        if sheet == SOURCES_SHEET:
            continue
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        first = lines[2]  # after the section's name and the title
        wb_sheet = printed.wb[sheet]
        sentences = [c.value for c in wb_sheet["A"] if isinstance(c.value, str)]
        assert any(first.startswith(t[:30]) for t in titles[sheet] + sentences), (sheet, first)
    for ws in printed.wb.worksheets:
        for chart in ws._charts:
            title = "".join(r.t for p in chart.title.tx.rich.p for r in p.r or [])
            pages = [
                i
                for i, page in enumerate(printed.pages)
                if " ".join(title.split()[:3]) in " ".join(page.split())
            ]
            assert pages, title
            # the chart's category labels print on the same page as its title
            _, r1, _, r2 = range_boundaries(
                chart.series[0].cat.strRef.f.split("!")[-1].replace("$", "")
            )
            labels = [ws.cell(r, 1).value for r in range(r1, r2 + 1)]
            assert any(
                all(str(label)[:12] in page for label in labels)
                for page in (printed.pages[i] for i in pages)
            ), title


# --- the HTML page: print and phone styles ----------------------------------------------------


def test_the_page_prints_without_a_title_only_page_and_hints_at_wide_tables(printed):
    page = printed.page.read_text(encoding="utf-8")
    css = page[page.index("<style>") : page.index("</style>")]
    # every section starts a page, except the first: it shares the title's page
    assert "section.report-section { break-before: page; }" in css
    assert "main > section.report-section:first-child { break-before: auto; }" in css
    # phones: a visible line under each wide table says it scrolls; headings wrap
    assert re.search(r"@media \(max-width: 48rem\) \{\s*\.scroll-hint \{ display: block; \}", css)
    assert "overflow-wrap: break-word" in css
    hints = page.count('class="scroll-hint"')
    wide = page.count('class="table-wrap wide-table"')
    assert hints == wide >= 5
    assert "faites-le défiler" in html.unescape(page)


def test_the_page_prints_in_chromium_from_its_first_page(printed, tmp_path):
    """Chromium's print to PDF: the first page holds the title and the first section."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium n'est pas installé (scripts/test-services.sh l'installe)")
    pdf = tmp_path / "page.pdf"
    subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            printed.page.as_uri(),
        ],
        capture_output=True,
        timeout=180,
        check=False,
    )
    first = _pages(pdf)[0]
    assert "Rapport d'activité 2025" in first and "Chiffres clés" in first
