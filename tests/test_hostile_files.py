"""Hostile files and an untidy drop zone (issue 13, points 2, 6 and 7), on real files and
real processes.

- A workbook that would make calamine ask for hundreds of GiB (a value in XFD1048576, a
  forged `uniqueCount`, a .xls DIMENSIONS record, a zip part lying about its size) fails
  its own partition with a message naming the file; the other partitions run, the summary
  prints, the process exits 1 (not 134). What costs nothing (a declared dimension, empty
  formatted cells far away) is read.
- FIFOs, sockets, links out of raw/ are skipped with a warning and never block; odd folders
  are reported by `drop_zone_warnings`.
- The sha256 and size recorded for a file are those of the bytes parsed, even while the
  file is being replaced.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlwt

from pipelines.partitions import discover_partitions, drop_zone_warnings
from pipelines.read import list_export_files, read_export_file
from pipelines.sensors import scan_drop_zone
from pipelines.staging import stage_partition
from tests.builders import JEUNES_HEADERS, write_structure, write_xlsx, young
from tests.conftest import RUN_DATE, query

ROOT = Path(__file__).resolve().parent.parent
OBSERVATOIRE = ROOT / ".venv" / "bin" / "observatoire"
KEY = "test-key-for-hostile-files-0123456789abcdef"
ROWS = [young("1001"), young("1002", sex="H"), young("1003")]


# --- hostile workbooks, built for real ---------------------------------------------------------


def _workbook(extra=None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Export"
    ws.append(JEUNES_HEADERS)
    for row in ROWS:
        ws.append(row)
    if extra:
        extra(ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _rewrite(data: bytes, change, parts: str = "xl/worksheets/sheet") -> bytes:
    """A copy of the workbook with the parts whose name starts with `parts` changed."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            dst.writestr(
                info.filename, change(content) if info.filename.startswith(parts) else content
            )
    return out.getvalue()


def _with_shared_strings(unique: int) -> bytes:
    """The workbook with its text in a shared-strings part declaring `uniqueCount`."""
    data = _workbook()
    src = zipfile.ZipFile(io.BytesIO(data))
    sheet = src.read("xl/worksheets/sheet1.xml")
    strings: list[bytes] = []

    def shared(m: re.Match) -> bytes:
        strings.append(m.group(2))
        return m.group(1) + b' t="s"><v>' + str(len(strings) - 1).encode() + b"</v></c>"

    sheet = re.sub(
        rb'(<c r="[A-Z]+[0-9]+")(?: s="\d+")? t="inlineStr"><is><t>(.*?)</t></is></c>',
        shared,
        sheet,
    )
    sst = (
        b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
        % (len(strings), unique)
        + b"".join(b"<si><t>" + s + b"</t></si>" for s in strings)
        + b"</sst>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = sheet
            elif info.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(
                    b"</Relationships>",
                    (
                        b'<Relationship Id="rIdSst" Type="http://schemas.openxmlformats.org/'
                        b'officeDocument/2006/relationships/sharedStrings" '
                        b'Target="sharedStrings.xml"/></Relationships>'
                    ),
                )
            elif info.filename == "[Content_Types].xml":
                content = content.replace(
                    b"</Types>",
                    (
                        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                        b"</Types>"
                    ),
                )
            dst.writestr(info.filename, content)
        dst.writestr("xl/sharedStrings.xml", sst)
    assert strings, "the workbook's text was not moved to shared strings"
    return out.getvalue()


def _far_value() -> bytes:
    """The issue's file: one value in XFD1048576 (calamine: a 2^34-cell grid, ≈512 GiB)."""
    return _workbook(lambda ws: ws.cell(row=1048576, column=16384, value="x"))


def _lying_size() -> bytes:
    """A sheet part that decompresses to more than its declared size (a zip bomb's trick)."""
    data = bytearray(_workbook())
    zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = zf.getinfo("xl/worksheets/sheet1.xml")
    central = bytes(data).rfind(b"PK\x01\x02", 0, len(data))
    while central >= 0:  # find the part's central directory entry; halve its declared size
        (name_len,) = struct.unpack_from("<H", data, central + 28)
        if data[central + 46 : central + 46 + name_len] == info.filename.encode():
            struct.pack_into("<I", data, central + 24, info.file_size // 2)
            break
        central = bytes(data).rfind(b"PK\x01\x02", 0, central)
    return bytes(data)


def _xls(
    dimensions: tuple[int, int, int, int] | None = None, far_cell: tuple[int, int] | None = None
) -> bytes:
    """A real .xls (xlwt) with its DIMENSIONS record or its last cell's position forged."""
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Export")
    for i, row in enumerate([JEUNES_HEADERS, *ROWS]):
        for j, value in enumerate(row):
            if value is not None:
                ws.write(i, j, value)
    out = io.BytesIO()
    wb.save(out)
    data = bytearray(out.getvalue())
    if dimensions:
        at = bytes(data).find(b"\x00\x02\x0e\x00")  # DIMENSIONS, 14 bytes
        struct.pack_into("<IIHH", data, at + 4, *dimensions)
    if far_cell:
        at = bytes(data).rfind(b"\xfd\x00\x0a\x00")  # the last LABELSST record
        struct.pack_into("<HH", data, at + 4, *far_cell)
    return bytes(data)


HOSTILE = {  # name -> (bytes, read (True) or refused with this in the message)
    "dimension_xfd.xlsx": (
        lambda: _rewrite(
            _workbook(),
            lambda c: c.replace(b'<dimension ref="A1:N4"/>', b'<dimension ref="A1:XFD1048576"/>'),
        ),
        True,
    ),
    "formatted_far.xlsx": (
        lambda: _rewrite(
            _workbook(),
            lambda c: c.replace(
                b"</sheetData>",
                b'<row r="1048576" s="1" customFormat="1">'
                b'<c r="XFD1048576" s="1"/></row></sheetData>',
            ),
        ),
        True,
    ),
    "unique_count.xlsx": (lambda: _with_shared_strings(4_000_000_000), True),
    "far_value.xlsx": (_far_value, "XFD1048576"),
    "far_value_small_dimension.xlsx": (
        lambda: _rewrite(
            _far_value(),
            lambda c: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:N4"/>', c),
        ),
        "XFD1048576",
    ),
    "far_value_unprefixed_r.xlsx": (
        lambda: _rewrite(
            _far_value(),
            lambda c: c.replace(b'<c r="XFD1048576"', b'<c\tt="inlineStr" r="XFD1048576"').replace(
                b't="inlineStr" r="XFD1048576" t="inlineStr"', b't="inlineStr" r="XFD1048576"'
            ),
        ),
        "XFD1048576",
    ),
    "lying_size.xlsx": (_lying_size, "bombe zip"),
    "ok.xls": (lambda: _xls(), True),
    "dimensions.xls": (lambda: _xls(dimensions=(0, 1 << 31, 0, 65535)), "DIMENSIONS"),
    "far_cell.xls": (lambda: _xls(far_cell=(65535, 65535)), "cellule remplie"),
}

_READ_ONE = """
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # a runaway read fails fast
from pipelines.read import UnreadableFileError, read_export_file
try:
    result = read_export_file(Path(sys.argv[1]), Path(sys.argv[2]))
    print("READ", sum(s.rows_read for s in result.sheets))
except UnreadableFileError as exc:
    print("REFUSED", exc)
print("MAXRSS_MIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_workbook_read_or_refused_in_bounded_memory(tmp_path: Path, name: str) -> None:
    """Each workbook read in its own process (so a regression aborts that process, not the
    suite): what costs nothing is read, the rest refused naming the file and the cause."""
    make, expected = HOSTILE[name]
    raw = tmp_path / "raw"
    path = raw / "TST" / "2025" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(make())
    done = subprocess.run(
        [sys.executable, "-c", _READ_ONE, str(path), str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    out = done.stdout
    if expected is True:
        assert "READ 3" in out, out
    else:
        assert "REFUSED" in out and f"TST/2025/{name}" in out and expected in out, out
    assert int(out.split("MAXRSS_MIB")[1]) < 1024, out  # nothing near the grid it declares


# --- through the command line: one bad file fails one partition -------------------------------


def _run_cli(raw: Path, tmp_path: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "WAREHOUSE_PSEUDONYM_KEY": KEY, "OBSERVATOIRE_AUTOMATION": "off"}
    env.pop("WAREHOUSE_URL", None)
    return subprocess.run(
        [
            str(OBSERVATOIRE),
            "run",
            "--raw",
            str(raw),
            "--warehouse",
            f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}",
            "--no-history",
            "--run-date",
            RUN_DATE,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _clean_partition(raw: Path, code: str) -> None:
    write_structure(raw, code)
    write_xlsx(raw / code / "2025" / "jeunes.xlsx", JEUNES_HEADERS, ROWS)


def test_far_value_fails_its_partition_only(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _clean_partition(raw, "AAA")
    _clean_partition(raw, "TST")
    (raw / "TST" / "2025" / "far.xlsx").write_bytes(_far_value())
    (tmp_path / "wh").mkdir()
    done = _run_cli(raw, tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 1, (done.returncode, out[-3000:])  # not 134 (abort)
    assert "Résumé" in out and "1 terminée(s), 1 en échec" in out, out[-3000:]
    failed = next(line for line in out.splitlines() if line.strip().startswith("ÉCHEC TST 2025"))
    assert "TST/2025/far.xlsx" in failed and "XFD1048576" in failed, failed
    loaded = query(
        f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}",
        "SELECT structure, sum(rows_loaded) AS n FROM ingested_files GROUP BY 1",
    )
    assert loaded == [{"structure": "AAA", "n": 3}]


# --- the drop zone as it is ---------------------------------------------------------------------


def _within(seconds: float, fn, *args):
    """fn(*args) in a thread; fails the test if it has not returned after `seconds` (a FIFO
    opened for reading blocks until a writer comes: the thread is left behind, daemon)."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn.__name__} still blocked after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture
def untidy(tmp_path: Path) -> Path:
    """TST/2025 with a good export, a FIFO named evenements.csv, a socket, a link to
    /etc/passwd, a link to an export outside raw/ and a link to a file inside raw/; odd
    folders beside."""
    raw = tmp_path / "raw"
    _clean_partition(raw, "TST")
    year = raw / "TST" / "2025"
    os.mkfifo(year / "evenements.csv")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(year / "aides.csv"))
    outside = tmp_path / "elsewhere"
    write_xlsx(outside / "propositions.xlsx", JEUNES_HEADERS, ROWS)
    (year / "passwd.csv").symlink_to("/etc/passwd")
    (year / "dehors.xlsx").symlink_to(outside / "propositions.xlsx")
    (raw / "archives").mkdir()
    write_xlsx(raw / "archives" / "jeunes-copie.xlsx", JEUNES_HEADERS, ROWS)
    (year / "lien-interne.xlsx").symlink_to(raw / "archives" / "jeunes-copie.xlsx")
    (raw / "ML Nord" / "2025").mkdir(parents=True)
    (raw / "TST" / "2025 bis").mkdir()
    (raw / "TST" / "2024").symlink_to(outside, target_is_directory=True)
    yield raw
    server.close()


def test_list_export_files_skips_fifo_socket_and_links_out(untidy: Path) -> None:
    year = untidy / "TST" / "2025"
    files, warnings = _within(5, list_export_files, year, untidy)
    assert [p.name for p in files] == ["jeunes.xlsx", "lien-interne.xlsx"]
    said = "\n".join(warnings)
    for name in ["evenements.csv", "aides.csv", "passwd.csv", "dehors.xlsx"]:
        assert f"TST/2025/{name} : ignoré" in said, (name, said)
    assert "FIFO" in said and "socket" in said and "hors de raw/" in said


def test_sensor_scan_never_blocks_on_a_fifo(untidy: Path) -> None:
    found = discover_partitions(untidy)
    assert found == [("TST", 2025)]  # TST/2024 leads out of raw/: not followed
    files, unsettled = _within(5, scan_drop_zone, untidy, found)
    assert sorted(files) == ["TST/2025/jeunes.xlsx", "TST/2025/lien-interne.xlsx"]
    assert not unsettled


def test_stage_reads_a_link_inside_raw_under_its_own_name(untidy: Path) -> None:
    staged = _within(
        30,
        stage_partition,
        untidy / "TST" / "2025",
        untidy,
        "TST",
        2025,
        pd.Timestamp("2026-01-06"),
    )
    assert sorted(staged.files["file"]) == ["TST/2025/jeunes.xlsx", "TST/2025/lien-interne.xlsx"]
    assert any("passwd.csv" in w and "hors de raw/" in w for w in staged.warnings)


def test_a_link_named_directly_is_refused_when_it_leads_out(untidy: Path) -> None:
    from pipelines.read import UnreadableFileError

    with pytest.raises(UnreadableFileError, match=r"TST/2025/passwd\.csv.*hors de raw/"):
        read_export_file(untidy / "TST" / "2025" / "passwd.csv", untidy)
    with pytest.raises(UnreadableFileError, match=r"TST/2025/evenements\.csv.*FIFO"):
        _within(5, read_export_file, untidy / "TST" / "2025" / "evenements.csv", untidy)


def test_drop_zone_warnings_name_odd_folders_and_links(untidy: Path) -> None:
    warnings = _within(5, drop_zone_warnings, untidy)
    said = "\n".join(warnings)
    assert any(w.startswith("ML Nord/") and "renommez" in w for w in warnings), said
    assert any(w.startswith("TST/2025 bis/") and "quatre chiffres" in w for w in warnings), said
    assert any(w.startswith("TST/2024/") and "hors de raw/" in w for w in warnings), said
    assert any(w.startswith("archives/") and "structure.yaml" in w for w in warnings), said
    assert not any(w.startswith("TST/2025/") for w in warnings), said


def test_run_with_fifo_and_links_finishes(untidy: Path, tmp_path: Path) -> None:
    (tmp_path / "wh").mkdir()
    done = _run_cli(untidy, tmp_path, timeout=240)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "1 terminée(s), 0 en échec" in out
    assert "evenements.csv" in out and "passwd.csv" in out
    files = query(
        f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}",
        "SELECT file FROM ingested_files ORDER BY file",
    )
    assert [f["file"] for f in files] == ["TST/2025/jeunes.xlsx", "TST/2025/lien-interne.xlsx"]


# --- one identity per file ---------------------------------------------------------------------


def test_sha256_and_size_are_those_of_the_rows_loaded(tmp_path: Path) -> None:
    """A thread replaces the file (atomic rename) over and over while the partition is
    staged: each time, the recorded sha256 and size are those of the version whose rows
    were read (the two versions differ in row count)."""
    raw = tmp_path / "raw"
    write_structure(raw)
    year = raw / "TST" / "2025"
    year.mkdir(parents=True)
    header = ";".join(JEUNES_HEADERS)

    def version(n: int) -> bytes:
        lines = [header] + [
            ";".join(str(v or "") for v in young(str(10_000 + i))) for i in range(n)
        ]
        return ("\n".join(lines) + "\n").encode()

    versions = {3000: version(3000), 3500: version(3500)}
    identity = {n: (hashlib.sha256(b).hexdigest(), len(b)) for n, b in versions.items()}
    target = year / "jeunes.csv"
    target.write_bytes(versions[3000])
    stop = threading.Event()

    def replace_forever() -> None:
        i = 0
        while not stop.is_set():
            tmp = year / f".tmp-{i % 2}"
            tmp.write_bytes(versions[3500 if i % 2 else 3000])
            os.replace(tmp, target)
            i += 1
            time.sleep(0.001)

    thread = threading.Thread(target=replace_forever, daemon=True)
    thread.start()
    mismatches, seen = 0, set()
    try:
        for _ in range(25):
            staged = stage_partition(year, raw, "TST", 2025, pd.Timestamp("2026-01-06"))
            rows = len(staged.tables["jeunes"])
            row = staged.files.iloc[0]
            seen.add(rows)
            if (row["sha256"], row["size_bytes"]) != identity[rows]:
                mismatches += 1
    finally:
        stop.set()
        thread.join()
    assert mismatches == 0, f"{mismatches} of 25 stagings recorded another version's identity"
    assert seen == {3000, 3500}, seen  # both versions were staged: the race was real
