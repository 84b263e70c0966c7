"""The analysts' view `indicateurs` (warehouse.md): the figures of `indicator_values` without
their null conventions, on DuckDB and PostgreSQL, and the README's example queries."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines import view_sql
from pipelines.compute import catalogue, view_statements
from pipelines.ddl import replace_changed
from pipelines.store import prepare
from pipelines.warehouse import Warehouse
from tests.conftest import query
from tests.test_indicators import edge_cases

README = Path(__file__).resolve().parents[1] / "README.md"
COLUMNS = [
    "structure",
    "annee",
    "code",
    "libelle",
    "unite",
    "niveau",
    "commune_insee",
    "commune",
    "dimension_1",
    "categorie_1",
    "dimension_2",
    "categorie_2",
    "valeur",
    "montant_euros",
]
AMOUNTS = {i.code for i in catalogue().indicators if i.measure == "amount"}


@pytest.fixture
def loaded(tmp_path: Path, warehouse_url: str, run) -> str:
    """The edge-case partition (communes, breakdowns, euros) loaded; the published URL."""
    raw = edge_cases(tmp_path / "raw")
    assert not run(raw, warehouse_url).failed
    return warehouse_url


def _level(row: dict) -> str:
    if row["dimension_1"] is not None:
        return "ventilation"
    return "commune" if row["commune_insee"] is not None else "total"


def test_one_view_row_per_figure_with_its_level_and_labels(loaded: str) -> None:
    values = query(loaded, "SELECT * FROM indicator_values")
    view = query(loaded, "SELECT * FROM indicateurs")
    assert values and len(view) == len(values)
    assert list(view[0]) == COLUMNS
    labels = view_sql.dimension_labels()
    codes = {label: code for code, label in labels.items()}
    key = (
        "structure",
        "year",
        "indicator",
        "commune_insee",
        "dimension_1",
        "category_1",
        "dimension_2",
        "category_2",
    )
    expected = {tuple(r[k] for k in key): r for r in values}
    assert len(expected) == len(values)
    seen = set()
    for row in view:
        source = expected[
            (
                row["structure"],
                row["annee"],
                row["code"],
                row["commune_insee"],
                codes.get(row["dimension_1"]),
                row["categorie_1"],
                codes.get(row["dimension_2"]),
                row["categorie_2"],
            )
        ]
        seen.add(id(source))
        assert row["niveau"] == _level(source)
        for n in ("1", "2"):
            code = source[f"dimension_{n}"]
            assert row[f"dimension_{n}"] == (None if code is None else labels[code])
        assert row["libelle"] and row["unite"]
    assert len(seen) == len(values)  # every indicator_values row once
    assert {r["niveau"] for r in view} == {"total", "commune", "ventilation"}
    assert "Tranche d'âge" in {r["dimension_1"] for r in view}


def test_counts_are_integers_and_euros_keep_their_cents(loaded: str) -> None:
    view = query(loaded, "SELECT * FROM indicateurs")
    for row in view:
        if row["code"] in AMOUNTS:
            assert row["valeur"] is None and isinstance(row["montant_euros"], Decimal)
        else:
            assert row["montant_euros"] is None and type(row["valeur"]) is int, row
    total = [r for r in view if r["code"] == "aid_amount" and r["niveau"] == "total"]
    assert total[0]["montant_euros"] == Decimal("1100.74")
    # the column types an analyst's tool sees: integers, not DECIMAL shown as `195.00`
    types = {
        r["column_name"]: r
        for r in query(
            loaded,
            "SELECT column_name, data_type, numeric_scale FROM information_schema.columns "
            "WHERE table_name = 'indicateurs'",
        )
    }
    assert types["valeur"]["data_type"].upper() == "BIGINT", types["valeur"]
    assert types["montant_euros"]["data_type"].upper().startswith(("NUMERIC", "DECIMAL"))
    assert types["montant_euros"]["numeric_scale"] == 2


def test_sums_by_level_give_the_figures_without_double_count(loaded: str) -> None:
    values = query(loaded, "SELECT * FROM indicator_values")
    totals, communes = {}, defaultdict(Decimal)
    for r in values:
        if _level(r) == "total":
            totals[r["indicator"]] = Decimal(r["value"])
        elif _level(r) == "commune":
            communes[r["indicator"]] += Decimal(r["value"])
    sums = query(
        loaded,
        """
        SELECT code, niveau, SUM(valeur) AS valeur, SUM(montant_euros) AS euros, COUNT(*) AS n
        FROM indicateurs WHERE niveau IN ('total', 'commune') GROUP BY code, niveau""",
    )
    by = {(r["code"], r["niveau"]): r for r in sums}
    assert set(totals) == {c for c, n in by if n == "total"}
    for code, value in totals.items():
        row = by[(code, "total")]
        assert row["n"] == 1  # one total per partition: a SUM never adds it twice
        assert Decimal(row["euros" if code in AMOUNTS else "valeur"]) == value, code
    for code, value in communes.items():
        row = by[(code, "commune")]
        assert Decimal(row["euros" if code in AMOUNTS else "valeur"]) == value, code
    # the trap the view removes: a plain SUM over indicator_values adds totals, communes
    # and breakdown cells together
    plain = query(
        loaded, "SELECT SUM(value) AS s FROM indicator_values WHERE indicator = 'new_arrivals'"
    )[0]["s"]
    assert Decimal(plain) > totals["new_arrivals"]


def test_a_changed_label_replaces_the_view_once(loaded: str, monkeypatch) -> None:
    """The labels come from config/dimension_labels.yaml; the view is replaced only when the
    text made from them changes (the fingerprint of replace_changed)."""
    wh = Warehouse(loaded)
    try:
        prepare(wh)
        with wh.transaction() as conn:
            assert replace_changed(conn, view_statements()) == []
        changed = {**view_sql.dimension_labels(), "sex": "Sexe du jeune"}
        monkeypatch.setattr(view_sql, "dimension_labels", lambda: changed)
        default = "public" if wh.dialect == "postgresql" else "main"
        with wh.transaction() as conn:
            assert replace_changed(conn, view_statements()) == [f"{default}.indicateurs"]
        with wh.transaction() as conn:
            assert replace_changed(conn, view_statements()) == []
            labels = {
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT DISTINCT dimension_1 FROM indicateurs WHERE code = 'new_arrivals'"
                    )
                )
            }
    finally:
        wh.dispose()
    assert "Sexe du jeune" in labels and "Sexe" not in labels


def _readme_queries() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return [b for b in blocks if "FROM indicateurs" in b]


def test_the_demo_new_arrivals_and_the_readme_queries(demo_warehouse) -> None:
    """On the demo: 815 new arrivals in 2025 through the view, where a plain SUM of
    indicator_values over-counts; the README's example queries run and agree."""
    url = demo_warehouse[0]
    total = query(
        url,
        "SELECT SUM(valeur) AS n FROM indicateurs WHERE structure = 'MNO' "
        "AND annee = 2025 AND code = 'new_arrivals' AND niveau = 'total'",
    )
    assert total[0]["n"] == 815
    plain = query(
        url,
        "SELECT SUM(value) AS n FROM indicator_values WHERE structure = 'MNO' "
        "AND year = 2025 AND indicator = 'new_arrivals'",
    )
    assert plain[0]["n"] == 6520  # the figure the README quotes
    queries = _readme_queries()
    assert len(queries) >= 2, "the README gives two example queries of `indicateurs`"
    results = [query(url, q) for q in queries]
    assert all(results)
    communes = results[0]
    assert (
        sum(r["valeur"] for r in communes)
        == query(
            url,
            """
        SELECT SUM(value) AS n FROM indicator_values WHERE structure = 'MNO' AND year = 2025
        AND indicator = 'new_arrivals' AND commune_insee IS NOT NULL
        AND dimension_1 IS NULL""",
        )[0]["n"]
    )
