"""The figures each year of demo data must produce, read from `demo/targets/`, and the check
that they hold every statement the 2025 report prints."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

from demo.categories import TARGETS_DIR
from pipelines.reporting.numbers import change_pct, share_pct


@dataclass
class Targets:
    """Every figure one year of demo data must produce, plus the reference data it needs."""

    year: int
    communes: list[tuple[str, str]]  # the territory, in report order
    totals: dict[str, Any] = field(default_factory=dict)
    by_commune: dict[str, dict[str, Any]] = field(default_factory=dict)
    breakdowns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    grids: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    by_type_commune: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    qpv_communes: dict[str, str] = field(default_factory=dict)

    def total(self, ind: str) -> int:
        return self.totals[ind]

    def commune_value(self, ind: str, insee: str) -> int:
        return self.by_commune.get(ind, {}).get(insee, 0)

    def breakdown(self, ind: str, dim: str) -> dict[str, Any]:
        return self.breakdowns.get(ind, {}).get(dim, {})

    def grid(self, ind: str, dim1: str, dim2: str) -> dict[str, dict[str, Any]]:
        return self.grids.get(ind, {}).get(f"{dim1} x {dim2}", {})

    def aid(self, ind: str, aid_type: str, insee: str) -> Any:
        return self.by_type_commune.get(ind, {}).get(aid_type, {}).get(insee, 0)

    def rows(self) -> dict[tuple[str, str, str, str, str, str], Any]:
        """Every target as an `indicator_values` key (empty strings for nulls) -> value."""
        out: dict[tuple[str, str, str, str, str, str], Any] = {}
        for ind, v in self.totals.items():
            out[(ind, "", "", "", "", "")] = v
        for ind, per in self.by_commune.items():
            for insee, v in per.items():
                out[(ind, insee, "", "", "", "")] = v
        for ind, dims in self.breakdowns.items():
            for dim, cats in dims.items():
                for cat, v in cats.items():
                    out[(ind, "", dim, cat, "", "")] = v
        for ind, grids in self.grids.items():
            for key, rows in grids.items():
                d1, d2 = key.split(" x ")
                for c1, cols in rows.items():
                    for c2, v in cols.items():
                        out[(ind, "", d1, c1, d2, c2)] = v
        for ind, types in self.by_type_commune.items():
            for aid_type, per in types.items():
                for insee, v in per.items():
                    out[(ind, insee, "aid_type", aid_type, "", "")] = v
        return out


def _number(text: str) -> Any:
    return Decimal(text) if "." in text else int(text)


def _merge(base: dict, extra: dict) -> None:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def load_structure() -> dict[str, Any]:
    return yaml.safe_load((TARGETS_DIR / "structure.yaml").read_text(encoding="utf-8"))


def _territory() -> list[tuple[str, str]]:
    return [(c["insee"], c["name"]) for c in load_structure()["territory"]]


def _from_yaml(data: dict[str, Any], t: Targets) -> None:
    def numbers(node: Any) -> Any:
        if isinstance(node, dict):
            return {str(k): numbers(v) for k, v in node.items()}
        return _number(str(node))

    for key in ("totals", "by_commune", "breakdowns", "grids", "by_type_commune"):
        _merge(getattr(t, key), numbers(data.get(key) or {}))
    t.qpv_communes.update({k: str(v) for k, v in (data.get("qpv_communes") or {}).items()})


def _fill_missing_aid_cells(t: Targets) -> None:
    """README: a printed commune cell that contradicts its total is left out of the CSV; it is
    whatever makes the communes add up to the total."""
    totals = {
        "aid_amount": t.breakdowns.get("aid_amount", {}).get("aid_type", {}),
        "aid_recipients": t.breakdowns.get("aid_recipients", {}).get("aid_type", {}),
        "aid_files": t.breakdowns.get("aid_files", {}).get("aid_type", {}),
    }
    for ind, types in t.by_type_commune.items():
        for aid_type, per in types.items():
            missing = [insee for insee, _ in t.communes if insee not in per]
            if not missing:
                continue
            if len(missing) != 1 or aid_type not in totals[ind]:
                raise ValueError(f"{ind}/{aid_type}: cannot derive communes {missing}")
            per[missing[0]] = totals[ind][aid_type] - sum(per.values())


def load_targets(year: int) -> Targets:
    """The targets of 2025 (report CSV + choices) or 2024 (targets-2024.yaml)."""
    t = Targets(year=year, communes=_territory())
    if year == 2024:
        _from_yaml(yaml.safe_load((TARGETS_DIR / "targets-2024.yaml").read_text("utf-8")), t)
        return t
    if year != 2025:
        raise ValueError(f"no demo targets for {year}")
    with open(TARGETS_DIR / "report-2025-expected.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            ind, insee, d1, c1 = (
                row["indicator"],
                row["commune_insee"],
                row["dimension_1"],
                row["category_1"],
            )
            d2, c2, value = row["dimension_2"], row["category_2"], _number(row["value"])
            if insee and d1 == "aid_type":
                t.by_type_commune.setdefault(ind, {}).setdefault(c1, {})[insee] = value
            elif insee:
                t.by_commune.setdefault(ind, {})[insee] = value
            elif d2:
                t.grids.setdefault(ind, {}).setdefault(f"{d1} x {d2}", {}).setdefault(c1, {})[
                    c2
                ] = value
            elif d1:
                t.breakdowns.setdefault(ind, {}).setdefault(d1, {})[c1] = value
            else:
                t.totals[ind] = value
    _from_yaml(yaml.safe_load((TARGETS_DIR / "choices-2025.yaml").read_text("utf-8")), t)
    _fill_missing_aid_cells(t)
    return t


def statement_value(t: Targets, row: dict[str, str]) -> Any:
    """The count a row of report-2025-shares.csv speaks of (categories joined by ' + ' add up)."""
    ind, dim1, dim2 = row["indicator"], row["dimension_1"], row["dimension_2"]
    if not dim1:
        return t.total(ind)
    value = 0
    for cat in row["categories"].split(" + "):
        if dim2 and not row["category_2"]:
            value += sum(t.grid(ind, dim1, dim2)[cat].values())
        elif dim2:
            value += t.grid(ind, dim1, dim2)[cat][row["category_2"]]
        else:
            value += t.breakdown(ind, dim1)[cat]
    return value


def check_statements(t2025: Targets, t2024: Targets) -> list[str]:
    """Every row of report-2025-shares.csv, checked against the targets with exact arithmetic."""
    errors = []
    with open(TARGETS_DIR / "report-2025-shares.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            kind, want = row["kind"], int(row["value"])
            ind = row["indicator"]
            if kind == "share_pct":
                got = share_pct(statement_value(t2025, row), t2025.total(ind))
            elif kind == "share_pct_prev_year":
                got = share_pct(statement_value(t2024, row), t2024.total(ind))
            elif kind == "merged_count":
                got = statement_value(t2025, row)
            elif kind == "change_pct":
                got = change_pct(statement_value(t2025, row), statement_value(t2024, row))
            else:
                raise ValueError(f"unknown kind {kind}")
            if got != want:
                errors.append(
                    f"{ind} {row['dimension_1']} {row['categories']} {kind}: {got} != {want}"
                )
    return errors
