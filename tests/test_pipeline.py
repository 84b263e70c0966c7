"""End to end through the Dagster assets: staging, conformed, quarantine, ingested_files,
personal data, atomic reloads — on DuckDB and on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.builders import EVENT_HEADERS, JEUNES_HEADERS, drop_zone, write_xlsx, young
from tests.conftest import query


@pytest.fixture
def loaded(tmp_path, warehouse_url, run):
    raw = drop_zone(tmp_path / "raw")
    summary = run(raw, warehouse_url)
    assert not summary.failed, summary.failed
    return warehouse_url, raw


def _quarantine(url: str) -> list[dict]:
    return query(
        url,
        'SELECT file, sheet, row_number, export_type, "column", value, reason '
        'FROM quarantine ORDER BY file, row_number, "column"',
    )


def test_every_rejection_reason_goes_to_quarantine_with_file_row_column(loaded):
    url, _ = loaded
    rows: dict[tuple, dict] = {}
    for r in _quarantine(url):  # a cell with two faults has two reasons
        key = (r["file"].split("/")[-1], r["row_number"], r["column"])
        if key in rows:
            rows[key]["reason"] += " | " + r["reason"]
        else:
            rows[key] = r
    expected = {
        ("jeunes.xlsx", 9, "Identifiant jeune"): "sur plusieurs lignes aux valeurs différentes",
        ("jeunes.xlsx", 10, "Identifiant jeune"): "sur plusieurs lignes aux valeurs différentes",
        ("jeunes.xlsx", 11, "Identifiant jeune"): "vide alors qu'elle est obligatoire",
        ("evenements.xlsx", 4, "Nature du contact"): "Type d'événement « Visio » inconnu",
        ("evenements.xlsx", 6, "N° dossier"): "Jeune absent des lignes valides de l'export jeunes",
        ("evenements.xlsx", 7, "Date"): "hors de l'année 2025",
        ("evenements.xlsx", 8, "Date"): "postérieure au jour du run",
        ("evenements.xlsx", 9, "Date"): "antérieure au 01/01/1990",
        ("evenements.xlsx", 10, "Date"): "Date « bientôt » illisible (colonne Date)",
        ("evenements.xlsx", 11, "Date"): "vide alors qu'elle est obligatoire",
        ("evenements.xlsx", 12, "Statut"): "Statut d'événement « Peut-être » non reconnu",
        ("evenements.xlsx", 13, "N° dossier"): "Jeune absent des lignes valides de l'export jeunes",
        ("situations.xlsx", 4, "Date de fin"): "antérieure à la date de début",
        ("situations.xlsx", 6, "Nature"): "Nature de situation « Stage » inconnue pour sa",
        ("situations.xlsx", 7, "Date de début"): "sans aucun jour en 2025",
        ("situations.xlsx", 8, "Mise en œuvre par la ML"): "qui n'est pas un oui/non",
        ("situations.xlsx", 9, "Date de fin"): "Date « nope » illisible (colonne Date de fin)",
        ("aides.xlsx", 3, "Montant"): "négatif",
        ("aides.xlsx", 5, "Montant"): "Montant « NC » qui n'est pas un nombre",
        ("aides.xlsx", 8, "Référence de l'aide"): "sur plusieurs lignes aux valeurs différentes",
        ("aides.xlsx", 9, "Référence de l'aide"): "sur plusieurs lignes aux valeurs différentes",
    }
    for key, fragment in expected.items():
        assert key in rows, f"missing quarantine row {key}"
        assert fragment in rows[key]["reason"], (key, rows[key]["reason"])
    assert set(rows) == set(expected)
    # the young person's id is personal data: never shown in the quarantine
    assert all(
        r["value"] is None
        for r in rows.values()
        if r["column"] in ("Identifiant jeune", "N° dossier")
    )
    assert {r["sheet"] for r in rows.values()} == {"Export"}


def test_every_row_read_is_loaded_rejected_or_merged(loaded):
    url, _ = loaded
    files = {r["file"].split("/")[-1]: r for r in query(url, "SELECT * FROM ingested_files")}
    assert {
        f: (r["rows_read"], r["rows_loaded"], r["rows_rejected"]) for f, r in files.items()
    } == {
        "jeunes.xlsx": (8, 4, 3),
        "evenements.xlsx": (12, 3, 9),
        "situations.xlsx": (10, 5, 5),
        "aides.xlsx": (9, 4, 4),
        "suivi.xlsx": (3, 3, 0),
        "propositions.csv.xlsx": (2, 2, 0),
    }
    # aides: 9 read = 4 loaded + 4 rejected + 1 repeat merged; jeunes: 1 repeat merged
    assert all(len(r["sha256"]) == 64 for r in files.values())


def test_conformed_tables_hold_clean_typed_values(loaded):
    url, _ = loaded
    youth = {
        r["commune_as_typed"] + "/" + r["sex"]: r
        for r in query(url, "SELECT * FROM conformed.jeunes ORDER BY source_row")
    }
    assert len(youth) == 4
    marcq = youth["MARCQ EN BAROEUL/Hommes"]
    assert (marcq["commune_insee"], marcq["commune"], marcq["qpv"], marcq["qualification"]) == (
        "59378",
        "Marcq-en-Barœul",
        "Briqueterie",
        "BEP/CAP",
    )
    assert youth["Lille/Femmes"]["commune_insee"] == "99999"
    assert youth["Lille/Femmes"]["commune"] == "Hors territoire"
    assert youth["Lambersart/Non renseigné"]["housing"] == "Logement parents"
    events = query(
        url,
        "SELECT contact_type, is_interview, is_contact, status "
        "FROM conformed.evenements ORDER BY source_row",
    )
    assert [(e["contact_type"], e["is_interview"], e["is_contact"]) for e in events] == [
        ("Entretien", True, True),
        ("SMS", False, True),
        ("Entretien", True, False),
    ]
    situations = query(
        url,
        "SELECT category, nature, detail, is_pec, rome_domain, "
        "prepared_level FROM conformed.situations ORDER BY source_row",
    )
    assert [(s["category"], s["detail"]) for s in situations] == [
        ("Emploi", "CDI"),
        ("Emploi", "CUI"),
        ("Alternance", "Alternance"),
        ("Emploi", "CDD"),
        ("Formation", "Formation initiale"),
    ]
    assert situations[1]["is_pec"] is True
    assert situations[3]["rome_domain"] == "Non renseigné"  # unknown optional code: kept
    assert situations[2]["prepared_level"] == "BAC"
    aids = query(
        url, "SELECT aid_type, amount, is_granted FROM conformed.aides ORDER BY source_row"
    )
    assert [(a["aid_type"], float(a["amount"]), a["is_granted"]) for a in aids] == [
        ("Allocation CEJ", 1234.56, True),
        ("FAJ", 100.10, False),
        ("FAJ", 10.0, True),
        ("Aide au permis", 300.0, True),
    ]
    programmes = query(
        url,
        "SELECT programme, entry_date, exit_date, exit_reason "
        "FROM conformed.dispositifs ORDER BY source_row",
    )
    assert [(p["programme"], str(p["entry_date"]), p["exit_reason"]) for p in programmes] == [
        ("CEJ", "2025-02-01", "Emploi"),
        ("PACEA", "2025-01-15", None),
        ("Dispositif local", "2025-01-15", None),
    ]
    proposals = query(
        url,
        "SELECT theme, theme_as_typed, state, action_label "
        "FROM conformed.propositions ORDER BY source_row",
    )
    assert [(p["theme"], p["state"]) for p in proposals] == [
        ("Insertion sociale", "Réalisé"),
        ("Projet professionnel / Orientation", None),
    ]
    assert proposals[0]["theme_as_typed"] == "Loisirs, sport, culture"
    communes = query(url, "SELECT commune FROM conformed.communes ORDER BY position")
    assert [c["commune"] for c in communes] == ["La Madeleine", "Lambersart", "Marcq-en-Barœul"]


def test_no_personal_data_in_any_table(loaded):
    url, _ = loaded
    from pipelines import tables as t

    forbidden = [
        "TESTNOM",
        "Prénom",
        "06 00 00 00 00",
        "example.invalid",
        "Mme Conseillère",
        "loyer",
        "1001",
        "1002",
        "1003",
        "1004",
    ]
    for table in t.metadata.sorted_tables:
        name = f"{table.schema}.{table.name}" if table.schema else table.name
        for row in query(url, f"SELECT * FROM {name}"):
            for value in row.values():
                text = str(value)
                hits = [f for f in forbidden if f == text or (len(f) > 5 and f in text)]
                assert not hits, f"{name} holds personal data {hits}: {row}"
    ids = {r["young_id"] for r in query(url, "SELECT young_id FROM conformed.jeunes")}
    assert all(len(i) == 64 for i in ids)  # HMAC-SHA256 hex


def test_pseudonyms_are_keyed(tmp_path, duckdb_url, run, monkeypatch):
    from pipelines.pseudonym import KEY_VARIABLE

    raw = drop_zone(tmp_path / "raw")
    run(raw, duckdb_url)
    first = {r["young_id"] for r in query(duckdb_url, "SELECT young_id FROM conformed.jeunes")}
    monkeypatch.setenv(KEY_VARIABLE, "another-key-of-this-test-0123456789")
    run(raw, duckdb_url)
    second = {r["young_id"] for r in query(duckdb_url, "SELECT young_id FROM conformed.jeunes")}
    assert len(first) == len(second) == 4 and not first & second


def test_a_broken_file_keeps_the_partitions_last_good_state(loaded, run):
    url, raw = loaded
    before = query(
        url,
        "SELECT indicator, value FROM indicator_values ORDER BY indicator, "
        "commune_insee, category_1",
    )
    staged_before = query(url, "SELECT count(*) AS n FROM staging.evenements")[0]["n"]
    # a re-export that would change the figures, next to a corrupt file
    write_xlsx(
        raw / "TST" / "2025" / "evenements.xlsx",
        EVENT_HEADERS,
        [["1001", "02/02/2025", "SMS", None, "x"]],
    )
    (raw / "TST" / "2025" / "aides-corrompu.xlsx").write_bytes(b"PK\x03\x04 truncated")
    summary = run(raw, url)
    assert len(summary.failed) == 1
    assert "aides-corrompu.xlsx" in summary.failed[0].error
    assert (
        query(
            url,
            "SELECT indicator, value FROM indicator_values ORDER BY indicator, "
            "commune_insee, category_1",
        )
        == before
    )
    assert query(url, "SELECT count(*) AS n FROM staging.evenements")[0]["n"] == staged_before


def test_reloading_replaces_the_partition(loaded, run):
    url, raw = loaded
    write_xlsx(
        raw / "TST" / "2025" / "evenements.xlsx",
        EVENT_HEADERS,
        [["1001", "02/02/2025", "SMS", None, "x"]],
    )
    assert not run(raw, url).failed
    assert (
        query(
            url,
            "SELECT value FROM indicator_values WHERE indicator = 'contacts' "
            "AND commune_insee IS NULL AND dimension_1 IS NULL",
        )[0]["value"]
        == 1
    )
    assert (
        query(url, "SELECT count(*) AS n FROM quarantine WHERE export_type = 'evenements'")[0]["n"]
        == 0
    )
    assert query(url, "SELECT count(*) AS n FROM ingested_files")[0]["n"] == 6


def test_structure_without_structure_yaml_is_refused(tmp_path, duckdb_url, run):
    raw = tmp_path / "raw"
    write_xlsx(raw / "NEW" / "2025" / "jeunes.xlsx", JEUNES_HEADERS, [young("1")])
    summary = run(raw, duckdb_url)
    assert len(summary.failed) == 1
    assert "structure.yaml" in summary.failed[0].error
    assert "territory" in summary.failed[0].error
