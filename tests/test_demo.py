"""The demo reproduces the real 2025 report: every figure to the unit and to the cent, every
share, merged figure and year-over-year change it prints (shared/contract)."""

from __future__ import annotations

import csv
import re
import tomllib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from setuptools import find_packages

import pipelines.config
from pipelines.cli import main
from tests.conftest import query

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "contract"
COPY = ROOT / "demo" / "targets"
KEY = [
    "structure",
    "year",
    "indicator",
    "commune_insee",
    "dimension_1",
    "category_1",
    "dimension_2",
    "category_2",
]


def contract_file(name: str) -> Path:
    """The contract's CSV beside the checkout, else the demo generator's copy of it."""
    return SHARED / name if (SHARED / name).exists() else COPY / name


@pytest.fixture(scope="module")
def demo(demo_warehouse) -> str:
    return demo_warehouse[0]


def _norm(value: object) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _values(url: str) -> dict[tuple, Decimal]:
    rows = query(url, f"SELECT {', '.join(KEY)}, value FROM indicator_values")
    return {tuple(_norm(r[k]) for k in KEY): Decimal(str(r["value"])) for r in rows}


def test_every_figure_of_the_2025_report(demo):
    actual = _values(demo)
    with contract_file("report-2025-expected.csv").open(encoding="utf-8") as f:
        expected = list(csv.DictReader(f))
    assert len(expected) > 350
    wrong = []
    for row in expected:
        key = tuple(_norm(row[k]) for k in KEY)
        got = actual.get(key)
        if got is None or abs(got - Decimal(row["value"])) > Decimal("0.005"):
            wrong.append((key, row["value"], got))
    assert not wrong, f"{len(wrong)} figures differ, e.g. {wrong[:5]}"


def _half_up(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _half_away(x: Decimal) -> int:
    return int(x.copy_abs().quantize(Decimal(1), rounding=ROUND_HALF_UP)) * (1 if x >= 0 else -1)


def _cells(
    values: dict, year: int, indicator: str, d1: str, cats: list[str], d2: str | None
) -> Decimal:
    """Sum of the categories (over the margin of dimension_2 when it is set)."""
    total = Decimal(0)
    for key, v in values.items():
        _, y, ind, commune, k1, c1, k2, c2 = key
        if (int(y), ind, commune, k1) != (year, indicator, None, d1) or c1 not in cats:
            continue
        if (d2 is None and k2 is None) or (d2 is not None and k2 == d2):
            total += v
    return total


def _total(values: dict, year: int, indicator: str) -> Decimal:
    return values[("MNO", str(year), indicator, None, None, None, None, None)]


def test_every_share_merged_figure_and_change_the_report_prints(demo):
    values = _values(demo)
    with contract_file("report-2025-shares.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    wrong = []
    for r in rows:
        ind, kind, expected = r["indicator"], r["kind"], int(r["value"])
        d1 = _norm(r["dimension_1"])
        cats = [c.strip() for c in r["categories"].split(" + ")] if r["categories"] else []
        d2 = _norm(r["dimension_2"])
        if kind in ("share_pct", "share_pct_prev_year"):
            year = 2025 if kind == "share_pct" else 2024
            got = _half_up(
                Decimal(100) * _cells(values, year, ind, d1, cats, d2) / _total(values, year, ind)
            )
        elif kind == "merged_count":
            got = int(_cells(values, 2025, ind, d1, cats, d2))
        elif kind == "change_pct":
            if d1:
                now = _cells(values, 2025, ind, d1, cats, d2)
                before = _cells(values, 2024, ind, d1, cats, d2)
            else:
                now, before = _total(values, 2025, ind), _total(values, 2024, ind)
            got = _half_away(Decimal(100) * (now - before) / before)
        else:
            raise AssertionError(f"unknown kind {kind}")
        if got != expected:
            wrong.append((ind, d1, r["categories"], kind, expected, got))
    assert not wrong, wrong


def test_trends_table_gives_the_reports_changes(demo):
    rows = query(
        demo,
        "SELECT indicator, change FROM indicator_trends WHERE structure = 'MNO' "
        "AND year = 2025 AND commune_insee IS NULL AND dimension_1 IS NULL",
    )
    changes = {r["indicator"]: _half_away(Decimal(str(r["change"])) * 100) for r in rows}
    assert changes["new_arrivals"] == 9 and changes["contacts"] == 32
    assert changes["apprenticeship_contracts"] == -19 and changes["rqth_youth"] == 13


def test_demo_quarantines_its_deliberately_bad_rows(demo):
    rows = query(demo, "SELECT year, count(*) AS n FROM quarantine GROUP BY year")
    assert all(r["n"] > 0 for r in rows) and len(rows) == 2
    files = query(demo, "SELECT rows_read, rows_loaded, rows_rejected FROM ingested_files")
    assert all(f["rows_read"] >= f["rows_loaded"] + f["rows_rejected"] for f in files)


def _doc_queries() -> list[str]:
    text = (ROOT / "docs" / "lineage.md").read_text(encoding="utf-8")
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize(
    "sql", _doc_queries(), ids=lambda q: re.search(r"indicator = '(\w+)'", q)[1]
)
def test_documented_lineage_queries_return_the_units_of_the_cell(demo, sql):
    rows = query(demo, sql)
    where = sql.split("WHERE", 1)[1]
    units = query(demo, f"SELECT count(*) AS n FROM marts.indicator_units u WHERE {where}")
    assert len(rows) == units[0]["n"] > 0


def test_the_installed_package_leaves_the_demo_in_the_checkout():
    found = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    rule = found["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(str(ROOT), include=rule["include"], exclude=rule.get("exclude", ()))
    assert "pipelines" in packages
    assert not [p for p in packages if p.split(".")[0] == "demo" or ".demo" in p], packages


def test_the_demo_generator_is_split_in_small_modules():
    sizes = {
        p.name: len(p.read_text(encoding="utf-8").splitlines())
        for p in (ROOT / "demo").glob("*.py")
    }
    assert len(sizes) > 10 and max(sizes.values()) < 600, sizes


def test_demo_without_a_checkout_says_it_needs_one(tmp_path: Path, monkeypatch, capsys):
    # an installation without the repository around it: no demo/ beside the package
    monkeypatch.setattr(pipelines.config, "PROJECT_ROOT", tmp_path)
    assert main(["demo", "--raw", str(tmp_path / "raw")]) == 2
    said = capsys.readouterr().out
    assert "la démo a besoin d'une copie du dépôt" in said and "make demo" in said
    assert not (tmp_path / "raw").exists()
