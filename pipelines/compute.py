"""Compute stage: conformed tables -> counted units -> the figures of `indicator_values`.

The counting rules are SQL (pipelines/sql/indicators.sql, one block per catalogue code) run
in the warehouse engine; turning units into figures (totals, per-commune rows, breakdown
cells with their zeros) is one vectorised pandas function driven by config/indicators.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from itertools import product
from pathlib import Path

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipelines.config import CONFIG_DIR, HORS_TERRITOIRE, NON_RENSEIGNE, NON_RENSEIGNEE
from pipelines.config_files import TEXT, Node, read_yaml
from pipelines.frames import none_where_not
from pipelines.tables import DIMENSIONS, INDICATOR_KEY, MARTS

SQL_DIR = Path(__file__).parent / "sql"
VALUE_COLUMNS = [*INDICATOR_KEY[:4], "commune", *INDICATOR_KEY[4:], "value"]


@dataclass(frozen=True)
class Breakdown:
    dimensions: tuple[str, ...]
    by_commune: bool = False


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    unit: str
    section: str
    rule: str
    measure: str
    units: str
    breakdowns: tuple[Breakdown, ...]


@dataclass(frozen=True)
class Catalogue:
    indicators: tuple[Indicator, ...]
    dimensions: dict[str, list[str] | str]
    always_seen_plus: frozenset[str]
    person_attributes: frozenset[str]
    inequalities: tuple[tuple[str, str], ...]
    # (label, oldest age in the band, included; None for the last band): the SQL function
    # age_band() of both engines is written from these (pipelines/sql_functions.py)
    age_bands: tuple[tuple[str, int | None], ...] = ()

    def get(self, code: str) -> Indicator:
        return next(i for i in self.indicators if i.code == code)


MEASURES = ("distinct_young", "rows", "amount")
_DIMENSION = "une liste de catégories ou « seen » est attendue"
_BREAKDOWN = (
    "une ventilation est attendue : une liste d'une ou deux dimensions, ou "
    "{dimensions: [...], by_commune: true}"
)


def _breakdown(node: Node, dimensions: dict[str, list[str] | str]) -> Breakdown:
    if isinstance(node.value, dict):
        by_commune = node.get("by_commune")
        found = Breakdown(
            node.key("dimensions", _BREAKDOWN).labels(_BREAKDOWN),
            by_commune.flag() if by_commune else False,
        )
    else:
        found = Breakdown(node.labels(_BREAKDOWN))
    if not 1 <= len(found.dimensions) <= 2:
        node.fail(_BREAKDOWN)
    for dimension in found.dimensions:
        if dimension not in dimensions:
            node.fail(
                f"une dimension de `dimensions` est attendue (« {dimension} » n'en est pas une)"
            )
    return found


def _age_bands(doc: Node, labels: list[str] | str) -> tuple[tuple[str, int | None], ...]:
    expected = (
        "une liste croissante d'âges est attendue, un de moins que les tranches de "
        "dimensions.age_band"
    )
    node = doc.key("age_band_upper_ages", expected)
    ages = [n.integer(expected) for n in node.entries(expected)]
    if (
        isinstance(labels, str)
        or len(ages) != len(labels) - 1
        or any(a >= b for a, b in zip(ages, ages[1:], strict=False))
    ):
        node.fail(expected)
    return tuple(zip(labels, [*ages, None], strict=True))


@cache
def catalogue(config_dir: Path = CONFIG_DIR) -> Catalogue:
    """config/indicators.yaml, typed; a mistyped entry is refused naming its key."""
    doc = read_yaml(config_dir / "indicators.yaml")
    dimensions: dict[str, list[str] | str] = {}
    for name, node in doc.key("dimensions", "une table des dimensions est attendue").items():
        if node.value == "seen":
            dimensions[name] = "seen"
        else:
            dimensions[name] = list(node.labels(_DIMENSION))
    indicators = []
    for entry in doc.key("indicators", "une liste d'indicateurs est attendue").entries():
        entry.mapping("un indicateur {code, label, unit, section, rule, measure} est attendu")
        measure = entry.key("measure", f"une mesure parmi {', '.join(MEASURES)} est attendue")
        if measure.value not in MEASURES:
            measure.fail(f"une mesure parmi {', '.join(MEASURES)} est attendue")
        code = entry.key("code", "le code de l'indicateur (texte) est attendu").strict_text()
        units, breakdowns = entry.get("units"), entry.get("breakdowns")
        indicators.append(
            Indicator(
                code=code,
                label=entry.key("label", TEXT).strict_text(),
                unit=entry.key("unit", TEXT).strict_text(),
                section=entry.key("section", TEXT).strict_text(),
                rule=" ".join(entry.key("rule", TEXT).strict_text().split()),
                measure=measure.text(),
                units=units.strict_text() if units else code,
                breakdowns=tuple(
                    _breakdown(b, dimensions)
                    for b in breakdowns.entries("une liste de ventilations est attendue")
                )
                if breakdowns
                else (),
            )
        )
    pairs = doc.get("inequalities")
    inequalities = []
    for pair in pairs.entries("une liste de paires [gauche, droite] est attendue") if pairs else []:
        left_right = pair.labels("une paire [gauche, droite] de codes est attendue")
        if len(left_right) != 2:
            pair.fail("une paire [gauche, droite] de codes est attendue")
        inequalities.append((left_right[0], left_right[1]))
    seen_plus, person = doc.get("always_seen_plus"), doc.get("person_attributes")
    return Catalogue(
        indicators=tuple(indicators),
        dimensions=dimensions,
        always_seen_plus=frozenset(seen_plus.labels() if seen_plus else ()),
        person_attributes=frozenset(person.labels() if person else ()),
        inequalities=tuple(inequalities),
        age_bands=_age_bands(doc, dimensions.get("age_band", [])),
    )


def catalogue_frame() -> pd.DataFrame:
    """The `indicator_catalogue` table."""
    return pd.DataFrame(
        [
            {
                "indicator": i.code,
                "label": i.label,
                "unit": i.unit,
                "rule": i.rule,
                "section": i.section,
            }
            for i in catalogue().indicators
        ]
    )


@cache
def unit_queries() -> dict[str, str]:
    """The named SQL blocks of indicators.sql."""
    text = (SQL_DIR / "indicators.sql").read_text(encoding="utf-8")
    blocks = re.split(r"^-- name: (\w+)\s*$", text, flags=re.M)
    return {
        name: body.strip().rstrip(";")
        for name, body in zip(blocks[1::2], blocks[2::2], strict=True)
    }


def view_statements() -> list[str]:
    from pipelines.view_sql import render  # late: view_sql reads this module's catalogue

    text = render((SQL_DIR / "views.sql").read_text(encoding="utf-8"))
    text = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


UNIT_COLUMNS = ("unit_key", "young_id", "commune_insee", *DIMENSIONS, "amount")
FIGURE_INPUTS = UNIT_COLUMNS[1:]  # what `indicator_values` reads of a unit (not its key)


def compute_units(conn: Connection, structure: str, year: int) -> dict[str, int]:
    """Every indicator's counted units for a partition, computed and stored in
    marts.indicator_units inside the warehouse (INSERT … SELECT: the units never travel
    through Python); returns the number of units per indicator. An indicator that reuses
    another's units (`units:` in indicators.yaml) copies the rows already stored instead of
    running the same block twice."""
    partition = {"structure": structure, "year": year}
    params = {**partition, "y_start": date(year, 1, 1), "y_end": date(year, 12, 31)}
    units_table = f"{MARTS}.indicator_units"
    in_partition = "structure = :structure AND year = :year"
    conn.execute(text(f"DELETE FROM {units_table} WHERE {in_partition}"), partition)
    queries = unit_queries()
    first_of_block: dict[str, str] = {}
    all_columns = ", ".join(UNIT_COLUMNS)
    for ind in catalogue().indicators:
        if ind.units in first_of_block:
            conn.execute(
                text(
                    f"INSERT INTO {units_table} (structure, year, indicator, {all_columns}) "
                    f"SELECT structure, year, :indicator, {all_columns} FROM {units_table} "
                    f"WHERE {in_partition} AND indicator = :source"
                ),
                {**partition, "indicator": ind.code, "source": first_of_block[ind.units]},
            )
            continue
        block = queries[ind.units]
        selected = _selected(conn, block, params)  # once: asked per column it ran ≈ 20 times
        columns = ", ".join(c for c in UNIT_COLUMNS if c in selected)
        conn.execute(
            text(
                f"INSERT INTO {units_table} (structure, year, indicator, {columns}) "
                f"SELECT :structure, :year, :indicator, {columns} FROM ({block}) q"
            ),
            {**params, "indicator": ind.code},
        )
        first_of_block[ind.units] = ind.code
    counts = conn.execute(
        text(
            f"SELECT indicator, count(*) FROM {units_table} WHERE {in_partition} GROUP BY indicator"
        ),
        partition,
    ).all()
    return {indicator: int(n) for indicator, n in counts}


def _selected(conn: Connection, block: str, params: dict) -> list[str]:
    """The columns a units block selects, asked of the engine (no plan is run). Not
    remembered by the process (≈ 0.1 s a partition): a step may run anywhere."""
    return list(conn.execute(text(f"SELECT * FROM ({block}) q LIMIT 0"), params).keys())


# --- from units to figures ------------------------------------------------------------------


def _measure(frame: pd.DataFrame, by: list[str], measure: str) -> pd.Series:
    """The measure over groups (`by` empty: one value)."""
    if not by:
        frame = frame.assign(_all=0)
        by = ["_all"]
    grouped = frame.groupby(by, dropna=False, observed=True)
    if measure == "distinct_young":
        return grouped["young_id"].nunique()
    if measure == "rows":
        return grouped.size()
    if measure == "amount":
        return grouped["amount"].sum().map(_to_decimal)
    raise ValueError(f"unknown measure {measure!r}")


def _to_decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def categories_of(dimension: str, units: pd.DataFrame) -> list[str]:
    """The categories a breakdown shows: the dimension's list (seen labels for open ones),
    plus `Non renseigné` when some unit falls in it."""
    spec = catalogue().dimensions[dimension]
    present = [v for v in units[dimension].dropna().unique()]
    if spec == "seen":
        return sorted(present)
    cats = list(spec)
    if dimension in catalogue().always_seen_plus:
        cats += sorted(v for v in present if v not in cats and v != NON_RENSEIGNE)
    if NON_RENSEIGNE in present:
        cats.append(NON_RENSEIGNE)
    return cats


def _zero(measure: str) -> object:
    return Decimal("0.00") if measure == "amount" else 0


def aggregate(
    ind: Indicator, units: pd.DataFrame, territory: list[tuple[str, str]]
) -> pd.DataFrame:
    """Every row of `indicator_values` for one indicator of a partition (without structure
    and year): total, per commune, breakdown cells (indicators.md, *Outputs*)."""
    zero = _zero(ind.measure)
    labels = dict(territory) | dict([HORS_TERRITOIRE, NON_RENSEIGNEE])
    rows: list[dict] = []

    def row(
        value: object,
        commune: str | None = None,
        d1: str | None = None,
        c1: str | None = None,
        d2: str | None = None,
        c2: str | None = None,
    ) -> None:
        rows.append(
            {
                "indicator": ind.code,
                "commune_insee": commune,
                "commune": labels.get(commune) if commune else None,
                "dimension_1": d1,
                "category_1": c1,
                "dimension_2": d2,
                "category_2": c2,
                "value": value,
            }
        )

    total = _measure(units, [], ind.measure)
    row(total.iloc[0] if len(total) else zero)

    by_commune = _measure(units, ["commune_insee"], ind.measure)
    extra = [c for c in (HORS_TERRITOIRE[0], NON_RENSEIGNEE[0]) if c in by_commune.index]
    communes = [insee for insee, _ in territory] + extra
    for insee in communes:
        row(by_commune.get(insee, zero), commune=insee)

    for b in ind.breakdowns:
        dims = list(b.dimensions)
        grids = [categories_of(d, units) for d in dims]
        values = _measure(units, dims, ind.measure)
        for cats in product(*grids):
            key = cats if len(cats) > 1 else cats[0]
            value = values.get(key, zero)
            pairs = dict(zip(("d1", "d2"), dims, strict=False))
            row(
                value,
                d1=pairs.get("d1"),
                c1=cats[0],
                d2=pairs.get("d2"),
                c2=cats[1] if len(cats) > 1 else None,
            )
        if b.by_commune:
            cells = _measure(units, ["commune_insee", *dims], ind.measure)
            for insee in communes:
                for cats in product(*grids):
                    value = cells.get((insee, *cats), zero)
                    if insee in (HORS_TERRITOIRE[0], NON_RENSEIGNEE[0]) and value == zero:
                        continue
                    row(
                        value,
                        commune=insee,
                        d1=dims[0],
                        c1=cats[0],
                        d2=dims[1] if len(dims) > 1 else None,
                        c2=cats[1] if len(cats) > 1 else None,
                    )
    return pd.DataFrame(rows)


def indicator_values(
    units: pd.DataFrame, structure: str, year: int, territory: list[tuple[str, str]]
) -> pd.DataFrame:
    """All figures of a partition from its units."""
    by_indicator = dict(tuple(units.groupby("indicator", sort=False)))
    frames = []
    for ind in catalogue().indicators:
        own = by_indicator.get(ind.code, units.iloc[0:0])
        frames.append(aggregate(ind, own, territory))
    values = pd.concat(frames, ignore_index=True)
    values.insert(0, "structure", structure)
    values.insert(1, "year", year)
    return values[VALUE_COLUMNS]


# --- trends ------------------------------------------------------------------------------------


def trends(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """indicators.md, *Trends*: rows of Y whose same row exists for Y-1 with a non-zero value."""
    key = [k for k in INDICATOR_KEY if k not in ("year",)]
    cols = [*VALUE_COLUMNS, "previous_value", "change"]
    if current.empty or previous.empty:
        return pd.DataFrame(columns=cols)
    prev = previous[key + ["value"]].rename(columns={"value": "previous_value"})
    merged = _null_safe_merge(current, prev, key)
    merged = merged[merged["previous_value"].map(lambda v: Decimal(str(v)) != 0)]
    merged["change"] = [
        float((Decimal(str(v)) - Decimal(str(p))) / Decimal(str(p)))
        for v, p in zip(merged["value"], merged["previous_value"], strict=True)
    ]
    return merged[cols].reset_index(drop=True)


def _null_safe_merge(left: pd.DataFrame, right: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Inner join where nulls in the key match each other (the contract's key treats nulls
    as values)."""
    sentinel = "\x00null"
    lk = left.copy()
    rk = right.copy()
    for k in key:
        lk[k] = lk[k].astype(object).where(lk[k].notna(), sentinel)
        rk[k] = rk[k].astype(object).where(rk[k].notna(), sentinel)
    merged = lk.merge(rk, on=key, how="inner")
    for k in key:
        merged[k] = none_where_not(merged[k], merged[k] != sentinel)
    return merged
