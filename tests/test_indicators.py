"""Counting rules on hand-built exports where each rule's edge is visible (indicators.md),
on DuckDB and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from pipelines import reconcile
from tests.builders import (
    AIDS,
    EVENTS,
    JEUNES_HEADERS,
    PROGRAMMES,
    PROPOSALS,
    SITUATIONS,
    write_structure,
    write_xlsx,
    young,
)
from tests.conftest import query


def edge_cases(raw: Path) -> Path:
    write_structure(raw)
    d = raw / "TST" / "2025"
    write_xlsx(
        d / "jeunes.xlsx",
        JEUNES_HEADERS,
        [
            # A: Lambersart, woman, 21 on 31/12/2025 (born 01/06/2004), first received 2025
            young(
                "A", birth="01/06/2004", first="15/01/2025", level="BAC", licence="Oui", rqth="Oui"
            ),
            # B: Marcq, man, QPV, 17 at first reception (03/03/2025), 18 on 31/12/2025
            young(
                "B",
                sex="H",
                birth="01/07/2007",
                commune="Marcq-en-Barœul",
                qpv="Briqueterie",
                first="03/03/2025",
                level="Sans diplôme",
                licence="Non",
                housing="Foyer",
            ),
            # C: outside the territory, received in 2024 (not a new arrival of 2025)
            young("C", commune="Lille", first="10/10/2024", level="Niveau 5 (BTS)"),
            # D: no commune at all, no birth date
            young("D", commune=None, birth=None, first=None, level="???"),
        ],
    )
    write_xlsx(
        d / "evenements.xlsx",
        EVENTS,
        [
            ["A", "01/01/2025", "Entretien individuel", None],  # first day of the year
            ["A", "31/12/2025", "SMS", "Réalisé"],  # last day of the year
            ["A", "15/03/2025", "Atelier", "Absent"],  # not a contact
            ["B", "10/03/2025", "E-mail", None],  # within B's CEJ period
            ["B", "10/09/2025", "Entretien", "Présent"],  # after B's CEJ ended
            ["C", "05/05/2025", "Téléphone", None],
            ["D", "06/06/2025", "Courrier", "Planifié"],  # planned: not a contact
        ],
    )
    write_xlsx(
        d / "situations.xlsx",
        SITUATIONS,
        [
            ["A", "Emploi", "CDI", "01/02/2025", None, "N", "En cours", None, None],
            ["A", "Emploi", "CDD", "01/11/2025", "31/01/2026", "D", "Prévu", None, None],  # Prévu
            ["A", "Demandeur d'emploi", "Inscrit", "01/01/2025", None, None, None, None, None],
            [
                "B",
                "Service civique",
                "Service civique",
                "01/10/2024",
                "30/06/2025",
                None,
                None,
                None,
                None,
            ],  # spans two years
            ["B", "Immersion", "PMSMP", "20/03/2025", "25/03/2025", None, None, None, None],
            ["B", "Alternance", "Apprentissage", "01/09/2025", None, "F", None, None, "CAP"],
            ["B", "Emploi", "PEC", "01/05/2025", None, "K", None, "Oui", None],
            ["C", "Scolarité", None, "01/09/2025", None, None, None, None, None],
            [
                "C",
                "Contrat de volontariat - bénévolat",
                "Service civique",
                "01/02/2025",
                None,
                None,
                None,
                None,
                None,
            ],
        ],
    )
    write_xlsx(
        d / "dispositifs.xlsx",
        PROGRAMMES,
        [
            ["B", "CEJ", "01/03/2025", "30/06/2025"],  # CEJ ending mid-year
            ["A", "PACEA", "01/12/2024", None],  # entry in 2024: active only
            ["A", "Parrainage", "01/04/2025", None],
            ["C", "Dispositif local", "01/04/2025", None],
        ],
    )
    write_xlsx(
        d / "aides.xlsx",
        AIDS,
        [
            ["B", "Allocation CEJ", "01/04/2025", "500", "Versé"],
            ["B", "Allocation CEJ", "01/05/2025", "500,50", None],
            ["A", "FAJ", "01/05/2025", "120", "Refusé"],  # refused: not counted
            ["A", "FAJ", "02/05/2025", "80,25", "Accordé"],
            ["C", "Aide mobilité", "02/05/2025", "19,99", None],
        ],
    )
    write_xlsx(
        d / "propositions.xlsx",
        PROPOSALS,
        [
            ["A", "02/02/2025", "Emploi", "Refus jeune"],
            ["B", "03/02/2025", "Logement", None],
        ],
    )
    return raw


@pytest.fixture
def figures(tmp_path, warehouse_url, run):
    raw = edge_cases(tmp_path / "raw")
    assert not run(raw, warehouse_url).failed
    rows = query(warehouse_url, "SELECT * FROM indicator_values")

    def value(indicator, commune=None, d1=None, c1=None, d2=None, c2=None):
        found = [
            r["value"]
            for r in rows
            if r["indicator"] == indicator
            and r["commune_insee"] == commune
            and r["dimension_1"] == d1
            and r["category_1"] == c1
            and r["dimension_2"] == d2
            and r["category_2"] == c2
        ]
        assert len(found) == 1, (indicator, commune, d1, c1, d2, c2, found)
        return found[0]

    value.rows = rows
    value.url = warehouse_url
    return value


def test_new_arrivals_and_their_breakdowns(figures):
    assert figures("new_arrivals") == 2
    assert figures("new_arrivals", "59328") == 1 and figures("new_arrivals", "59378") == 1
    assert figures("new_arrivals", "59368") == 0  # territory commune with zero
    assert (
        figures(
            "new_arrivals", d1="age_band", c1="16-17 ans", d2="qualification", c2="Aucun diplôme"
        )
        == 1
    )  # age at first reception
    assert figures("new_arrivals", d1="driving_licence", c1="Titulaire") == 1
    assert figures("new_arrivals", d1="housing", c1="Logement précaire") == 1
    assert figures("new_arrivals_qpv") == 1
    assert figures("new_arrivals_qpv", d1="qpv", c1="Briqueterie") == 1


def test_contacts_count_the_first_and_last_day_but_no_absence(figures):
    assert figures("contacts") == 5  # A×2, B×2, C×1; absent and planned excluded
    assert figures("interviews") == 2
    assert figures("contacts", d1="contact_type", c1="Autres") == 0
    assert figures("youth_in_contact") == 3
    assert figures("youth_in_contact", "99999") == 1  # outside the territory
    assert not [
        r
        for r in figures.rows
        if r["commune_insee"] == "00000" and r["indicator"] == "youth_in_contact"
    ]  # D has no event: no row


def test_youth_interviewed_age_at_end_of_year(figures):
    assert figures("youth_interviewed") == 2
    assert figures("youth_interviewed", d1="age_band", c1="18-21 ans") == 2  # B is 18 on 31/12
    assert figures("youth_interviewed", d1="age_band", c1="16-17 ans") == 0
    assert figures("rqth_youth") == 1


def test_situations_rules(figures):
    assert figures("employment_contracts") == 3  # CDI, PEC, Apprentissage; Prévu excluded
    assert figures("employment_contracts", d1="contract_type", c1="CUI") == 1
    assert figures("employment_youth") == 2
    assert figures("pec_contracts") == 1
    assert figures("immersions") == 1
    assert figures("apprenticeship_contracts", d1="qualification", c1="BEP/CAP") == 1
    assert figures("civic_service_active") == 2  # B spans 2024-2025; C by its nature
    assert figures("civic_service_started") == 1
    assert figures("training_entries", d1="training_type", c1="Formation initiale") == 1
    assert figures("apprenticeship_followed") == 1  # B seen on 10/09, within the contract


def test_cej_period_ending_mid_year(figures):
    assert figures("cej_active") == 1 and figures("cej_entries") == 1
    assert figures("cej_entries", d1="age_band", c1="16-17 ans") == 1  # at entry 01/03/2025
    assert figures("cej_contacts") == 1  # the e-mail of March, not September's
    assert figures("cej_contacts", d1="contact_type", c1="E-mail") == 1
    assert figures("cej_measures") == 2  # immersion of 20/03, PEC of 01/05
    assert figures("cej_measures", d1="measure_type", c1="Emploi") == 1
    assert figures("cej_measures", d1="measure_type", c1="Alternance") == 0  # after 30/06
    assert figures("cej_measures", d1="measure_type", c1="Immersion en entreprise") == 1
    assert figures("programme_entries") == 3  # B (CEJ), A (Parrainage), C (local)
    assert figures("programme_entries", d1="programme", c1="Dispositif local") == 1
    assert figures("sponsorship_entries") == 1


def test_aids_refused_are_not_counted_and_amounts_are_exact(figures):
    assert figures("aid_amount") == Decimal("1100.74")
    assert figures("aid_amount", "59378", "aid_type", "Allocation CEJ") == Decimal("1000.50")
    assert figures("aid_files", d1="aid_type", c1="FAJ") == 1
    assert figures("aid_recipients") == 3
    assert figures("aid_recipients", d1="aid_type", c1="Fonds ML - aide directe") == 0
    assert figures("aid_amount", "99999", "aid_type", "Aide mobilité") == Decimal("19.99")
    assert figures("proposals") == 2


def test_reconciliation_checks_pass_on_real_figures(figures):
    values = pd.DataFrame(figures.rows)
    for name, check in reconcile.CHECKS.items():
        assert check(values).empty, name


def test_reconciliation_checks_name_the_faulty_cells(figures):
    values = pd.DataFrame(figures.rows)
    tampered = values.copy()
    hit = (tampered["indicator"] == "contacts") & (tampered["commune_insee"] == "59328")
    tampered.loc[hit, "value"] = 99
    hit = (
        (tampered["indicator"] == "aid_amount")
        & (tampered["category_1"] == "FAJ")
        & tampered["commune_insee"].isna()
    )
    tampered.loc[hit, "value"] = Decimal("80.26")
    hit = (
        (tampered["indicator"] == "interviews")
        & tampered["commune_insee"].isna()
        & tampered["dimension_1"].isna()
    )
    tampered.loc[hit, "value"] = 50
    communes = reconcile.communes_sum_to_total(tampered)
    assert set(communes["indicateur"]) == {"contacts", "interviews"}
    breakdowns = reconcile.breakdowns_sum_to_total(tampered)
    assert {"aid_amount"} <= set(breakdowns["indicateur"])
    assert "FAJ" in set(breakdowns["cellule"])
    inequalities = reconcile.inequalities_hold(tampered)
    assert set(inequalities["règle"]) == {"interviews ≤ contacts"}


def test_lineage_query_lists_the_units_behind_a_cell(figures):
    rows = query(
        figures.url,
        """
        SELECT u.unit_key, e.event_date, e.contact_type
        FROM marts.indicator_units u
        JOIN conformed.evenements e ON e.row_key = u.unit_key
        WHERE u.structure = 'TST' AND u.year = 2025 AND u.indicator = 'cej_contacts'
    """,
    )
    assert len(rows) == 1 and rows[0]["contact_type"] == "E-mail"
    assert rows[0]["unit_key"] == "TST/2025/evenements.xlsx#Export!5"


def test_a_second_structure_leaves_the_first_untouched(tmp_path, duckdb_url, run):
    raw = edge_cases(tmp_path / "raw")
    run(raw, duckdb_url)
    before = query(
        duckdb_url,
        "SELECT * FROM indicator_values WHERE structure = 'TST' "
        "ORDER BY indicator, commune_insee, category_1, category_2",
    )
    write_structure(raw, "OTH", territory=[{"insee": "75056", "name": "Paris"}])
    write_xlsx(
        raw / "OTH" / "2025" / "j.xlsx",
        JEUNES_HEADERS,
        [young("A", commune="PARIS", first="01/02/2025")],
    )
    assert not run(raw, duckdb_url, structures=["OTH"]).failed
    assert (
        query(
            duckdb_url,
            "SELECT value FROM indicator_values WHERE structure = 'OTH' AND "
            "indicator = 'new_arrivals' AND commune_insee = '75056'",
        )[0]["value"]
        == 1
    )
    after = query(
        duckdb_url,
        "SELECT * FROM indicator_values WHERE structure = 'TST' "
        "ORDER BY indicator, commune_insee, category_1, category_2",
    )
    assert after == before
