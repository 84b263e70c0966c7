"""The figures a report prints, read from the warehouse only.

A report reads four tables and nothing else: `indicator_values` (year Y and Y-1),
`indicator_trends` (year Y), `indicator_catalogue` and `conformed.communes` (the territory,
in report order). Categories are ordered as config/indicators.yaml lists them (the catalogue
that produced the figures), then any other label seen, `Non renseigné` last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.compute import catalogue
from pipelines.config import HORS_TERRITOIRE, NON_RENSEIGNE, NON_RENSEIGNEE
from pipelines.tables import CONFORMED

# (indicator, commune_insee, dimension_1, category_1, dimension_2, category_2)
Key = tuple[str, str | None, str | None, str | None, str | None, str | None]
KEY_COLUMNS = [
    "indicator",
    "commune_insee",
    "dimension_1",
    "category_1",
    "dimension_2",
    "category_2",
]
EXTRA_COMMUNES = (HORS_TERRITOIRE[0], NON_RENSEIGNEE[0])


@dataclass(frozen=True)
class Entry:
    """One row of indicator_catalogue."""

    code: str
    label: str
    unit: str
    section: str

    @property
    def is_amount(self) -> bool:
        return self.unit == "euros"


@dataclass(frozen=True)
class Source:
    """The indicator_values rows a printed cell adds up. A dimension with no categories
    stands for all of them (the margin of a 2-D breakdown); several categories are added
    (the report merges them). Written as report-2025-shares.csv writes them."""

    indicator: str
    commune_insee: str | None = None
    dimension_1: str | None = None
    categories_1: tuple[str, ...] = ()
    dimension_2: str | None = None
    categories_2: tuple[str, ...] = ()

    @property
    def is_total(self) -> bool:
        return self.commune_insee is None and self.dimension_1 is None


@dataclass
class Figures:
    """A partition's figures (year Y), the same rows for Y-1, trends and catalogue."""

    structure: str
    year: int
    values: dict[Key, Decimal]
    previous: dict[Key, Decimal]
    trends: dict[Key, tuple[Decimal, Decimal]]
    entries: dict[str, Entry]
    territory: list[tuple[str, str]]
    commune_labels: dict[str, str] = field(default_factory=dict)
    # the structure's name from raw/<S>/structure.yaml (titles); the code when unknown
    name: str = ""

    @property
    def structure_name(self) -> str:
        return self.name or self.structure

    # --- lookups -------------------------------------------------------------------------

    def entry(self, code: str) -> Entry:
        return self.entries.get(code) or Entry(code, code, "", "")

    def total(self, code: str, previous: bool = False) -> Decimal | None:
        rows = self.previous if previous else self.values
        return rows.get((code, None, None, None, None, None))

    def keys(self, source: Source) -> list[Key]:
        """The keys `source` adds up (existing rows, or the cell's own key when the warehouse
        has no row for it, so that a printed zero still has an identity)."""
        if (
            not source.categories_1
            and source.dimension_1
            or not source.categories_2
            and source.dimension_2
        ):
            return [k for k in self.values if _matches(k, source)]
        cats_2 = source.categories_2 or (None,)
        return [
            (source.indicator, source.commune_insee, source.dimension_1, c1, source.dimension_2, c2)
            for c1 in source.categories_1 or (None,)
            for c2 in cats_2
        ]

    def sum(self, source: Source, previous: bool = False) -> Decimal:
        rows = self.previous if previous else self.values
        if previous:
            keys = [k for k in rows if _matches(k, source)]
        else:
            keys = self.keys(source)
        return sum((rows.get(k, Decimal(0)) for k in keys), Decimal(0))

    def has_previous(self, source: Source) -> bool:
        return any(_matches(k, source) for k in self.previous)

    def trend(self, source: Source) -> tuple[Decimal, Decimal] | None:
        """(value, previous_value) of a single-row source from indicator_trends."""
        keys = self.keys(source)
        if len(keys) != 1:
            return None
        return self.trends.get(keys[0])

    # --- categories and communes -----------------------------------------------------------

    def categories(
        self, code: str, dimension: str, dimension_2: str | None = None, axis: int = 1
    ) -> list[str]:
        """The categories a breakdown of `code` over `dimension` (× `dimension_2`) shows on
        `axis` (1 or 2), in catalogue order."""
        position = 3 if axis == 1 else 5
        seen = {
            c
            for k in self.values
            if k[0] == code
            and k[1] is None
            and k[2] == dimension
            and k[4] == dimension_2
            and (c := k[position]) is not None
        }
        return ordered(dimension if axis == 1 else str(dimension_2), seen)

    def communes(
        self, codes: list[str], dimension: str | None = None, category: str | None = None
    ) -> list[tuple[str, str]]:
        """Territory communes in order, then `Hors territoire` / `Non renseignée` where one of
        `codes` has a row for them (in `category` of `dimension` when given)."""
        extra = [
            insee
            for insee in EXTRA_COMMUNES
            if any(
                k[0] in codes
                and k[1] == insee
                and k[2] == dimension
                and (category is None or k[3] == category)
                for k in self.values
            )
        ]
        return self.territory + [(i, self.commune_labels.get(i, i)) for i in extra]


def _matches(key: Key, source: Source) -> bool:
    indicator, commune, d1, c1, d2, c2 = key
    return (
        indicator == source.indicator
        and commune == source.commune_insee
        and d1 == source.dimension_1
        and d2 == source.dimension_2
        and (not source.categories_1 or c1 in source.categories_1)
        and (not source.categories_2 or c2 in source.categories_2)
        and (source.dimension_1 is None or c1 is not None)
    )


def ordered(dimension: str, seen: set[str]) -> list[str]:
    """Categories in config/indicators.yaml order, others alphabetically, Non renseigné last."""
    spec = catalogue().dimensions.get(dimension)
    listed = [c for c in spec if c in seen] if isinstance(spec, list) else []
    others = sorted(c for c in seen if c not in listed and c != NON_RENSEIGNE)
    tail = [NON_RENSEIGNE] if NON_RENSEIGNE in seen else []
    return listed + others + tail


# --- reading the warehouse ---------------------------------------------------------------------


def _key(row: dict) -> Key:
    return tuple(None if pd.isna(row[c]) else row[c] for c in KEY_COLUMNS)  # type: ignore


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _read(conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    result = conn.execute(sa.text(sql), params or {})
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _values(conn: Connection, structure: str, year: int) -> pd.DataFrame:
    return _read(
        conn,
        "SELECT * FROM indicator_values WHERE structure = :s AND year = :y",
        {"s": structure, "y": year},
    )


def load_figures(conn: Connection, structure: str, year: int) -> Figures:
    """Everything a report of `structure` for `year` prints, read on one connection (one
    consistent state of the warehouse)."""
    current = _values(conn, structure, year)
    previous = _values(conn, structure, year - 1)
    trends = _read(
        conn,
        "SELECT * FROM indicator_trends WHERE structure = :s AND year = :y",
        {"s": structure, "y": year},
    )
    entries = _read(conn, "SELECT indicator, label, unit, section FROM indicator_catalogue")
    communes = _read(
        conn,
        f"SELECT commune_insee, commune FROM {CONFORMED}.communes "
        f"WHERE structure = :s ORDER BY position",
        {"s": structure},
    )
    labels = {
        r["commune_insee"]: r["commune"]
        for r in current.to_dict("records")
        if r["commune_insee"] is not None and not pd.isna(r["commune_insee"])
    }
    return Figures(
        structure=structure,
        year=year,
        values={_key(r): _decimal(r["value"]) for r in current.to_dict("records")},
        previous={_key(r): _decimal(r["value"]) for r in previous.to_dict("records")},
        trends={
            _key(r): (_decimal(r["value"]), _decimal(r["previous_value"]))
            for r in trends.to_dict("records")
        },
        entries={
            r["indicator"]: Entry(r["indicator"], r["label"], r["unit"], r["section"])
            for r in entries.to_dict("records")
        },
        territory=list(communes.itertuples(index=False, name=None)),
        commune_labels=labels,
    )


def structures_of(conn: Connection, year: int) -> list[str]:
    """The structures with figures for `year`."""
    frame = _read(
        conn,
        "SELECT DISTINCT structure FROM indicator_values WHERE year = :y ORDER BY structure",
        {"y": year},
    )
    return list(frame["structure"])


def latest_year(conn: Connection, structure: str | None = None) -> int | None:
    """The most recent year with figures (for `structure` when given)."""
    sql = "SELECT MAX(year) AS y FROM indicator_values"
    if structure:
        sql += " WHERE structure = :s"
    frame = _read(conn, sql, {"s": structure} if structure else {})
    value = frame["y"].iloc[0] if len(frame) else None
    return None if value is None or pd.isna(value) else int(value)
