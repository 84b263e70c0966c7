"""What a person reads is French (warehouse.md), and the labels of the real i-milo are read.

Quarantine reasons name the value first, then what to do, and never show a personal value
(the young person's id included); grouped summaries leave the value out of the sentence and
show one beside it, labelled as the value found. The labels of the real system
(exports.md): event types `Entretien par un partenaire`, `Activités extérieures`,
`Prestation`; the theme `Loisir, sport, culture`; a full ROME code in `Secteur`;
`Date de fin réelle` ends a programme, `Date de fin prévue` is ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pipelines import reconcile
from pipelines.runner import format_summary
from pipelines.validate import example_note, fill_reason, generic_reason, unknown_value_warning
from schemas.exports import BUILTIN_REASONS, SCHEMAS, ValidationContext, jeunes_schema
from tests.builders import (
    AIDS,
    EVENTS,
    JEUNES_HEADERS,
    SITUATIONS,
    write_structure,
    write_xlsx,
    young,
)
from tests.conftest import query

# English words that no longer belong in a reason or a warning
ENGLISH = re.compile(
    r"\b(?:is|in column|the|not a|add it|correct it|rerun|unknown|rows?|"
    r"e\.g\.)\b"
)
# a reason or a warning says what to do
ACTION = re.compile(r"\b(?:ajoutez|corrigez|remplissez|gardez|complétez|chargera)\b")


def _zone(raw: Path) -> Path:
    """TST/2025 with one bad value of each kind: a code, a date, two amounts, an unknown
    young person's id and a young person's id that conflicts."""
    write_structure(raw)
    d = raw / "TST" / "2025"
    write_xlsx(
        d / "jeunes.xlsx",
        JEUNES_HEADERS,
        [young("1001"), young("1002", sex="H"), young("7654321"), young("7654321", sex="H")],
    )  # conflicting id
    write_xlsx(
        d / "evenements.xlsx",
        EVENTS,
        [
            ["1001", "03/02/2025", "Visio", None],  # row 2: unknown code
            ["1002", "06/03/2025", "Visio", None],  # row 3: same reason
            ["1001", "31/02/2025", "SMS", None],  # row 4: not a date
            ["1234567", "03/03/2025", "SMS", None],  # row 5: unknown young id
            ["1002", "04/03/2025", "Entretien individuel", None],  # good
        ],
    )
    write_xlsx(
        d / "aides.xlsx",
        AIDS,
        [
            ["1001", "FAJ", "01/03/2025", "-35,50 €", None],  # row 2: negative
            ["1001", "FAJ", "02/03/2025", "douze euros", None],  # row 3: not a number
            ["1002", "FAJ", "03/03/2025", "100", None],  # good
        ],
    )
    return raw


def _reasons(url: str) -> dict[tuple[str, int], dict]:
    rows = query(
        url,
        'SELECT file, row_number, "column", value, reason FROM quarantine '
        "WHERE structure = 'TST' AND year = 2025",
    )
    return {(r["file"].split("/")[-1], r["row_number"]): r for r in rows}


def test_reasons_name_the_value_then_what_to_do_and_never_a_personal_value(
    run, warehouse_url: str, tmp_path: Path
) -> None:
    summary = run(_zone(tmp_path / "raw"), warehouse_url)
    assert not summary.failed, summary.failed
    rows = _reasons(warehouse_url)
    assert rows[("evenements.xlsx", 2)]["reason"] == (
        "Type d'événement « Visio » inconnu (colonne Type d'événement) : ajoutez-le comme "
        "alias dans config/codes.yaml (event_type), ou corrigez-le dans i-milo"
    )
    assert rows[("evenements.xlsx", 4)]["reason"].startswith(
        "Date « 31/02/2025 » illisible (colonne Date de l'événement) : corrigez-la dans i-milo"
    )
    assert rows[("aides.xlsx", 2)]["reason"] == (
        "Montant « -35,50 € » négatif (colonne Montant) : corrigez-le dans i-milo"
    )
    assert rows[("aides.xlsx", 3)]["reason"].startswith(
        "Montant « douze euros » qui n'est pas un nombre (colonne Montant) : corrigez-le"
    )
    unknown_young = rows[("evenements.xlsx", 5)]
    assert unknown_young["reason"].startswith(
        "Jeune absent des lignes valides de l'export jeunes de 2025 (colonne Identifiant "
        "jeune, valeur non reproduite : donnée personnelle) : ajoutez le jeune"
    )
    conflicts = [rows[("jeunes.xlsx", 4)], rows[("jeunes.xlsx", 5)]]
    for r in [unknown_young, *conflicts]:  # the young person's id: personal
        assert r["value"] is None
        assert "1234567" not in r["reason"] and "7654321" not in r["reason"]
        assert "«" not in r["reason"]
    for r in rows.values():
        reason = r["reason"]
        assert not ENGLISH.search(reason), reason
        assert ACTION.search(reason), reason  # says what to do
        assert f"colonne {r['column']}" in reason, reason
        if r["value"] is not None:  # names the value first
            assert reason.index(f"« {r['value']} »") < reason.index(" : "), reason
            assert "'" + r["value"] + "'" not in reason


def test_the_summary_groups_reasons_without_their_value_and_shows_one_as_an_example(
    run, duckdb_url: str, tmp_path: Path
) -> None:
    summary = run(_zone(tmp_path / "raw"), duckdb_url)
    text = format_summary(summary)
    assert "Résumé" in text and "cellules en quarantaine : 8" in text
    line = next(x for x in text.splitlines() if "Type d'événement inconnu" in x)
    assert line.strip() == (
        "2 lignes : Type d'événement inconnu (colonne Type d'événement) : ajoutez-le comme "
        "alias dans config/codes.yaml (event_type), ou corrigez-le dans i-milo "
        "(exemple de valeur refusée : « Visio »)"
    )
    young_line = next(x for x in text.splitlines() if "Jeune présent sur plusieurs" in x)
    assert young_line.strip().startswith("2 lignes : ")
    assert "exemple" not in young_line and "7654321" not in text and "1234567" not in text
    assert "'…'" not in text and "e.g." not in text
    assert (
        "1 ligne : Montant négatif (colonne Montant) : corrigez-le dans i-milo "
        "(exemple de valeur refusée : « -35,50 € »)" in text
    )


def test_every_reason_template_is_french_and_reads_without_its_value() -> None:
    ctx = ValidationContext(year=2025, run_date=dt.date(2026, 1, 6))
    templates = list(BUILTIN_REASONS.values())
    templates += [c.error for c in jeunes_schema(ctx).columns["young_id"].checks]
    for schema_of in SCHEMAS.values():
        schema, row_checks = schema_of(ctx)
        templates += [r.error for r in row_checks]
        for column in schema.columns.values():
            templates += [c.error for c in column.checks]
    assert len(templates) > 15
    for template in templates:
        shown = fill_reason(template, "Colonne X", "V-42")
        hidden = fill_reason(template, "Colonne X", None)
        assert not ENGLISH.search(shown), shown
        assert ACTION.search(shown), shown
        assert "{" not in shown and "{" not in hidden
        assert "V-42" not in hidden and "«  »" not in hidden and "  " not in hidden, hidden
        if "{value}" in template:
            assert "« V-42 »" in shown
            assert generic_reason(shown, "V-42") == hidden  # grouped: a whole sentence


def test_grouping_helpers_and_warnings_read_as_french() -> None:
    reason = fill_reason(
        "Montant « {value} » négatif (colonne {header}) : corrigez-le", "Montant", "-35,50 €"
    )
    assert generic_reason(reason, "-35,50 €") == "Montant négatif (colonne Montant) : corrigez-le"
    assert example_note("-35,50 €") == "exemple de valeur refusée : « -35,50 € »"
    long = "x" * 200
    assert (
        generic_reason(
            fill_reason("Type « {value} » inconnu (colonne {header}) : ajoutez-le", "Type", long),
            long,
        )
        == "Type inconnu (colonne Type) : ajoutez-le"
    )
    assert unknown_value_warning("jeunes, Sexe", "X", 3, "sex", noun="jeune") == (
        "jeunes, Sexe : valeur « X » inconnue, comptée comme Non renseigné (3 jeunes) : "
        "ajoutez-la comme alias dans config/codes.yaml (sex), ou corrigez-la dans i-milo"
    )
    assert "(1 ligne)" in unknown_value_warning("situations, Secteur", "Divers", 1, "rome_domain")


def test_reconciliation_checks_are_described_in_whole_french_sentences() -> None:
    for name, check in reconcile.CHECKS.items():
        description = reconcile.DESCRIPTIONS[name]
        assert description.endswith(".") and description.count("(") == description.count(")")
        assert not ENGLISH.search(description), description
        # the asset check shows the docstring's first line (assets/marts.py): the same
        assert (check.__doc__ or "").strip().splitlines()[0] == description


# --- the labels of the real system (exports.md) ----------------------------------------------


def test_labels_of_the_real_system_are_read(run, duckdb_url: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_structure(raw)
    d = raw / "TST" / "2025"
    write_xlsx(d / "jeunes.xlsx", JEUNES_HEADERS, [young("1001"), young("1002", sex="H")])
    write_xlsx(
        d / "evenements.xlsx",
        EVENTS,
        [
            ["1001", "03/02/2025", "Entretien par un partenaire", None],
            ["1001", "04/02/2025", "Activités extérieures", None],
            ["1002", "05/02/2025", "Prestation", "Réalisé"],
            ["1002", "06/02/2025", "Entretien individuel", None],
        ],
    )
    write_xlsx(
        d / "propositions.xlsx",
        ["Identifiant jeune", "Date de la proposition", "Thème", "État"],
        [["1001", "03/03/2025", "Loisir, sport, culture", "Prescrit"]],
    )
    write_xlsx(
        d / "situations.xlsx",
        SITUATIONS,
        [
            ["1001", "Emploi", "CDD", "01/03/2025", "30/06/2025", "K2111", "Terminé", "Non", None],
            ["1002", "Emploi", "CDI", "01/04/2025", None, "f1703", "En cours", "Non", None],
        ],
    )
    write_xlsx(
        d / "situations-rome.xlsx",
        ["Identifiant jeune", "Catégorie", "Nature", "Date de début", "Code ROME"],
        [["1002", "Emploi", "CDD", "01/09/2025", "N1101"]],
    )
    write_xlsx(
        d / "dispositifs.xlsx",
        [
            "Identifiant jeune",
            "Dispositif",
            "Date d'entrée",
            "Date de fin prévue",
            "Date de fin réelle",
        ],
        [
            ["1001", "CEJ", "01/02/2025", "31/01/2026", "15/06/2025"],
            ["1002", "PACEA", "01/03/2025", "01/01/2025", None],  # a plan before the entry
        ],
    )
    summary = run(raw, duckdb_url)
    assert not summary.failed, summary.failed
    assert query(duckdb_url, "SELECT reason FROM quarantine") == []
    events = query(
        duckdb_url,
        "SELECT event_type, contact_type, is_interview "
        "FROM conformed.evenements ORDER BY source_row",
    )
    assert [(e["contact_type"], e["is_interview"]) for e in events] == [
        ("Autres", False),
        ("Autres", False),
        ("Autres", False),
        ("Entretien", True),
    ]
    themes = query(duckdb_url, "SELECT theme FROM conformed.propositions")
    assert themes == [{"theme": "Insertion sociale"}]
    domains = query(
        duckdb_url, "SELECT rome_domain FROM conformed.situations ORDER BY source_file, source_row"
    )
    assert [r["rome_domain"] for r in domains] == [  # situations-rome.xlsx sorts first
        "Transport et logistique",
        "Services à la personne et à la collectivité",
        "Construction, bâtiment et travaux publics",
    ]
    assert not any("Secteur" in w or "Code ROME" in w for o in summary.outcomes for w in o.warnings)
    programmes = query(
        duckdb_url, "SELECT programme, exit_date FROM conformed.dispositifs ORDER BY source_row"
    )
    assert programmes == [
        {"programme": "CEJ", "exit_date": dt.date(2025, 6, 15)},
        {"programme": "PACEA", "exit_date": None},
    ]
