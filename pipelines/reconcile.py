"""Reconciliation checks of indicators.md: figures that must add up, and the faulty cells.

Each function takes a partition's `indicator_values` rows and returns the failing cells
(an empty frame when the check passes, French column names: a person reads them in the
asset checks' metadata). The first line of each docstring is the check's description in the
UI (assets/marts.py): one whole French sentence, as `DESCRIPTIONS` holds it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pandas as pd

from pipelines.compute import catalogue

TOLERANCE = Decimal("0.005")  # amounts: to the cent


def _dec(series: pd.Series) -> pd.Series:
    return series.map(lambda v: Decimal(str(v)))


def _totals(values: pd.DataFrame) -> pd.Series:
    plain = values[values["commune_insee"].isna() & values["dimension_1"].isna()]
    return _dec(plain.set_index("indicator")["value"])


def _mismatch(expected: Decimal, got: Decimal) -> bool:
    return abs(expected - got) > TOLERANCE


def communes_sum_to_total(values: pd.DataFrame) -> pd.DataFrame:
    """Les lignes par commune de chaque indicateur ont pour somme son total.

    The per-commune rows of every indicator sum to its total."""
    totals = _totals(values)
    per_commune = values[values["commune_insee"].notna() & values["dimension_1"].isna()]
    sums = _dec(per_commune["value"]).groupby(per_commune["indicator"]).sum()
    bad = [
        {"indicateur": i, "total": str(totals[i]), "somme_des_communes": str(sums.get(i, 0))}
        for i in totals.index
        if _mismatch(totals[i], sums.get(i, Decimal(0)))
    ]
    return pd.DataFrame(bad, columns=["indicateur", "total", "somme_des_communes"])


def _exclusive(indicator: str, dimension: str) -> bool:
    cat = catalogue()
    ind = cat.get(indicator)
    if ind.measure in ("rows", "amount"):
        return True
    return dimension in cat.person_attributes


def breakdowns_sum_to_total(values: pd.DataFrame) -> pd.DataFrame:
    """Chaque ventilation a pour somme le total, ses marges et ses cellules sans commune.

    Each 1-D breakdown sums to its total where categories are exclusive (each ≤ the total
    otherwise); each 2-D breakdown sums to each of its margins; a by-commune breakdown sums,
    over communes, to its structure-wide cell."""
    totals = _totals(values)
    bad: list[dict] = []
    whole = values[values["commune_insee"].isna() & values["dimension_1"].notna()]
    for key, cells in whole.groupby(["indicator", "dimension_1", whole["dimension_2"].fillna("")]):
        ind, d1, d2 = cast(tuple[str, str, str], key)
        total = totals[ind]
        v = _dec(cells["value"])
        if d2 == "":
            if _exclusive(ind, d1):
                if _mismatch(total, v.sum()):
                    bad.append(
                        {
                            "indicateur": ind,
                            "ventilation": d1,
                            "cellule": "(somme)",
                            "attendu": str(total),
                            "obtenu": str(v.sum()),
                        }
                    )
            else:
                for cat, value in zip(cells["category_1"], v, strict=True):
                    if value > total + TOLERANCE:
                        bad.append(
                            {
                                "indicateur": ind,
                                "ventilation": d1,
                                "cellule": cat,
                                "attendu": f"≤ {total}",
                                "obtenu": str(value),
                            }
                        )
            continue
        # 2-D: the grid's sum is the total, and each margin matches the 1-D breakdown
        # of that dimension where the indicator publishes one.
        if _exclusive(ind, d1) and _exclusive(ind, d2) and _mismatch(total, v.sum()):
            bad.append(
                {
                    "indicateur": ind,
                    "ventilation": f"{d1} x {d2}",
                    "cellule": "(somme)",
                    "attendu": str(total),
                    "obtenu": str(v.sum()),
                }
            )
        for dim, col in ((d1, "category_1"), (d2, "category_2")):
            one_d = whole[
                (whole["indicator"] == ind)
                & (whole["dimension_1"] == dim)
                & whole["dimension_2"].isna()
            ]
            if one_d.empty:
                continue
            margin = v.groupby(cells[col]).sum()
            for cat, expected in zip(one_d["category_1"], _dec(one_d["value"]), strict=True):
                if _mismatch(expected, margin.get(cat, Decimal(0))):
                    bad.append(
                        {
                            "indicateur": ind,
                            "ventilation": f"{d1} x {d2}",
                            "cellule": f"marge {dim}={cat}",
                            "attendu": str(expected),
                            "obtenu": str(margin.get(cat, Decimal(0))),
                        }
                    )
    by_commune = values[values["commune_insee"].notna() & values["dimension_1"].notna()]
    for key, cells in by_commune.groupby(["indicator", "dimension_1", "category_1"]):
        ind, d1, cat = cast(tuple[str, str, str], key)
        match = whole[
            (whole["indicator"] == ind)
            & (whole["dimension_1"] == d1)
            & (whole["category_1"] == cat)
            & whole["dimension_2"].isna()
        ]
        if match.empty:
            continue
        expected = _dec(match["value"]).iloc[0]
        got = _dec(cells["value"]).sum()
        if _mismatch(expected, got):
            bad.append(
                {
                    "indicateur": ind,
                    "ventilation": f"commune x {d1}",
                    "cellule": cat,
                    "attendu": str(expected),
                    "obtenu": str(got),
                }
            )
    return pd.DataFrame(bad, columns=["indicateur", "ventilation", "cellule", "attendu", "obtenu"])


def inequalities_hold(values: pd.DataFrame) -> pd.DataFrame:
    """Les inégalités du catalogue tiennent (entretiens ≤ contacts…), au total et par commune.

    interviews ≤ contacts, youth_interviewed ≤ youth_in_contact, ... (totals and
    per-commune rows)."""
    plain = values[values["dimension_1"].isna()].copy()
    plain["lieu"] = plain["commune_insee"].fillna("total")
    table = plain.pivot_table(index="lieu", columns="indicator", values="value", aggfunc="first")
    bad = []
    for left, right in catalogue().inequalities:
        if left not in table or right not in table:
            continue
        for where, lv, rv in zip(table.index, table[left], table[right], strict=True):
            if pd.notna(lv) and pd.notna(rv) and Decimal(str(lv)) > Decimal(str(rv)):
                bad.append(
                    {
                        "règle": f"{left} ≤ {right}",
                        "lieu": where,
                        "gauche": str(lv),
                        "droite": str(rv),
                    }
                )
    return pd.DataFrame(bad, columns=["règle", "lieu", "gauche", "droite"])


# The checks' descriptions (the UI shows them): each function's docstring begins with it.
DESCRIPTIONS = {
    "communes_sum_to_total": "Les lignes par commune de chaque indicateur ont pour somme son "
    "total.",
    "breakdowns_sum_to_total": "Chaque ventilation a pour somme le total, ses marges et ses "
    "cellules sans commune.",
    "inequalities_hold": "Les inégalités du catalogue tiennent (entretiens ≤ contacts…), au "
    "total et par commune.",
}

CHECKS = {
    "communes_sum_to_total": communes_sum_to_total,
    "breakdowns_sum_to_total": breakdowns_sum_to_total,
    "inequalities_hold": inequalities_hold,
}
