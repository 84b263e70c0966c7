"""Tests of pipelines/read.py: files found, headers recognised, rows and cells read.

Every test writes its own workbook or CSV under tmp_path/raw/MNO/2025/.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
import xlwt
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from pipelines.read import (
    ExportSheet,
    UnreadableFileError,
    list_export_files,
    read_export_file,
    read_partition,
    recognise,
)

JEUNES_HEADER = [
    "Identifiant jeune",
    "Nom",
    "Prénom",
    "Sexe",
    "Date de naissance",
    "Commune",
    "Niveau de qualification",
    "Date de premier accueil",
    "Téléphone",
]
JEUNES_ROWS = [
    ["1000001", "Dupont", "Marie", "F", dt.date(2004, 3, 1), "Lambersart", "Niveau 4",
     dt.date(2025, 2, 3), "0601020304"],
    ["1000002", "Martin", "Paul", "H", dt.date(2003, 7, 9), "La Madeleine", "CAP",
     dt.date(2025, 5, 12), "0605060708"],
]  # fmt: skip
EVENTS_HEADER = ["Identifiant jeune", "Date de l'événement", "Type d'événement", "Conseiller"]
EVENTS_ROWS = [
    ["1000001", dt.date(2025, 3, 4), "Entretien individuel", "C. Durand"],
    ["1000002", dt.date(2025, 3, 5), "SMS", "C. Durand"],
    ["1000001", dt.date(2025, 4, 1), "Atelier", "C. Durand"],
]


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return tmp_path / "raw"


@pytest.fixture
def year_dir(raw: Path) -> Path:
    d = raw / "MNO" / "2025"
    d.mkdir(parents=True)
    return d


def write_xlsx(
    path: Path, sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()
) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        if name in hidden:
            ws.sheet_state = "hidden"
    wb.save(path)
    return path


def read_one(path: Path, raw: Path) -> ExportSheet:
    result = read_export_file(path, raw)
    assert len(result.sheets) == 1, result
    return result.sheets[0]


def records(sheet: ExportSheet) -> list[dict[str, object]]:
    return sheet.frame.to_dict("records")


# --- recognise -------------------------------------------------------------------------


def test_recognise_returns_type_and_column_indices() -> None:
    export_type, columns, explanation = recognise(["Nom", *EVENTS_HEADER, "Inconnue"])
    assert export_type == "evenements"
    assert columns == {"young_id": 1, "event_date": 2, "event_type": 3, "adviser": 4}
    assert "evenements" in explanation


def test_recognise_events_with_theme_and_plain_date_is_events() -> None:
    # also satisfies propositions (young id, Date, Thème), but events has more columns
    header = ["Identifiant jeune", "Date", "Type d'événement", "Thème", "Statut"]
    export_type, columns, explanation = recognise(header)
    assert export_type == "evenements"
    assert columns["event_date"] == 1 and columns["theme"] == 3
    assert "propositions" in explanation


def test_recognise_tie_is_refused_naming_both_types() -> None:
    # evenements: young id, Date, Type, Thème (4); propositions: young id, Date, Thème,
    # Identifiant proposition (4)
    header = ["Identifiant jeune", "Date", "Type", "Thème", "Identifiant proposition"]
    export_type, columns, explanation = recognise(header)
    assert export_type is None and columns == {}
    assert "evenements" in explanation and "propositions" in explanation


def test_recognise_no_type_names_nearest_and_missing_columns() -> None:
    header = ["Identifiant jeune", "Nom", "Commune", "Niveau", "Date de 1er accueil"]
    export_type, columns, explanation = recognise(header)
    assert export_type is None and columns == {}
    assert "jeunes" in explanation
    assert "Sexe" in explanation and "Date de naissance" in explanation
    assert "Commune" not in explanation.split("il manque", 1)[1]


def test_recognise_the_real_systems_programme_ends_and_rome_code_headers() -> None:
    # i-milo's programmes: "Date de fin réelle" is the end, "Date de fin prévue" a plan that
    # no column takes (exports.md)
    header = [
        "Identifiant jeune",
        "Dispositif",
        "Date d'entrée",
        "Date de fin prévue",
        "Date de fin réelle",
    ]
    export_type, columns, _ = recognise(header)
    assert export_type == "dispositifs"
    assert columns["exit_date"] == 4 and 3 not in columns.values()
    export_type, columns, _ = recognise(
        ["Identifiant jeune", "Catégorie", "Nature", "Date de début", "Code ROME"]
    )
    assert export_type == "situations" and columns["rome_domain"] == 4


def test_recognise_aid_file_keeps_young_id_and_aid_reference_apart() -> None:
    header = ["N° dossier aide", "N° dossier", "Type d'aide", "Date", "Montant (€)"]
    export_type, columns, _ = recognise(header)
    assert export_type == "aides"
    assert columns["aid_id"] == 0 and columns["young_id"] == 1 and columns["amount"] == 4


def test_recognise_each_file_column_is_used_once() -> None:
    # two "Date" columns: the first is the event date, the second is not reused
    export_type, columns, _ = recognise(["Identifiant jeune", "Date", "Date", "Type"])
    assert export_type == "evenements"
    assert columns == {"young_id": 0, "event_date": 1, "event_type": 3}


def _mangle(header: str, upper: bool, sep: str) -> str:
    text = header.upper() if upper else header
    return re.sub(r"[ ']+", sep, text)


@settings(max_examples=60, deadline=None)
@given(
    order=st.permutations(range(len(JEUNES_HEADER))),
    upper=st.booleans(),
    sep=st.sampled_from([" ", "_", "  ", " - ", "\n", "."]),
)
def test_recognise_ignores_order_case_and_punctuation(order, upper, sep) -> None:
    header = [_mangle(JEUNES_HEADER[i], upper, sep) for i in order]
    export_type, columns, _ = recognise(header)
    assert export_type == "jeunes"
    assert header[columns["young_id"]] == _mangle("Identifiant jeune", upper, sep)
    assert header[columns["first_reception_date"]] == _mangle("Date de premier accueil", upper, sep)


# --- headers, title lines, rows --------------------------------------------------------


def test_title_lines_above_header_and_excel_row_numbers(raw: Path, year_dir: Path) -> None:
    rows = [
        ["Extraction du 06/01/2026 – ML MNO"],
        ["Liste des jeunes"],
        [],
        ["Critères : année 2025"],
        JEUNES_HEADER,
        *JEUNES_ROWS,
    ]
    path = write_xlsx(year_dir / "jeunes.xlsx", {"Jeunes": rows})
    sheet = read_one(path, raw)
    assert sheet.export_type == "jeunes"
    assert sheet.file == "MNO/2025/jeunes.xlsx"
    assert sheet.sheet == "Jeunes"
    assert sheet.path == path
    assert sheet.header_row == 5
    assert sheet.rows_read == 2
    assert list(sheet.frame["_row"]) == [6, 7]
    assert sheet.frame["_row"].dtype == "int64"
    assert list(sheet.frame["young_id"]) == ["1000001", "1000002"]


def test_ten_title_lines_are_allowed_eleven_are_not(raw: Path, year_dir: Path) -> None:
    titles = [[f"Titre {i}"] for i in range(10)]
    ok = write_xlsx(year_dir / "ok.xlsx", {"S": [*titles, JEUNES_HEADER, *JEUNES_ROWS]})
    assert read_one(ok, raw).header_row == 11
    bad = write_xlsx(
        year_dir / "bad.xlsx", {"S": [*titles, ["Titre 11"], JEUNES_HEADER, *JEUNES_ROWS]}
    )
    with pytest.raises(UnreadableFileError, match=r"MNO/2025/bad\.xlsx"):
        read_export_file(bad, raw)


@pytest.mark.parametrize(
    "reception_header", ["DATE DE PREMIER ACCUEIL", "date_de_premier_accueil", "Date 1er accueil"]
)
def test_header_aliases_and_folding(raw: Path, year_dir: Path, reception_header: str) -> None:
    header = ["N° dossier", "GENRE", "Né(e) le", "Ville", "niveau_validé", reception_header]
    rows = [["42", "F", dt.date(2004, 3, 1), "Lompret", "Niveau 3", dt.date(2025, 1, 6)]]
    path = write_xlsx(year_dir / "jeunes.xlsx", {"Feuil1": [header, *rows]})
    sheet = read_one(path, raw)
    assert sheet.export_type == "jeunes"
    assert sheet.headers == {
        "young_id": "N° dossier",
        "sex": "GENRE",
        "birth_date": "Né(e) le",
        "commune_name": "Ville",
        "qualification": "niveau_validé",
        "first_reception_date": reception_header,
    }
    assert records(sheet) == [
        {
            "young_id": "42",
            "sex": "F",
            "birth_date": "2004-03-01",
            "commune_name": "Lompret",
            "qualification": "Niveau 3",
            "first_reception_date": "2025-01-06",
            "_row": 2,
        }
    ]


def test_columns_in_any_order_and_unknown_columns_ignored(raw: Path, year_dir: Path) -> None:
    header = ["Colonne libre", "Type d'événement", "Lieu", "Identifiant jeune", "Date", "Xyz"]
    rows = [["a", "SMS", "Lambersart", "7", dt.date(2025, 2, 1), "b"]]
    path = write_xlsx(year_dir / "ev.xlsx", {"Evts": [header, *rows]})
    sheet = read_one(path, raw)
    assert sheet.export_type == "evenements"
    assert list(sheet.frame.columns) == ["young_id", "event_date", "event_type", "place", "_row"]
    assert records(sheet) == [
        {
            "young_id": "7",
            "event_date": "2025-02-01",
            "event_type": "SMS",
            "place": "Lambersart",
            "_row": 2,
        }
    ]


def test_personal_columns_are_dropped(raw: Path, year_dir: Path) -> None:
    header = [*JEUNES_HEADER, "E-mail", "Adresse", "Conseiller", "N° de sécurité sociale"]
    rows = [[*r, "m@x.fr", "1 rue X", "C. Durand", "2040359350123"] for r in JEUNES_ROWS]
    path = write_xlsx(year_dir / "jeunes.xlsx", {"J": [header, *rows]})
    sheet = read_one(path, raw)
    personal = {"last_name", "first_name", "phone", "email", "address", "adviser", "nir"}
    assert not personal & set(sheet.frame.columns)
    assert not personal & set(sheet.headers)
    cells = {v for row in sheet.frame.itertuples(index=False) for v in row}
    assert not {"Dupont", "Marie", "0601020304", "m@x.fr", "2040359350123"} & cells


def test_total_line_and_blank_rows_are_not_data(raw: Path, year_dir: Path) -> None:
    rows = [
        ["Extraction du 06/01/2026"],
        EVENTS_HEADER,
        EVENTS_ROWS[0],
        [],
        EVENTS_ROWS[1],
        EVENTS_ROWS[2],
        [],
        [None, "TOTAL : 3 événements"],
        [],
        [],
    ]
    path = write_xlsx(year_dir / "ev.xlsx", {"Evts": rows})
    sheet = read_one(path, raw)
    assert sheet.rows_read == 3
    assert len(sheet.frame) == 3
    assert list(sheet.frame["_row"]) == [3, 5, 6]
    assert list(sheet.frame["event_type"]) == ["Entretien individuel", "SMS", "Atelier"]


def test_sheet_starting_below_and_right_keeps_excel_row_numbers(raw: Path, year_dir: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Evts"
    for j, h in enumerate(EVENTS_HEADER):
        ws.cell(row=4, column=3 + j, value=h)
    for i, row in enumerate(EVENTS_ROWS):
        for j, v in enumerate(row):
            ws.cell(row=6 + i, column=3 + j, value=v)
    path = year_dir / "ev.xlsx"
    wb.save(path)
    sheet = read_one(path, raw)
    assert sheet.header_row == 4
    assert list(sheet.frame["_row"]) == [6, 7, 8]


def test_header_without_data_rows_gives_an_empty_frame(raw: Path, year_dir: Path) -> None:
    path = write_xlsx(year_dir / "ev.xlsx", {"Evts": [EVENTS_HEADER, ["Total", 0]]})
    sheet = read_one(path, raw)
    assert sheet.rows_read == 0
    assert list(sheet.frame.columns) == ["young_id", "event_date", "event_type", "_row"]
    assert len(sheet.frame) == 0


# --- sheets of a workbook --------------------------------------------------------------


def test_two_typed_sheets_in_one_workbook(raw: Path, year_dir: Path) -> None:
    path = write_xlsx(
        year_dir / "export.xlsx",
        {"Jeunes": [JEUNES_HEADER, *JEUNES_ROWS], "Evts": [["Titre"], EVENTS_HEADER, *EVENTS_ROWS]},
    )
    result = read_export_file(path, raw)
    assert [(s.sheet, s.export_type, s.rows_read) for s in result.sheets] == [
        ("Jeunes", "jeunes", 2),
        ("Evts", "evenements", 3),
    ]
    assert result.warnings == []


def test_hidden_and_untyped_sheets_skipped_with_warnings(raw: Path, year_dir: Path) -> None:
    path = write_xlsx(
        year_dir / "export.xlsx",
        {
            "Paramètres": [["Critère", "Valeur"], ["Année", 2025]],
            "Jeunes": [JEUNES_HEADER, *JEUNES_ROWS],
            "Cachée": [EVENTS_HEADER, *EVENTS_ROWS],
        },
        hidden=("Cachée",),
    )
    result = read_export_file(path, raw)
    assert [s.sheet for s in result.sheets] == ["Jeunes"]
    assert len(result.warnings) == 2
    untyped = next(w for w in result.warnings if "Paramètres" in w)
    hidden = next(w for w in result.warnings if "Cachée" in w)
    assert "MNO/2025/export.xlsx" in untyped and "aucun type d'export reconnu" in untyped
    assert "feuille « Paramètres » : ignorée" in untyped and "config/exports.yaml" in untyped
    assert "MNO/2025/export.xlsx" in hidden and "ignorée (feuille masquée)" in hidden


def test_workbook_with_no_typed_sheet_names_nearest_type(raw: Path, year_dir: Path) -> None:
    header = ["Identifiant jeune", "Nom", "Commune", "Niveau", "Date de 1er accueil"]
    path = write_xlsx(year_dir / "liste.xlsx", {"A": [["x", "y"]], "B": [["Titre"], header]})
    with pytest.raises(UnreadableFileError) as info:
        read_export_file(path, raw)
    message = str(info.value)
    assert "MNO/2025/liste.xlsx" in message
    assert "jeunes" in message and "Sexe" in message and "Date de naissance" in message
    assert "feuille « B », ligne 2" in message
    assert "ajoutez les en-têtes" in message and "config/exports.yaml" in message
    assert info.value.file == "MNO/2025/liste.xlsx"


def test_events_file_with_theme_and_date_read_as_events(raw: Path, year_dir: Path) -> None:
    header = ["Identifiant jeune", "Date", "Type d'événement", "Thème", "Statut"]
    rows = [["1", dt.date(2025, 6, 2), "Entretien", "Emploi", "Présent"]]
    path = write_xlsx(year_dir / "ev.xlsx", {"S": [header, *rows]})
    sheet = read_one(path, raw)
    assert sheet.export_type == "evenements"
    assert records(sheet)[0]["theme"] == "Emploi"


def test_tied_header_refuses_the_file(raw: Path, year_dir: Path) -> None:
    header = ["Identifiant jeune", "Date", "Type", "Thème", "Identifiant proposition"]
    path = write_xlsx(year_dir / "ambigu.xlsx", {"S": [header, ["1", "2025-01-02", "x", "y", "z"]]})
    with pytest.raises(UnreadableFileError) as info:
        read_export_file(path, raw)
    message = str(info.value)
    assert "MNO/2025/ambigu.xlsx" in message
    assert "evenements" in message and "propositions" in message
    assert "feuille « S », ligne 1" in message and "impossible de savoir lequel" in message


# --- cell values -----------------------------------------------------------------------


def test_numeric_column_then_nc_keeps_nc_and_text(raw: Path, year_dir: Path) -> None:
    header = ["Identifiant jeune", "Sexe", "Date de naissance", "Commune", "Code INSEE",
              "Niveau", "Date de premier accueil"]  # fmt: skip
    rows = [
        [1000000 + i, "F", dt.date(2004, 1, 1), "Lambersart", 59328, "Niveau 4",
         dt.date(2025, 1, 2)]
        for i in range(1500)
    ]  # fmt: skip
    rows += [[2000000 + i, "F", "NC", "Lille", "NC", "NC", "NC"] for i in range(1500)]
    rows.append([3000000, "H", "01/02/2003", "Lille", "59100", "CAP", "2025-03-04"])
    path = write_xlsx(year_dir / "jeunes.xlsx", {"J": [header, *rows]})
    frame = read_one(path, raw).frame
    assert len(frame) == 3001
    assert (frame["commune_insee"].iloc[1500:3000] == "NC").all()
    assert (frame["birth_date"].iloc[1500:3000] == "NC").all()
    assert frame["commune_insee"].iloc[0] == "59328"
    assert frame["young_id"].iloc[0] == "1000000"
    assert frame.iloc[-1].to_dict() == {
        "young_id": "3000000",
        "sex": "H",
        "birth_date": "01/02/2003",
        "commune_name": "Lille",
        "commune_insee": "59100",
        "qualification": "CAP",
        "first_reception_date": "2025-03-04",
        "_row": 3002,
    }


def test_cell_normalisation(raw: Path, year_dir: Path) -> None:
    header = ["Identifiant jeune", "Type d'aide", "Date", "Montant", "Statut", "Référence aide"]
    rows = [
        [1234567, "FAJ", dt.date(2025, 3, 1), 150, True, " 007 "],
        [1234567.0, "FAJ", dt.datetime(2025, 3, 1, 14, 30, 5), 0.1 + 0.2, False, "#N/A"],
        ["1234567.0", "FAJ", dt.datetime(2025, 3, 1, 0, 0), 1234.56, "Payé", "  "],
        [" 89 ", "\u00a0FAJ\u202f", "03/01/2025", 12345678901.123, None, -3.0],
        ["90", "FAJ", 45717, "1 234,56 €", "Accordé", 0.000012345],
    ]
    path = write_xlsx(year_dir / "aides.xlsx", {"Aides": [header, *rows]})
    frame = read_one(path, raw).frame
    assert list(frame["young_id"]) == ["1234567", "1234567", "1234567.0", "89", "90"]
    assert list(frame["aid_type"]) == ["FAJ"] * 5
    assert list(frame["aid_date"]) == [
        "2025-03-01",
        "2025-03-01 14:30:05",
        "2025-03-01",
        "03/01/2025",
        "45717",
    ]
    assert list(frame["amount"]) == ["150", "0.3", "1234.56", "12345678901.123", "1 234,56 €"]
    assert list(frame["status"]) == ["true", "false", "Payé", None, "Accordé"]
    assert list(frame["aid_id"]) == ["007", "#N/A", None, "-3", "0.000012345"]
    for column in ("young_id", "aid_type", "aid_date", "amount", "status", "aid_id"):
        assert all(v is None or isinstance(v, str) for v in frame[column])


def test_formula_cells_give_their_cached_value(raw: Path, year_dir: Path) -> None:
    path = write_xlsx(
        year_dir / "ev.xlsx",
        {"S": [EVENTS_HEADER, ["=1000000+1", dt.date(2025, 1, 2), '="S"&"MS"', "x"]]},
    )
    # openpyxl writes no cached values: add them as Excel would
    patched = year_dir / "ev2.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                xml = data.decode()
                xml = re.sub(
                    r'<c r="A2"([^>]*)><f>(.*?)</f><v\s*/>',
                    r'<c r="A2"\1><f>\2</f><v>1000001</v>',
                    xml,
                )
                xml = re.sub(
                    r'<c r="C2"([^>]*)><f>(.*?)</f><v\s*/>',
                    r'<c r="C2" t="str"><f>\2</f><v>SMS</v>',
                    xml,
                )
                data = xml.encode()
            dst.writestr(item, data)
    path.unlink()
    sheet = read_one(patched, raw)
    assert records(sheet)[0]["young_id"] == "1000001"
    assert records(sheet)[0]["event_type"] == "SMS"


def test_xls_written_by_xlwt(raw: Path, year_dir: Path) -> None:
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Feuil1")
    ws.write(0, 0, "Extraction i-milo")
    for j, h in enumerate(EVENTS_HEADER):
        ws.write(2, j, h)
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    ws.write(3, 0, 1000001)
    ws.write(3, 1, dt.date(2025, 3, 4), date_style)
    ws.write(3, 2, "Entretien individuel")
    ws.write(4, 0, "1000002")
    ws.write(4, 1, "05/03/2025")
    ws.write(4, 2, "Médiation")
    ws.write(6, 0, "Total")
    hidden = wb.add_sheet("Cachée")
    hidden.write(0, 0, "x")
    hidden.visibility = 1
    path = year_dir / "ancien.xls"
    wb.save(str(path))
    result = read_export_file(path, raw)
    assert len(result.sheets) == 1
    sheet = result.sheets[0]
    assert (sheet.export_type, sheet.header_row, sheet.rows_read) == ("evenements", 3, 2)
    assert records(sheet) == [
        {"young_id": "1000001", "event_date": "2025-03-04", "event_type": "Entretien individuel",
         "_row": 4},
        {"young_id": "1000002", "event_date": "05/03/2025", "event_type": "Médiation", "_row": 5},
    ]  # fmt: skip
    assert any("Cachée" in w and "masquée" in w for w in result.warnings)


# --- CSV -------------------------------------------------------------------------------


def test_csv_semicolon_windows_1252(raw: Path, year_dir: Path) -> None:
    text = (
        "Extraction du 06/01/2026 – ML MNO\r\n"
        "\r\n"
        "Identifiant jeune;Date de l'événement;Type d'événement;Statut;Conseiller\r\n"
        "1000001;04/03/2025;Médiation;Présent;Hélène\r\n"
        "\r\n"
        " 1000002 ;05/03/2025;Entretien individuel;;Hélène\r\n"
        "Total;2;;;\r\n"
    )
    path = year_dir / "evenements.csv"
    path.write_bytes(text.encode("cp1252"))
    sheet = read_one(path, raw)
    assert (sheet.sheet, sheet.export_type, sheet.header_row, sheet.rows_read) == (
        None,
        "evenements",
        3,
        2,
    )
    assert sheet.headers["event_date"] == "Date de l'événement"
    assert records(sheet) == [
        {"young_id": "1000001", "event_date": "04/03/2025", "event_type": "Médiation",
         "status": "Présent", "_row": 4},
        {"young_id": "1000002", "event_date": "05/03/2025", "event_type": "Entretien individuel",
         "status": None, "_row": 6},
    ]  # fmt: skip


def test_csv_comma_utf8_bom_with_quotes(raw: Path, year_dir: Path) -> None:
    text = (
        "Identifiant jeune,Date de la proposition,Thème,Libellé,Commentaire\n"
        '0012,2025-02-03,"Loisirs, sport, culture","Atelier ""théâtre""",RAS\n'
        "0013,2025-02-04,Emploi,,\n"
        '0014,2025-02-05,Formation,"sur deux\nlignes",\n'
        "0015,2025-02-06,Santé,x,y,colonne en trop\n"
        "0016,2025-02-07\n"
    )
    path = year_dir / "propositions.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    sheet = read_one(path, raw)
    assert sheet.export_type == "propositions"
    assert sheet.headers["young_id"] == "Identifiant jeune"  # no BOM left in the header
    assert list(sheet.frame.columns) == ["young_id", "proposal_date", "theme", "action_label",
                                         "_row"]  # fmt: skip
    assert list(sheet.frame["young_id"]) == ["0012", "0013", "0014", "0015", "0016"]
    assert list(sheet.frame["theme"]) == [
        "Loisirs, sport, culture", "Emploi", "Formation", "Santé", None
    ]  # fmt: skip
    assert list(sheet.frame["action_label"]) == ['Atelier "théâtre"', None, "sur deux\nlignes",
                                                 "x", None]  # fmt: skip
    assert list(sheet.frame["_row"]) == [2, 3, 4, 5, 6]


def test_csv_with_no_recognisable_header_names_nearest(raw: Path, year_dir: Path) -> None:
    path = year_dir / "x.csv"
    path.write_text("Identifiant jeune;Dispositif\n1;CEJ\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError) as info:
        read_export_file(path, raw)
    message = str(info.value)
    assert "MNO/2025/x.csv" in message
    assert "dispositifs" in message and "Date d'entrée" in message


@pytest.mark.parametrize("content", [b"", b"   \r\n\r\n", b"\xef\xbb\xbf"])
def test_empty_csv_refused(raw: Path, year_dir: Path, content: bytes) -> None:
    path = year_dir / "vide.csv"
    path.write_bytes(content)
    with pytest.raises(
        UnreadableFileError, match=r"MNO/2025/vide\.csv : .*(vide|aucune donnée).*extrayez-le"
    ):
        read_export_file(path, raw)


# --- files of a partition --------------------------------------------------------------


def test_list_export_files_skips_other_files_with_warnings(year_dir: Path) -> None:
    for name in ["b.xlsx", "a.csv", "c.XLS", "d.xlsm", "~$b.xlsx", ".DS_Store", "notice.pdf",
                 "note.docx"]:  # fmt: skip
        (year_dir / name).write_bytes(b"x")
    (year_dir / "archives").mkdir()
    files, warnings = list_export_files(year_dir)
    assert [p.name for p in files] == ["a.csv", "b.xlsx", "c.XLS", "d.xlsm"]
    assert len(warnings) == 5
    for name in ["~$b.xlsx", ".DS_Store", "notice.pdf", "note.docx", "archives"]:
        assert any(f"MNO/2025/{name}" in w for w in warnings), name
    assert "verrou d'Excel" in next(w for w in warnings if "~$b.xlsx" in w)
    assert "fichier caché" in next(w for w in warnings if ".DS_Store" in w)


def test_read_partition_reads_every_file(raw: Path, year_dir: Path) -> None:
    write_xlsx(year_dir / "jeunes.xlsx", {"J": [JEUNES_HEADER, *JEUNES_ROWS]})
    write_xlsx(year_dir / "evenements.xlsx", {"E": [EVENTS_HEADER, *EVENTS_ROWS]})
    (year_dir / "Lisez-moi.pdf").write_bytes(b"%PDF-1.4")
    result = read_partition(year_dir, raw)
    assert [(s.file, s.export_type) for s in result.sheets] == [
        ("MNO/2025/evenements.xlsx", "evenements"),
        ("MNO/2025/jeunes.xlsx", "jeunes"),
    ]
    assert len(result.warnings) == 1 and "Lisez-moi.pdf" in result.warnings[0]


def test_read_partition_fails_on_an_unreadable_file(raw: Path, year_dir: Path) -> None:
    write_xlsx(year_dir / "jeunes.xlsx", {"J": [JEUNES_HEADER, *JEUNES_ROWS]})
    (year_dir / "zz.xlsx").write_bytes(b"")
    with pytest.raises(UnreadableFileError, match=r"MNO/2025/zz\.xlsx"):
        read_partition(year_dir, raw)


# --- unreadable files ------------------------------------------------------------------


def test_truncated_xlsx_refused(raw: Path, year_dir: Path) -> None:
    good = write_xlsx(year_dir / "tmp.xlsx", {"J": [JEUNES_HEADER, *JEUNES_ROWS]})
    path = year_dir / "coupé.xlsx"
    path.write_bytes(good.read_bytes()[:2000])
    good.unlink()
    with pytest.raises(
        UnreadableFileError, match=r"MNO/2025/coupé\.xlsx : .*endommagé.*enregistrez-le"
    ):
        read_export_file(path, raw)


def test_empty_xlsx_refused(raw: Path, year_dir: Path) -> None:
    path = year_dir / "vide.xlsx"
    path.write_bytes(b"")
    with pytest.raises(
        UnreadableFileError, match=r"MNO/2025/vide\.xlsx : le fichier est vide.*extrayez-le"
    ):
        read_export_file(path, raw)


def test_password_protected_workbook_refused(raw: Path, year_dir: Path) -> None:
    path = year_dir / "protégé.xlsx"
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 1024)
    with pytest.raises(UnreadableFileError) as info:
        read_export_file(path, raw)
    message = str(info.value)
    assert message.startswith("MNO/2025/protégé.xlsx : ")
    assert "protégé par mot de passe" in message and "enregistrez-le sans mot de passe" in message


def test_encrypted_package_detected_whatever_the_extension(raw: Path, year_dir: Path) -> None:
    body = b"\x00" * 100 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 100
    path = year_dir / "protégé.xls"
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + body)
    with pytest.raises(UnreadableFileError, match="protégé par mot de passe"):
        read_export_file(path, raw)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"Identifiant jeune;Sexe\n1;F\n",
            "un fichier texte nommé en .xlsx : si c'est un export CSV, renommez-le en .csv",
        ),
        (b"<html><body><table><tr><td>x</td></tr></table></body></html>", "HTML"),
        (bytes(range(256)) * 4, "ce n'est pas un classeur Excel"),
    ],
)
def test_non_workbook_renamed_xlsx_refused(
    raw: Path, year_dir: Path, content: bytes, expected: str
) -> None:
    path = year_dir / "renommé.xlsx"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError) as info:
        read_export_file(path, raw)
    assert str(info.value).startswith("MNO/2025/renommé.xlsx : ")
    assert expected in str(info.value)


def test_xls_saved_with_xlsx_name_is_read(raw: Path, year_dir: Path) -> None:
    wb = xlwt.Workbook()
    ws = wb.add_sheet("S")
    for j, h in enumerate(EVENTS_HEADER):
        ws.write(0, j, h)
    ws.write(1, 0, "1")
    ws.write(1, 1, "04/03/2025")
    ws.write(1, 2, "SMS")
    path = year_dir / "vieux.xlsx"
    wb.save(str(path))
    assert read_one(path, raw).rows_read == 1


def test_workbook_with_only_empty_or_hidden_sheets_refused(raw: Path, year_dir: Path) -> None:
    path = write_xlsx(
        year_dir / "rien.xlsx", {"Vide": [], "Cachée": [EVENTS_HEADER, *EVENTS_ROWS]},
        hidden=("Cachée",),
    )  # fmt: skip
    with pytest.raises(
        UnreadableFileError, match=r"MNO/2025/rien\.xlsx : .*aucune feuille visible"
    ):
        read_export_file(path, raw)


def test_workbook_saved_as_csv_refused(raw: Path, year_dir: Path) -> None:
    good = write_xlsx(year_dir / "tmp.xlsx", {"J": [JEUNES_HEADER, *JEUNES_ROWS]})
    path = year_dir / "jeunes.csv"
    path.write_bytes(good.read_bytes())
    good.unlink()
    with pytest.raises(
        UnreadableFileError, match=r"MNO/2025/jeunes\.csv : .*renommez-le en \.xlsx"
    ):
        read_export_file(path, raw)
