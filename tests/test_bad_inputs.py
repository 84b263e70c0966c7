"""Bad inputs through the real pipeline (the Dagster assets, in-process).

exports.md, *What bad input gets*: nothing is lost and nothing is silently dropped. Each test
writes its own drop zone, runs the pipeline and checks what the user gets:
- an unreadable file fails its partition with a message naming the file, the cause and what
  to do, and the warehouse keeps the partition's last good state;
- a readable file loads its good rows; each bad row is in `quarantine` with its file, sheet,
  row number, column and a reason saying what to do;
- for every file and type of `ingested_files`, rows_read = rows_loaded + rows_rejected +
  rows merged as repeats, checked against the rows actually present in staging, in the
  conformed tables and in quarantine (`accounted`).

What the user sees for each of these inputs, and what to do: docs/bad-inputs.md.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import dagster as dg
import openpyxl
import pytest
import xlwt

from pipelines.runner import run_partitions
from tests.builders import JEUNES_HEADERS, write_structure, write_xlsx, young
from tests.conftest import RUN_DATE, query

S, Y = "TST", 2025
EVENT_HEADERS = [
    "Identifiant événement",
    "N° dossier",
    "Date",
    "Nature du contact",
    "Statut",
    "Lieu",
    "Conseiller",
]
AID_HEADERS = [
    "Référence de l'aide",
    "Identifiant jeune",
    "Type d'aide",
    "Date",
    "Montant",
    "Statut",
]
BASE_YOUNG = [
    young("1001"),
    young("1002", sex="H", commune="La Madeleine", level="CAP"),
    young("1003", commune="Marcq-en-Barœul", first="03/03/2024"),
]
BASE_EVENTS = [
    ["E1", "1001", "03/02/2025", "Entretien individuel", None, "Siège", "Mme A"],
    ["E2", "1001", "10/03/2025", "SMS", None, None, "Mme A"],
    ["E3", "1002", "2025-04-01", "Atelier", "Présent", "Antenne", "M. B"],
    ["E4", "1003", "05/05/2025", "Téléphone", "Absent", None, "M. B"],  # not a contact
]
BASE_AIDS = [
    ["A-1", "1001", "FAJ", "01/03/2025", "150", "Payé"],
    ["A-2", "1002", "Allocation CEJ", "2025-04-01", "1 234,56 €", None],
]
BASE_CONTACTS = 3


def year_dir(raw: Path) -> Path:
    return raw / S / str(Y)


def base_zone(raw: Path) -> Path:
    """A small clean partition TST/2025: three young people, four events, two aids."""
    write_structure(raw)
    d = year_dir(raw)
    write_xlsx(
        d / "jeunes.xlsx",
        JEUNES_HEADERS,
        BASE_YOUNG,
        title_lines=["Extraction du 06/01/2026 – ML TST", ""],
        total_line=True,
    )
    write_xlsx(d / "evenements.xlsx", EVENT_HEADERS, BASE_EVENTS)
    write_xlsx(d / "aides.xlsx", AID_HEADERS, BASE_AIDS)
    return raw


def _run(raw: Path, url: str, instance: dg.DagsterInstance | None = None):
    return run_partitions(
        raw_dir=raw,
        url=url,
        run_date=RUN_DATE,
        instance=instance or dg.DagsterInstance.ephemeral(),
        progress=lambda _msg: None,
    )


@pytest.fixture(scope="module")
def _baseline_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base partition loaded once into a DuckDB file; tests work on copies."""
    root = tmp_path_factory.mktemp("baseline")
    raw = base_zone(root / "raw")
    summary = _run(raw, f"duckdb:///{root / 'warehouse.duckdb'}")
    assert not summary.failed, summary.failed
    return root


@pytest.fixture
def baseline(_baseline_template: Path, tmp_path: Path) -> tuple[Path, str]:
    """(raw dir, DuckDB url) of the base partition, already loaded (a fresh copy)."""
    shutil.copytree(_baseline_template, tmp_path, dirs_exist_ok=True)  # raw/, the DuckDB file(s)
    return tmp_path / "raw", f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


def loaded_zone(raw: Path, url: str) -> None:
    base_zone(raw)
    summary = _run(raw, url)
    assert not summary.failed, summary.failed


# --- what every test checks ---------------------------------------------------------------------


def _one(url: str, sql: str, **params) -> int:
    return int(next(iter(query(url, sql, **params)[0].values())))


ANY = object()


def accounted(
    url: str, merged: dict[str, int] | object | None = None
) -> dict[tuple[str, str], tuple]:
    """Nothing silently dropped: for each file and type of ingested_files,
    rows_read = rows_loaded + rows_rejected + merged, each figure checked against the rows
    present (staging, conformed table, distinct file/sheet/row of quarantine); every
    quarantine row belongs to a file of ingested_files. `merged` is the number of rows merged
    as repeats expected per file name (default: none; ANY: not checked).

    Returns (file name, export type) -> (read, loaded, rejected, merged)."""
    p = {"s": S, "y": Y}
    files = query(
        url,
        "SELECT file, export_type, rows_read, rows_loaded, rows_rejected "
        "FROM ingested_files WHERE structure = :s AND year = :y",
        **p,
    )
    out: dict[tuple[str, str], tuple] = {}
    for f in files:
        t, name = f["export_type"], f["file"]
        fp = {**p, "f": name, "t": t}
        staged = _one(
            url,
            f"SELECT count(*) FROM staging.{t} WHERE structure = :s AND "
            f"year = :y AND source_file = :f",
            **fp,
        )
        loaded = _one(
            url,
            f"SELECT count(*) FROM conformed.{t} WHERE structure = :s AND "
            f"year = :y AND source_file = :f",
            **fp,
        )
        rejected = _one(
            url,
            "SELECT count(*) FROM (SELECT DISTINCT sheet, row_number "
            "FROM quarantine WHERE structure = :s AND year = :y AND file = :f "
            "AND export_type = :t) q",
            **fp,
        )
        assert (f["rows_read"], f["rows_loaded"], f["rows_rejected"]) == (
            staged,
            loaded,
            rejected,
        ), name
        repeats = staged - loaded - rejected
        assert repeats >= 0, name
        out[(name.rsplit("/", 1)[-1], t)] = (staged, loaded, rejected, repeats)
    known = {(f["file"], f["export_type"]) for f in files}
    in_quarantine = {
        (q["file"], q["export_type"])
        for q in query(
            url,
            "SELECT DISTINCT file, export_type FROM quarantine WHERE structure = :s AND year = :y",
            **p,
        )
    }
    assert in_quarantine <= known, in_quarantine - known
    found = {}
    for (name, _), counts in out.items():
        if counts[3]:
            found[name] = found.get(name, 0) + counts[3]
    if merged is not ANY:
        assert found == (merged or {})
    return out


def snapshot(url: str) -> dict[str, list]:
    """Everything a partition's run writes (timestamps aside)."""
    p = {"s": S, "y": Y}
    where = "WHERE structure = :s AND year = :y"
    snap = {
        "values": query(
            url,
            f"SELECT indicator, commune_insee, dimension_1, category_1, "
            f"dimension_2, category_2, value FROM indicator_values {where} "
            f"ORDER BY 1, 2, 3, 4, 5, 6",
            **p,
        ),
        "files": query(
            url,
            f"SELECT file, sha256, export_type, rows_read, rows_loaded, "
            f"rows_rejected FROM ingested_files {where} ORDER BY 1, 3",
            **p,
        ),
        "quarantine": query(
            url,
            f'SELECT file, sheet, row_number, "column", reason '
            f"FROM quarantine {where} ORDER BY 1, 2, 3, 4, 5",
            **p,
        ),
    }
    for t in ("jeunes", "evenements", "aides"):
        for layer in ("staging", "conformed"):
            snap[f"{layer}.{t}"] = query(
                url, f"SELECT source_file, source_row FROM {layer}.{t} {where} ORDER BY 1, 2", **p
            )
    return snap


def contacts(url: str) -> int:
    return _one(
        url,
        "SELECT value FROM indicator_values WHERE structure = :s AND year = :y "
        "AND indicator = 'contacts' AND commune_insee IS NULL "
        "AND dimension_1 IS NULL",
        s=S,
        y=Y,
    )


def quarantine(url: str, file: str | None = None) -> list[dict]:
    rows = query(
        url,
        'SELECT file, sheet, row_number, export_type, "column", value, reason '
        "FROM quarantine WHERE structure = :s AND year = :y "
        'ORDER BY file, row_number, "column"',
        s=S,
        y=Y,
    )
    return [r for r in rows if file is None or r["file"] == f"{S}/{Y}/{file}"]


def assert_refused(raw: Path, url: str, name: str, *fragments: str) -> str:
    """The run fails on `name` with a message naming it and holding `fragments`, and the
    partition keeps its last good state (even though another file changed meanwhile)."""
    before = snapshot(url)
    # a re-export that would change the figures, next to the bad file: not loaded either
    write_xlsx(year_dir(raw) / "evenements.xlsx", EVENT_HEADERS, BASE_EVENTS[:1])
    summary = _run(raw, url)
    assert len(summary.failed) == 1, summary.outcomes
    error = summary.failed[0].error
    assert error.startswith(f"{S}/{Y}/{name} : "), error
    for fragment in fragments:
        assert fragment in error, (fragment, error)
    assert snapshot(url) == before
    accounted(url)
    return error


def warnings_of(instance: dg.DagsterInstance) -> list[str]:
    """The reader's warnings of the last run (metadata of the staging asset)."""
    records = instance.fetch_materializations(dg.AssetKey(["staging", "exports"]), limit=1).records
    return list(records[0].asset_materialization.metadata["avertissements"].value)


def with_cached_values(path: Path, cells: dict[str, tuple[str, str | None]]) -> Path:
    """Give formula cells written by openpyxl the cached value Excel would store:
    cell -> (value, cell type: None for a number, 'str' for text, 'e' for an error)."""
    patched = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                xml = data.decode()
                for ref, (value, kind) in cells.items():
                    attrs = f' t="{kind}"' if kind else ""
                    xml, n = re.subn(
                        rf'<c r="{ref}"[^>]*><f>(.*?)</f><v\s*/>',
                        rf'<c r="{ref}"{attrs}><f>\1</f><v>{value}</v>',
                        xml,
                    )
                    assert n == 1, ref
                data = xml.encode()
            dst.writestr(item, data)
    patched.replace(path)
    return path


# --- unreadable files: the partition fails, its last good state stays ---------------------------


def test_empty_file(warehouse_url: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    loaded_zone(raw, warehouse_url)
    (year_dir(raw) / "vide.xlsx").write_bytes(b"")
    assert_refused(
        raw,
        warehouse_url,
        "vide.xlsx",
        "le fichier est vide (0 octet)",
        "extrayez-le de nouveau depuis i-milo, ou retirez-le du dossier",
    )
    # once the empty file is removed, the next run loads the re-export
    (year_dir(raw) / "vide.xlsx").unlink()
    assert not _run(raw, warehouse_url).failed
    assert contacts(warehouse_url) == 1
    accounted(warehouse_url)


@pytest.mark.parametrize("damage", ["truncated", "corrupt sheet"])
def test_corrupt_or_truncated_xlsx(baseline, damage: str) -> None:
    raw, url = baseline
    good = write_xlsx(year_dir(raw) / "tmp.xlsx", EVENT_HEADERS, BASE_EVENTS * 50)
    bad = year_dir(raw) / "evenements-mars.xlsx"
    if damage == "truncated":  # a download cut short
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:  # a valid zip whose sheet is not XML any more
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename == "xl/worksheets/sheet1.xml":
                    data = data[: len(data) // 2] + b"\x00garbage<<<"
                dst.writestr(item, data)
    good.unlink()
    assert_refused(
        raw,
        url,
        "evenements-mars.xlsx",
        "endommagé",
        "ouvrez-le dans Excel et enregistrez-le de nouveau",
    )


def _encrypted_workbook(path: Path, plain: Path) -> None:
    """A password-protected workbook as Excel writes it (an OLE2 file holding an
    EncryptedPackage stream), made with msoffcrypto-tool; without that tool, an OLE2
    container holding the stream's name (what the reader detects)."""
    try:
        from msoffcrypto.format.ooxml import OOXMLFile
    except ImportError:
        body = b"\x00" * 512 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512
        path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + body)
        return
    with plain.open("rb") as source, path.open("wb") as out:
        OOXMLFile(source).encrypt("secret", out)


def test_password_protected_workbook(baseline) -> None:
    raw, url = baseline
    plain = write_xlsx(raw.parent / "plain.xlsx", EVENT_HEADERS, BASE_EVENTS)
    path = year_dir(raw) / "evenements-protégé.xlsx"
    _encrypted_workbook(path, plain)
    assert path.read_bytes()[:8] == bytes.fromhex("D0CF11E0A1B11AE1")
    assert_refused(
        raw,
        url,
        "evenements-protégé.xlsx",
        "protégé par mot de passe",
        "enregistrez-le sans mot de passe",
        "puis relancez",
    )


def test_header_matching_no_type(baseline) -> None:
    raw, url = baseline
    write_xlsx(
        year_dir(raw) / "contacts.xlsx",
        ["Nom", "Prénom", "Téléphone", "Adresse"],
        [["X", "Y", "06", "rue"]],
    )
    assert_refused(
        raw,
        url,
        "contacts.xlsx",
        "aucune feuille n'a de ligne d'en-tête reconnue comme un type d'export",
        "feuille « Export », ligne 1 : le type le plus proche est « Événements » "
        "(evenements), auquel il manque les colonnes obligatoires « Identifiant "
        "jeune », « Date de l'événement », « Type d'événement »",
        "ajoutez les en-têtes qu'il emploie comme alias dans config/exports.yaml",
    )


def test_header_tied_between_two_types(baseline) -> None:
    raw, url = baseline
    # events: young id, Date, Type, Thème (4 columns); propositions: young id, Date, Thème,
    # Identifiant proposition (4 columns)
    write_xlsx(
        year_dir(raw) / "suivi.xlsx",
        ["Identifiant jeune", "Date", "Type", "Thème", "Identifiant proposition"],
        [["1001", "03/02/2025", "SMS", "Emploi", "P1"]],
        title_lines=["Suivi"],
    )
    assert_refused(
        raw,
        url,
        "suivi.xlsx",
        "feuille « Export », ligne 2",
        "correspond autant à plusieurs types d'export",
        "« Événements » (evenements), « Propositions » (propositions)",
        "supprimez ou renommez les colonnes ambiguës",
    )


def test_required_column_missing(baseline) -> None:
    raw, url = baseline
    # an events export whose "Type d'événement" column was removed
    write_xlsx(
        year_dir(raw) / "evenements-avril.xlsx",
        ["N° dossier", "Date de l'événement", "Lieu", "Conseiller"],
        [["1001", "03/04/2025", "Siège", "Mme A"]],
    )
    assert_refused(
        raw,
        url,
        "evenements-avril.xlsx",
        "le type le plus proche est « Événements » (evenements)",
        "auquel il manque la colonne obligatoire « Type d'événement »",
        "ajoutez les en-têtes qu'il emploie comme alias dans config/exports.yaml",
    )


# --- readable files: good rows kept, bad rows in quarantine -------------------------------------


def test_xls_old_format_is_loaded(baseline) -> None:
    raw, url = baseline
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Evenements")
    ws.write(0, 0, "Extraction i-milo du 06/01/2026")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for j, h in enumerate(["Identifiant événement", "N° dossier", "Date", "Type"]):
        ws.write(2, j, h)
    rows = [
        ["X1", 1001, dt.date(2025, 6, 2), "SMS"],  # id as a number cell
        ["X2", "1002", "03/06/2025", "Mail"],  # date as text
        ["X3", 1003.0, 45810, "Entretien"],  # date as a serial number
        ["X4", "1003", dt.date(2024, 6, 2), "SMS"],
    ]  # outside the year
    for i, row in enumerate(rows, start=3):
        for j, value in enumerate(row):
            if isinstance(value, dt.date):
                ws.write(i, j, value, date_style)
            else:
                ws.write(i, j, value)
    wb.save(str(year_dir(raw) / "evenements-2025.xls"))
    assert not _run(raw, url).failed
    assert query(
        url,
        "SELECT event_id, event_date FROM conformed.evenements "
        "WHERE source_file LIKE '%.xls' ORDER BY source_row",
    ) == [
        {"event_id": "X1", "event_date": dt.date(2025, 6, 2)},
        {"event_id": "X2", "event_date": dt.date(2025, 6, 3)},
        {"event_id": "X3", "event_date": dt.date(2025, 6, 2)},
    ]
    [bad] = quarantine(url, "evenements-2025.xls")
    assert (bad["sheet"], bad["row_number"], bad["column"]) == ("Evenements", 7, "Date")
    assert "hors de l'année 2025" in bad["reason"]
    assert contacts(url) == BASE_CONTACTS + 3
    accounted(url)


def test_file_of_another_year_in_the_wrong_folder(baseline) -> None:
    raw, url = baseline
    rows = [[f"V{i}", "1001", f"{i:02d}/0{i}/2024", "SMS", None, None, "x"] for i in range(1, 6)]
    write_xlsx(year_dir(raw) / "evenements-2024.xlsx", EVENT_HEADERS, rows)
    situations = [
        ["1001", "Emploi", "CDD", "01/02/2024", "30/06/2024"],
        ["1002", "Emploi", "CDI", "01/09/2024", None],
    ]  # still running: kept
    write_xlsx(
        year_dir(raw) / "situations-2024.xlsx",
        ["Identifiant jeune", "Catégorie", "Nature", "Date de début", "Date de fin"],
        situations,
    )
    assert not _run(raw, url).failed
    rejected = quarantine(url, "evenements-2024.xlsx")
    assert [r["row_number"] for r in rejected] == [2, 3, 4, 5, 6]
    for r in rejected:
        assert r["column"] == "Date" and r["value"].endswith("/2024")
        assert r["reason"] == (
            f"Date « {r['value']} » hors de l'année 2025 (colonne Date) : "
            "la ligne relève du dossier d'une autre année "
            "(raw/<STRUCTURE>/<ANNÉE>/) ; si la date est fausse, "
            "corrigez-la dans i-milo"
        )
    [period] = quarantine(url, "situations-2024.xlsx")
    assert (period["row_number"], period["column"]) == (2, "Date de début")
    assert "d'une période sans aucun jour en 2025" in period["reason"]
    assert "la ligne relève du dossier d'une autre année" in period["reason"]
    assert contacts(url) == BASE_CONTACTS  # the good rows of the other files are kept
    counts = accounted(url)
    assert counts[("evenements-2024.xlsx", "evenements")] == (5, 0, 5, 0)
    assert counts[("situations-2024.xlsx", "situations")] == (2, 1, 1, 0)


def test_same_files_dropped_twice_under_two_names(warehouse_url: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    base_zone(raw)
    d = year_dir(raw)
    sms = [[None, "1001", f"0{i}/06/2025", "SMS", None, None, "x"] for i in range(1, 5)]
    write_xlsx(d / "sms.xlsx", EVENT_HEADERS, sms)  # events without an event id
    for name in ("jeunes", "evenements", "aides", "sms"):
        shutil.copy(d / f"{name}.xlsx", d / f"{name} (1).xlsx")
    instance = dg.DagsterInstance.ephemeral()
    assert not _run(raw, warehouse_url, instance).failed
    # the user is told which files are copies, and what to do
    copies = [w for w in warnings_of(instance) if "même contenu que" in w]
    assert len(copies) == 4, copies
    first, second = sorted(["sms.xlsx", "sms (1).xlsx"])  # files are read in name order
    assert f"{S}/{Y}/{second} : même contenu que {S}/{Y}/{first} (une copie)" in " ".join(copies)
    assert all(w.endswith("sont comptées deux fois ; retirez la copie et relancez") for w in copies)
    counts = accounted(warehouse_url, merged=ANY)
    # rows with an own id read twice with equal values are loaded once (the copy read first,
    # in file-name order, keeps them; the other's are merged)
    for name, n in (("jeunes", 3), ("evenements", 4), ("aides", 2)):
        pair = [v for (f, _), v in counts.items() if f in (f"{name}.xlsx", f"{name} (1).xlsx")]
        assert sorted(v[1:] for v in pair) == [(0, 0, n), (n, 0, 0)], (name, pair)
    # rows without an own id are never merged (two identical SMS rows are two SMS): the
    # copied SMS file doubles its contacts; the user removes the copy and reruns
    assert counts[("sms.xlsx", "evenements")] == (4, 4, 0, 0)
    assert counts[("sms (1).xlsx", "evenements")] == (4, 4, 0, 0)
    assert contacts(warehouse_url) == BASE_CONTACTS + 8
    assert quarantine(warehouse_url) == []


def test_reexport_replacing_the_file(warehouse_url: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    base_zone(raw)
    d = year_dir(raw)
    write_xlsx(
        d / "evenements.xlsx",
        EVENT_HEADERS,
        [*BASE_EVENTS, ["E5", "1002", "06/06/2025", "Visio", None, None, "x"]],
    )
    assert not _run(raw, warehouse_url).failed
    assert contacts(warehouse_url) == BASE_CONTACTS
    assert [r["value"] for r in quarantine(warehouse_url)] == ["Visio"]
    # the corrected re-export replaces the old file (another name: file names are free)
    (d / "evenements.xlsx").unlink()
    corrected = [list(r) for r in BASE_EVENTS] + [
        ["E5", "1002", "06/06/2025", "Entretien", None, None, "x"]
    ]
    corrected[1][3] = "E-mail"  # E2 was an e-mail, not an SMS
    corrected[3][4] = "Présent"  # E4: the young person came after all
    write_xlsx(d / "evenements-corrigé.xlsx", EVENT_HEADERS, corrected)
    assert not _run(raw, warehouse_url).failed
    assert contacts(warehouse_url) == BASE_CONTACTS + 2
    assert quarantine(warehouse_url) == []
    types = query(
        warehouse_url,
        "SELECT event_id, contact_type, is_contact, source_file "
        "FROM conformed.evenements ORDER BY event_id",
    )
    assert [(t["event_id"], t["contact_type"], t["is_contact"]) for t in types] == [
        ("E1", "Entretien", True),
        ("E2", "E-mail", True),
        ("E3", "Entretien", True),
        ("E4", "Téléphone", True),
        ("E5", "Entretien", True),
    ]
    assert {t["source_file"] for t in types} == {f"{S}/{Y}/evenements-corrigé.xlsx"}
    files = {
        r["file"].rsplit("/", 1)[-1]
        for r in query(warehouse_url, "SELECT file FROM ingested_files")
    }
    assert files == {"jeunes.xlsx", "evenements-corrigé.xlsx", "aides.xlsx"}
    assert (
        _one(
            warehouse_url,
            "SELECT count(*) FROM staging.evenements WHERE source_file LIKE '%/evenements.xlsx'",
        )
        == 0
    )
    accounted(warehouse_url)


def test_conflicting_duplicate_ids(baseline) -> None:
    raw, url = baseline
    d = year_dir(raw)
    # a corrected re-export dropped next to the old file instead of replacing it
    corrected = [list(r) for r in BASE_EVENTS]
    corrected[1][3] = "E-mail"  # E2 differs
    write_xlsx(d / "evenements-corrigé.xlsx", EVENT_HEADERS, corrected)
    write_xlsx(
        d / "aides-bis.xlsx", AID_HEADERS, [["A-1", "1001", "FAJ", "01/03/2025", "200", "Payé"]]
    )  # another amount
    write_xlsx(
        d / "jeunes-bis.xlsx",
        JEUNES_HEADERS,
        [young("1003", commune="Marcq-en-Barœul", first="03/03/2024", level="BTS")],
    )
    assert not _run(raw, url).failed
    rows = {(r["file"].rsplit("/", 1)[-1], r["row_number"]): r for r in quarantine(url)}
    # rows are read in file-name order: the first copy of a repeat stays, the next is merged
    first, second = sorted(["evenements.xlsx", "evenements-corrigé.xlsx"])
    assert set(rows) == {
        ("evenements.xlsx", 3),
        ("evenements-corrigé.xlsx", 3),  # E2
        ("aides.xlsx", 2),
        ("aides-bis.xlsx", 2),
        ("jeunes.xlsx", 6),
        ("jeunes-bis.xlsx", 2),  # 1003
        (first, 5),
    }  # E4, whose young person 1003 is out
    for key in [
        ("evenements.xlsx", 3),
        ("evenements-corrigé.xlsx", 3),
        ("aides.xlsx", 2),
        ("aides-bis.xlsx", 2),
        ("jeunes.xlsx", 6),
        ("jeunes-bis.xlsx", 2),
    ]:
        reason = rows[key]["reason"]
        assert "sur plusieurs lignes aux valeurs différentes" in reason, reason
        assert "gardez-en une seule" in reason and "relancez" in reason
    assert rows[("evenements.xlsx", 3)]["value"] == "E2"
    assert rows[("aides-bis.xlsx", 2)]["column"] == "Référence de l'aide"
    assert rows[("jeunes.xlsx", 6)]["value"] is None  # the young id is never shown
    assert "Jeune absent des lignes valides de l'export jeunes" in rows[(first, 5)]["reason"]
    counts = accounted(url, merged={second: 3})  # E1, E3, E4
    assert counts[(first, "evenements")] == (4, 2, 2, 0)
    assert counts[(second, "evenements")] == (4, 0, 1, 3)
    assert contacts(url) == 2  # E1 and E3


def test_formulas_give_their_cached_values(baseline) -> None:
    raw, url = baseline
    path = write_xlsx(
        year_dir(raw) / "aides-formules.xlsx",
        AID_HEADERS,
        [
            ["F-1", "=1000+1", "FAJ", "01/06/2025", "=100+50", None],  # cached 1001, 150
            ["F-2", "1002", '="F"&"AJ"', "02/06/2025", "=SUM(1,2)", None],  # cached FAJ, 3
            ["F-3", "1002", "FAJ", "03/06/2025", "=1/0", None],  # cached #DIV/0!
            ["F-4", "1002", "FAJ", "04/06/2025", "=A1", None],  # no cached value
        ],
    )
    with_cached_values(
        path,
        {
            "B2": ("1001", None),
            "E2": ("150", None),
            "C3": ("FAJ", "str"),
            "E3": ("3", None),
            "E4": ("#DIV/0!", "e"),
        },
    )
    assert not _run(raw, url).failed
    aids = query(
        url,
        "SELECT aid_id, aid_type, amount FROM conformed.aides "
        "WHERE source_file LIKE '%formules%' ORDER BY aid_id",
    )
    assert [(a["aid_id"], a["aid_type"], float(a["amount"])) for a in aids] == [
        ("F-1", "FAJ", 150.0),
        ("F-2", "FAJ", 3.0),
    ]
    bad = {r["row_number"]: r for r in quarantine(url, "aides-formules.xlsx")}
    assert bad[4]["value"] == "#DIV/0!"
    assert bad[4]["reason"] == (
        "Montant « #DIV/0! » qui n'est pas un nombre (colonne Montant) "
        ": corrigez-le dans i-milo ou dans le fichier (forme attendue : "
        "1234,56 ou 1 234,56 €)"
    )
    assert bad[5]["reason"].startswith("Colonne Montant vide alors qu'elle est obligatoire")
    accounted(url)


def test_merged_cells(baseline) -> None:
    raw, url = baseline
    path = year_dir(raw) / "evenements-fusion.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Extraction du 06/01/2026 – ML TST"])
    ws.merge_cells("A1:G1")  # a merged title line
    ws.append(EVENT_HEADERS)
    ws.append(["M1", "1001", "01/07/2025", "SMS", None, "Siège", "x"])
    ws.append(["M2", None, "02/07/2025", "SMS", None, "Siège", "x"])
    ws.append(["M3", "1002", "03/07/2025", "SMS", None, None, "x"])
    ws.merge_cells("B3:B4")  # one young person's id over two rows: only B3 holds it
    ws.merge_cells("F3:F4")  # an optional column: the second row's place is empty
    wb.save(path)
    assert not _run(raw, url).failed
    [bad] = quarantine(url, "evenements-fusion.xlsx")
    assert (bad["row_number"], bad["column"]) == (4, "N° dossier")
    assert bad["reason"] == (
        "Colonne N° dossier vide alors qu'elle est obligatoire : "
        "remplissez-la dans i-milo et relancez"
    )
    assert contacts(url) == BASE_CONTACTS + 2
    assert accounted(url)[("evenements-fusion.xlsx", "evenements")] == (3, 2, 1, 0)


def test_hidden_sheets(baseline) -> None:
    raw, url = baseline
    path = year_dir(raw) / "evenements-juillet.xlsx"
    wb = openpyxl.Workbook()
    visible = wb.active
    visible.title = "Juillet"
    visible.append(EVENT_HEADERS)
    visible.append(["H1", "1001", "01/07/2025", "SMS", None, None, "x"])
    visible.append(["H2", "1002", "02/07/2025", "SMS", None, None, "x"])
    visible.row_dimensions[3].hidden = True  # a hidden row of a visible sheet is data
    for title, state in (("Brouillon", "hidden"), ("Macro", "veryHidden")):
        ws = wb.create_sheet(title)
        ws.append(EVENT_HEADERS)
        ws.append(["H9", "1001", "09/07/2025", "SMS", None, None, "x"])
        ws.sheet_state = state
    wb.save(path)
    instance = dg.DagsterInstance.ephemeral()
    assert not _run(raw, url, instance).failed
    assert contacts(url) == BASE_CONTACTS + 2
    assert _one(url, "SELECT count(*) FROM conformed.evenements WHERE event_id = 'H9'") == 0
    warnings = warnings_of(instance)
    assert (
        f"{S}/{Y}/evenements-juillet.xlsx, feuille « Brouillon » : ignorée (feuille masquée)"
        in warnings
    )
    assert any("feuille « Macro » : ignorée (feuille très masquée)" in w for w in warnings), (
        warnings
    )
    assert accounted(url)[("evenements-juillet.xlsx", "evenements")] == (2, 2, 0, 0)


def test_cells_of_30000_characters(baseline) -> None:
    raw, url = baseline
    long_place = "L" * 30_000
    long_type = "Visio" + "x" * 29_995
    write_xlsx(
        year_dir(raw) / "evenements-long.xlsx",
        [*EVENT_HEADERS, "Commentaire"],
        [
            ["G1", "1001", "01/08/2025", "SMS", None, long_place, "x", "C" * 30_000],
            ["G2", "1001", "02/08/2025", long_type, None, None, "x", "secret " * 4_000],
        ],
        title_lines=["T" * 30_000],
    )
    assert not _run(raw, url).failed
    [place] = query(url, "SELECT place FROM conformed.evenements WHERE event_id = 'G1'")
    assert place["place"] == long_place  # a text column keeps the whole cell
    [bad] = quarantine(url, "evenements-long.xlsx")
    assert (bad["row_number"], bad["column"], bad["value"]) == (4, "Nature du contact", long_type)
    assert bad["reason"].startswith("Type d'événement « Visioxxx")
    assert bad["reason"].endswith(
        "… » inconnu (colonne Nature du contact) : ajoutez-le comme "
        "alias dans config/codes.yaml (event_type), ou corrigez-le "
        "dans i-milo"
    )
    assert len(bad["reason"]) < 400  # the reason stays readable
    # the comment is personal data: read, never stored
    for table in ("staging.evenements", "conformed.evenements", "quarantine"):
        for row in query(url, f"SELECT * FROM {table}"):
            assert not any(isinstance(v, str) and "CCCCC" in v for v in row.values())
    accounted(url)


def test_dates_as_text_in_five_forms(baseline) -> None:
    raw, url = baseline
    dates = [
        "04/03/2025",
        "4/3/25",
        "2025-03-04",
        "45720",
        "04/03/2025 10:30",
        "2025-03-04T10:30:00",
        dt.date(2025, 3, 4),
        dt.datetime(2025, 3, 4, 16, 45),
        45720,
    ]
    rows = [[None, "1001", d, "SMS", None, None, "x"] for d in dates]
    rows.append([None, "1001", "31/02/2025", "SMS", None, None, "x"])  # not a date
    rows.append([None, "1001", "04.03.2025", "SMS", None, None, "x"])  # not a listed form
    rows.append([None, "1001", "01/01/0001", "SMS", None, None, "x"])  # a placeholder
    write_xlsx(year_dir(raw) / "evenements-dates.xlsx", EVENT_HEADERS, rows)
    # `31/12/9999` is i-milo's "no end yet": read as still running (docs/decisions.md)
    write_xlsx(
        year_dir(raw) / "situations.xlsx",
        ["Identifiant jeune", "Catégorie", "Nature", "Date de début", "Date de fin"],
        [
            ["1001", "Emploi", "CDI", "2025-03-04", "31/12/9999"],
            ["1001", "Emploi", "CDD", "4/3/25", "30/09/2025 00:00"],
        ],
    )
    assert not _run(raw, url).failed
    got = query(
        url,
        "SELECT event_date FROM conformed.evenements WHERE source_file LIKE "
        "'%dates%' ORDER BY source_row",
    )
    assert [g["event_date"] for g in got] == [dt.date(2025, 3, 4)] * len(dates)
    bad = quarantine(url, "evenements-dates.xlsx")
    assert [(b["row_number"], b["value"]) for b in bad] == [
        (11, "31/02/2025"),
        (12, "04.03.2025"),
        (13, "01/01/0001"),
    ]
    assert quarantine(url, "situations.xlsx") == []
    assert query(
        url, "SELECT start_date, end_date FROM conformed.situations ORDER BY source_row"
    ) == [
        {"start_date": dt.date(2025, 3, 4), "end_date": None},
        {"start_date": dt.date(2025, 3, 4), "end_date": dt.date(2025, 9, 30)},
    ]
    assert bad[0]["reason"] == (
        "Date « 31/02/2025 » illisible (colonne Date) : corrigez-la "
        "dans i-milo ou dans le fichier, au format jj/mm/aaaa, "
        "aaaa-mm-jj ou en date Excel, entre 1678 et 2261 (une fin "
        "encore inconnue reste vide)"
    )
    accounted(url)


def test_numbers_stored_as_text(baseline) -> None:
    raw, url = baseline
    write_structure(
        raw,
        territory=[
            {"insee": "02691", "name": "Saint-Quentin"},
            {"insee": "59328", "name": "Lambersart"},
        ],
    )
    d = year_dir(raw)
    write_xlsx(
        d / "jeunes.xlsx",
        [*JEUNES_HEADERS, "Code INSEE"],
        [
            [*young("1001"), 2691],  # INSEE code as a number: 02691
            [*young("1002"), "2691"],  # as text
            [*young("1003"), "59328.0"],
        ],
    )
    write_xlsx(
        d / "aides.xlsx",
        AID_HEADERS,
        [
            ["N-1", 1001, "FAJ", "01/03/2025", "150", None],  # young id as a number
            ["N-2", 1002.0, "FAJ", "01/03/2025", "1 234,56 €", None],
            ["N-3", "1003.0", "FAJ", "01/03/2025", "1234.56", None],  # id as number text
            ["N-4", " 1001 ", "FAJ", "01/03/2025", "1\u202f234,56", None],
            ["N-5", "1001", "FAJ", "01/03/2025", 99.9, None],
            ["N-6", "1001", "FAJ", "01/03/2025", "12,5 euros", None],  # not a number
            [
                "N-7",
                "1001",
                "FAJ",
                "01/03/2025",
                "123456789012345678",
                None,
            ],  # beyond NUMERIC(16,2)
        ],
    )
    assert not _run(raw, url).failed
    aids = query(url, "SELECT aid_id, amount FROM conformed.aides ORDER BY aid_id")
    assert [(a["aid_id"], str(a["amount"])) for a in aids] == [
        ("N-1", "150.00"),
        ("N-2", "1234.56"),
        ("N-3", "1234.56"),
        ("N-4", "1234.56"),
        ("N-5", "99.90"),
    ]
    bad, huge = quarantine(url, "aides.xlsx")
    assert (bad["row_number"], bad["column"], bad["value"]) == (7, "Montant", "12,5 euros")
    assert bad["reason"] == (
        "Montant « 12,5 euros » qui n'est pas un nombre (colonne "
        "Montant) : corrigez-le dans i-milo ou dans le fichier (forme "
        "attendue : 1234,56 ou 1 234,56 €)"
    )
    # an absurd amount is rejected with its reason (it used to fail the partition's write)
    assert (huge["row_number"], huge["value"]) == (8, "123456789012345678")
    assert huge["reason"].startswith("Montant « 123456789012345678 » trop grand (colonne Montant)")
    assert huge["reason"].endswith("corrigez-le dans i-milo")
    communes = query(url, "SELECT commune_insee, commune FROM conformed.jeunes ORDER BY source_row")
    assert [c["commune_insee"] for c in communes] == ["02691", "02691", "59328"]
    accounted(url)


def test_commune_names_in_capitals_without_accents(baseline) -> None:
    raw, url = baseline
    names = [
        "MARCQ EN BAROEUL",
        "marcq-en-baroeul",
        "Marcq en Barœul ",
        "LA MADELEINE",
        "LAMBERSART",
        "LILLE",
        None,
    ]
    write_xlsx(
        year_dir(raw) / "jeunes.xlsx",
        JEUNES_HEADERS,
        [young(str(2000 + i), commune=n, first="01/02/2025") for i, n in enumerate(names)],
    )
    write_xlsx(year_dir(raw) / "evenements.xlsx", EVENT_HEADERS, [])
    write_xlsx(year_dir(raw) / "aides.xlsx", AID_HEADERS, [])
    assert not _run(raw, url).failed
    got = query(url, "SELECT commune_insee, commune FROM conformed.jeunes ORDER BY source_row")
    assert [(g["commune_insee"], g["commune"]) for g in got] == [
        ("59378", "Marcq-en-Barœul")
    ] * 3 + [
        ("59368", "La Madeleine"),
        ("59328", "Lambersart"),
        ("99999", "Hors territoire"),
        ("00000", "Non renseignée"),
    ]
    by_commune = {
        r["commune_insee"]: r["value"]
        for r in query(
            url,
            "SELECT commune_insee, value FROM indicator_values WHERE indicator = "
            "'new_arrivals' AND commune_insee IS NOT NULL AND dimension_1 IS NULL",
        )
    }
    assert by_commune == {"59378": 3, "59368": 1, "59328": 1, "99999": 1, "00000": 1}
    accounted(url)


def test_unknown_event_type(warehouse_url: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    base_zone(raw)
    write_xlsx(
        year_dir(raw) / "evenements-visio.xlsx",
        EVENT_HEADERS,
        [
            ["V1", "1001", "01/09/2025", "Visio", None, None, "x"],
            ["V2", "1002", "02/09/2025", "Visioconférence", "Présent", None, "x"],
            ["V3", "1002", "03/09/2025", "Entretien individuel - suivi", None, None, "x"],
        ],
        sheet="Événements",
    )
    assert not _run(raw, warehouse_url).failed
    bad = quarantine(warehouse_url, "evenements-visio.xlsx")
    assert [(b["sheet"], b["row_number"], b["column"], b["value"]) for b in bad] == [
        ("Événements", 2, "Nature du contact", "Visio"),
        ("Événements", 3, "Nature du contact", "Visioconférence"),
    ]
    assert bad[0]["reason"] == (
        "Type d'événement « Visio » inconnu (colonne Nature du "
        "contact) : ajoutez-le comme alias dans config/codes.yaml "
        "(event_type), ou corrigez-le dans i-milo"
    )
    assert contacts(warehouse_url) == BASE_CONTACTS + 1  # the good row of the file is kept
    assert accounted(warehouse_url)[("evenements-visio.xlsx", "evenements")] == (3, 1, 2, 0)
