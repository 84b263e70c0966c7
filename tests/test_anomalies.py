"""The fix-list for the staff who enter data (issue 17, point 6): `observatoire anomalies`
and the asset `anomalies_workbook` write `anomalies-S-Y.xlsx` from the warehouse: the
summary per export, every quarantined row sorted record by record, the warnings; no formula,
no personal value."""

from __future__ import annotations

import csv
import html
import re
import zipfile
from pathlib import Path

import dagster as dg
import openpyxl
import pytest

from pipelines.anomalies import (
    DEFAULT_ACTION,
    HEADER_ROW,
    QUARANTINE_HEADERS,
    SUMMARY_HEADERS,
    SUMMARY_SHEET,
    WARNING_ACTION,
    WARNING_HEADERS,
    WARNINGS_SHEET,
    reason_action,
    warning_action,
)
from pipelines.cli import main
from pipelines.config import export_specs
from tests.builders import AIDS, JEUNES_HEADERS, SITUATIONS, write_structure, write_xlsx, young
from tests.conftest import RUN_DATE, query

S, Y = "TST", 2025
EVENT_HEADERS = ["N° dossier", "Date", "Nature du contact", "Statut", "Conseiller"]
AID_HEADERS = [*AIDS, "Objet"]
HYPERLINK = '=HYPERLINK("http://exemple.invalid";"cliquez")'

# The personal values of the input workbooks: none may reach the fix-list.
PEOPLE = {
    "7301001": ("Quintaverde", "Anatolie", "06 12 34 56 71", "anatolie.q@exemple.invalid"),
    "7301002": ("Brugnolette", "Séverin", "06 12 34 56 72", "severin.b@exemple.invalid"),
    "7301003": ("Zorglubienne", "Ermeline", "06 12 34 56 73", "ermeline.z@exemple.invalid"),
    "7301004": ("Pastorelli", "Gédéon", "06 12 34 56 74", "gedeon.p@exemple.invalid"),
}
UNKNOWN_YOUNG = "7309999"
ADVISER = "Mme Bérangère Vollardin"
AID_PURPOSE = "loyer de Mme Quintaverde"
PERSONAL = {
    UNKNOWN_YOUNG,
    ADVISER,
    AID_PURPOSE,
    *(v for young_id, values in PEOPLE.items() for v in (young_id, *values)),
}


def person(young_id: str, **facts: str | None) -> list:
    row = young(young_id, **facts)
    surname, first_name, phone, email = PEOPLE[young_id]
    row[1], row[2], row[12], row[13] = surname, first_name, phone, email
    return row


def as_text(path: Path, sheet: str, value: str) -> None:
    """`value` stored as a text cell, as Excel stores a typed `=…` it was told is text
    (openpyxl would write it as a formula, whose value a reader does not see)."""
    wb = openpyxl.load_workbook(path)
    for row in wb[sheet].iter_rows():
        for cell in row:
            if cell.value == value:
                cell.data_type = "s"
    wb.save(path)


def drop_zone(raw: Path) -> Path:
    """One partition with bad rows of several kinds in four exports (two events files, a CSV
    without sheet) and values counted as `Non renseigné`."""
    write_structure(raw, S)
    d = raw / S / str(Y)
    write_xlsx(
        d / "jeunes.xlsx",
        JEUNES_HEADERS,
        [
            person("7301001"),
            person("7301002", sex="X", level="Bac+12"),  # kept, two warnings
            person("7301003", sex="F"),
            person("7301003", sex="H"),  # conflicting id: both rejected
            person("7301004"),
            [None, "Sansnumero", "Prénom", "F"],  # empty id: rejected
        ],
    )
    write_xlsx(
        d / "evenements-b.xlsx",
        EVENT_HEADERS,
        [
            ["7301001", "03/03/2025", "SMS", None, ADVISER],
            ["7301002", "04/03/2025", HYPERLINK, None, ADVISER],  # unknown type, formula-like
            ["7301003", "05/03/2025", "SMS", None, ADVISER],  # its young person rejected
            ["7301001", "bientôt", "SMS", "Peut-être", ADVISER],  # two faults on one row
        ],
        sheet="Contacts",
    )
    as_text(d / "evenements-b.xlsx", "Contacts", HYPERLINK)
    write_xlsx(
        d / "evenements-a.xlsx",
        EVENT_HEADERS,
        [
            [UNKNOWN_YOUNG, "02/02/2025", "SMS", None, ADVISER],  # unknown young person
            ["7301001", "2024-12-31", "SMS", None, ADVISER],  # outside the year
            ["7301004", "2025-06-01", "Visio: écran", None, ADVISER],  # a colon in the value
        ],
    )
    with open(d / "aides.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(AID_HEADERS)
        writer.writerow(["7301001", "FAJ", "01/03/2025", "-35,50 €", "Versé", AID_PURPOSE])
        writer.writerow(["7301002", "FAJ", "02/03/2025", "@SUM(A1)", "Versé", AID_PURPOSE])
        writer.writerow(["7301004", "FAJ", "03/03/2025", "120", "Versé", AID_PURPOSE])
    write_xlsx(
        d / "situations.xlsx",
        SITUATIONS,
        [
            [
                "7301001",
                "Emploi",
                "CDI",
                "01/03/2025",
                None,
                "Z",
                None,
                None,
                None,
            ],  # Secteur: warn
            ["7301004", "Emploi", "CDD", "01/04/2025", "01/03/2025", None, None, None, None],
        ],
    )
    return raw


def _written(url: str, out: Path, capsys: pytest.CaptureFixture) -> Path:
    status = main(
        ["anomalies", "--structure", S, "--year", str(Y), "--output", str(out), "--warehouse", url]
    )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    path = out / f"anomalies-{S}-{Y}.xlsx"
    assert printed.out.strip() == str(path)
    return path


def _table(ws, width: int) -> list[tuple]:
    """The rows of the table whose header is on HEADER_ROW, up to the first empty row."""
    rows = []
    for row in ws.iter_rows(min_row=HEADER_ROW + 1, max_col=width, values_only=True):
        if all(v is None for v in row):
            break
        rows.append(tuple(row))
    return rows


def _header(ws, width: int) -> list:
    return [c.value for c in ws[HEADER_ROW][:width]]


def _record(file: str, sheet: str | None, row: int, column: str | None, reason: str) -> tuple:
    return (file, sheet or "", row, column or "", reason)


def _texts(path: Path) -> str:
    """Every text the file holds, as Excel reads it (XML parts, entities decoded)."""
    with zipfile.ZipFile(path) as z:
        return "\n".join(
            html.unescape(z.read(n).decode("utf-8"))
            for n in z.namelist()
            if n.endswith((".xml", ".rels"))
        )


@pytest.fixture
def loaded(tmp_path: Path, warehouse_url: str, run) -> tuple[str, object]:
    raw = drop_zone(tmp_path / "raw")
    summary = run(raw, warehouse_url)
    assert not summary.failed, [o.error for o in summary.failed]
    return warehouse_url, summary


def test_the_workbook_is_the_warehouses_quarantine_record_by_record(loaded, tmp_path, capsys):
    url, summary = loaded
    path = _written(url, tmp_path / "out", capsys)
    wb = openpyxl.load_workbook(path)
    quarantine = query(
        url,
        'SELECT export_type, file, sheet, row_number, "column", value, '
        "reason FROM quarantine WHERE structure = :s AND year = :y",
        s=S,
        y=Y,
    )
    files = query(
        url,
        "SELECT export_type, file, rows_read, rows_loaded, rows_rejected "
        "FROM ingested_files WHERE structure = :s AND year = :y",
        s=S,
        y=Y,
    )
    warnings = query(
        url,
        "SELECT export_type, message, rows FROM validation_warnings "
        "WHERE structure = :s AND year = :y",
        s=S,
        y=Y,
    )
    order = list(export_specs())
    label = {name: spec.label for name, spec in export_specs().items()}
    with_rejects = sorted({q["export_type"] for q in quarantine}, key=order.index)
    assert with_rejects == ["jeunes", "evenements", "situations", "aides"]
    assert wb.sheetnames == [SUMMARY_SHEET, *(label[e] for e in with_rejects), WARNINGS_SHEET]

    # the summary: per export, the warehouse's counts
    ws = wb[SUMMARY_SHEET]
    assert _header(ws, len(SUMMARY_HEADERS)) == SUMMARY_HEADERS
    table = _table(ws, len(SUMMARY_HEADERS))
    present = sorted({f["export_type"] for f in files}, key=order.index)
    expected = []
    for e in present:
        mine = [f for f in files if f["export_type"] == e]
        read, loaded_, rejected = (
            sum(f[k] for f in mine) for k in ("rows_read", "rows_loaded", "rows_rejected")
        )
        expected.append(
            (
                label[e],
                len({f["file"] for f in mine}),
                read,
                loaded_,
                rejected,
                read - loaded_ - rejected,
                sum(q["export_type"] == e for q in quarantine),
                sum(w["rows"] for w in warnings if w["export_type"] == e),
            )
        )
    totals = tuple(sum(r[i] for r in expected) for i in range(1, len(SUMMARY_HEADERS)))
    assert table == [*expected, ("Total", *totals)]
    # rows rejected: jeunes 3, events 6, situations 1, aids 2 (the events row with two
    # faults counts once, as a row, and twice among the cells)
    assert totals[3] == 12 and totals[5] == 13
    how_to = [c.value for c in ws["A"] if isinstance(c.value, str) and c.value.startswith("•")]
    assert len(how_to) >= 5 and any("i-milo" in line for line in how_to)

    # each export's sheet: every quarantined cell, file by file, sheet, Excel row
    for export_type in with_rejects:
        ws = wb[label[export_type]]
        assert _header(ws, len(QUARANTINE_HEADERS)) == QUARANTINE_HEADERS
        rows = _table(ws, len(QUARANTINE_HEADERS))
        shown = [(f, s or None, r, c, v, reason) for f, s, r, c, v, reason, _ in rows]
        stored = [
            (q["file"], q["sheet"], q["row_number"], q["column"], q["value"], q["reason"])
            for q in quarantine
            if q["export_type"] == export_type
        ]
        assert sorted(shown, key=lambda x: _record(x[0], x[1], x[2], x[3], x[5])) == shown
        assert sorted(shown, key=str) == sorted(stored, key=str)
        for *_, column, value, reason, action in rows:
            assert action == reason_action(reason, value, column)
            assert action == DEFAULT_ACTION or reason.lower().endswith(action.lower())
    events = _table(wb[label["evenements"]], len(QUARANTINE_HEADERS))
    assert [r[0].split("/")[-1] for r in events] == sorted(r[0].split("/")[-1] for r in events)
    assert events[0][0].endswith("evenements-a.xlsx")  # a before b
    assert {r[3] for r in events} >= {"Nature du contact", "Date", "N° dossier", "Statut"}
    assert all(r[4] is None for r in events if r[3] == "N° dossier")  # the young id: no value
    assert any(r[4] == "Visio: écran" and r[6] != DEFAULT_ACTION for r in events)
    aids = _table(wb[label["aides"]], len(QUARANTINE_HEADERS))
    assert {r[1] for r in aids} == {None}  # a CSV has no sheet

    # the warnings: the validation_warnings table, which holds what the run warned
    ws = wb[WARNINGS_SHEET]
    assert _header(ws, len(WARNING_HEADERS)) == WARNING_HEADERS
    shown = _table(ws, len(WARNING_HEADERS))
    assert sorted((e, m, n) for e, m, n, _ in shown) == sorted(
        (label[w["export_type"]], w["message"], w["rows"]) for w in warnings
    )
    assert [order.index(next(k for k, v in label.items() if v == e)) for e, *_ in shown] == sorted(
        order.index(w["export_type"]) for w in warnings
    )
    assert {w["export_type"] for w in warnings} >= {"jeunes", "situations"}
    assert sum(w["rows"] for w in warnings if w["export_type"] == "jeunes") >= 2  # X, Bac+12
    assert all(a == warning_action(m) for _, m, _, a in shown)
    logged = {w for o in summary.outcomes for w in o.warnings}
    assert {w["message"] for w in warnings} <= logged


def test_no_formula_and_no_personal_value_in_the_workbook(loaded, tmp_path, capsys):
    url, _ = loaded
    path = _written(url, tmp_path / "out", capsys)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<f[ >/]", z.read(name)), f"{name} holds a formula"
    wb = openpyxl.load_workbook(path)
    cells = [
        c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
    ]
    assert all(c.data_type != "f" for c in cells)
    hostile = [c for c in cells if c.value in (HYPERLINK, "@SUM(A1)", "-35,50 €")]
    assert {c.value for c in hostile} == {HYPERLINK, "@SUM(A1)", "-35,50 €"}
    assert all(c.data_type == "s" for c in hostile)
    texts = _texts(path) + "\n".join(str(c.value) for c in cells)
    found = sorted(v for v in PERSONAL if v in texts)
    assert not found, f"personal values in the fix-list: {found}"
    assert "Sansnumero" not in texts


def test_the_asset_writes_the_same_file(tmp_path, duckdb_url, run, capsys):
    from pipelines.definitions import defs
    from pipelines.partitions import partition_key, register_partitions
    from pipelines.resources import default_resources

    raw = drop_zone(tmp_path / "raw")
    run(raw, duckdb_url)
    by_command = _written(duckdb_url, tmp_path / "out", capsys)
    instance = dg.DagsterInstance.ephemeral()
    register_partitions(instance, [(S, Y)])
    result = dg.materialize(
        list(defs.assets),
        selection=dg.AssetSelection.assets("anomalies_workbook"),
        partition_key=partition_key(S, Y),
        instance=instance,
        resources=default_resources(url=duckdb_url, raw_dir=raw, run_date=RUN_DATE),
        run_config={
            "ops": {"anomalies_workbook": {"config": {"out_dir": str(tmp_path / "asset")}}}
        },
    )
    assert result.success
    by_asset = tmp_path / "asset" / f"anomalies-{S}-{Y}.xlsx"

    def values(path: Path) -> dict[str, list[tuple]]:
        wb = openpyxl.load_workbook(path)
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}

    assert values(by_asset) == values(by_command)


def test_loading_a_partition_does_not_write_the_fix_list():
    """The jobs that load a partition are unchanged: the fix-list is made on demand."""
    from pipelines.definitions import defs

    key = dg.AssetKey("anomalies_workbook")
    graph = defs.resolve_asset_graph()
    assert graph.get(key).parent_keys == {dg.AssetKey("quarantine"), dg.AssetKey("ingested_files")}
    loading = [defs.resolve_job_def(job.name) for job in defs.jobs or []]
    loading = [
        job for job in loading if dg.AssetKey("report") in job.asset_layer.selected_asset_keys
    ]
    assert loading
    assert all(key not in job.asset_layer.selected_asset_keys for job in loading)


def test_a_partition_never_loaded_is_told_in_french(tmp_path, duckdb_url, run, capsys):
    out = tmp_path / "out"
    status = main(
        [
            "anomalies",
            "--structure",
            S,
            "--year",
            str(Y),
            "--output",
            str(out),
            "--warehouse",
            duckdb_url,
        ]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert "pas d'entrepôt à" in err and "observatoire run" in err
    run(drop_zone(tmp_path / "raw"), duckdb_url)
    status = main(
        [
            "anomalies",
            "--structure",
            S,
            "--year",
            "2024",
            "--output",
            str(out),
            "--warehouse",
            duckdb_url,
        ]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert f"{S} 2024 n'a jamais été chargé dans l'entrepôt (partitions chargées : {S} {Y})" in err
    assert f"observatoire run --structure {S} --year 2024" in err
    assert not out.exists()


def test_what_to_do_is_the_reasons_action_part():
    reason = (
        "Jeune absent des lignes valides de l'export jeunes de 2025 (colonne N° dossier, "
        "valeur non reproduite : donnée personnelle) : ajoutez le jeune à l'export "
        "jeunes, puis relancez"
    )
    assert (
        reason_action(reason, None, "N° dossier")
        == "Ajoutez le jeune à l'export jeunes, puis relancez"
    )
    assert (
        reason_action(
            "Date « 12 : 30 » illisible (colonne Date : heure) : corrigez-la",
            "12 : 30",
            "Date : heure",
        )
        == "Corrigez-la"
    )
    assert (
        reason_action("unknown type 'Visio: x' in column Type: add it", "Visio: x", "Type")
        == "Add it"
    )
    assert reason_action("une phrase sans consigne") == DEFAULT_ACTION
    assert (
        warning_action(
            "jeunes, Sexe : valeur « X : Y » inconnue, comptée comme Non "
            "renseigné (3 lignes) : ajoutez-la comme alias"
        )
        == "Ajoutez-la comme alias"
    )
    assert warning_action("jeunes, Date de premier accueil : vide sur 3 lignes") == WARNING_ACTION
