"""Marts: the counted units behind every figure, the figures, their trends, the catalogue."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from assets.conformed import COMMUNES, CONFORMED_KEYS
from pipelines import reconcile
from pipelines.asset_metadata import INDICATOR_VALUES_LINEAGE, unplotted
from pipelines.compute import catalogue, compute_units, indicator_values, trends
from pipelines.partitions import partition_of, partitions_def
from pipelines.resources import WarehouseResource
from pipelines.store import (
    prepare,
    read_units,
    read_values,
    territory_of,
    write_catalogue,
    write_trends,
    write_values,
)
from pipelines.tables import MARTS
from pipelines.warehouse import Warehouse

# Every mart is an SQL step on the warehouse: one warehouse step at a time (the pool).
_SQL_MART: dict[str, Any] = {"group_name": "marts", "kinds": {"sql"}, "pool": "warehouse"}


@dg.asset(
    key=["indicator_catalogue"],
    **_SQL_MART,
    description="Catalogue des indicateurs : code, libellé, unité, règle de comptage, section "
    "du rapport (config/indicators.yaml).",
)
def indicator_catalogue(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open() as wh:
        prepare(wh)
        n = write_catalogue(wh)
    return dg.MaterializeResult(metadata={"dagster/row_count": n})


INDICATOR_UNITS = dg.AssetKey([MARTS, "indicator_units"])


def _source_files(wh: Warehouse, structure: str, year: int) -> pd.DataFrame:
    with wh.transaction() as conn:
        return wh.read_frame(
            conn,
            "SELECT file, export_type, sha256, rows_loaded FROM ingested_files "
            "WHERE structure = :s AND year = :y ORDER BY file",
            {"s": structure, "y": year},
        )


RECONCILIATION_CHECKS = [
    dg.AssetCheckSpec(
        name,
        asset="indicator_values",
        blocking=True,
        description=(fn.__doc__ or "").strip().splitlines()[0],
    )
    for name, fn in reconcile.CHECKS.items()
]


# The units and the figures are one step (two assets): they are always computed together,
# and a step costs Dagster's storage a fixed ≈ 0.1 s (pool slot, input versions, events).
@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            INDICATOR_UNITS,
            deps=[*CONFORMED_KEYS.values(), COMMUNES],
            group_name="marts",
            kinds={"sql"},
            description="Unités comptées par chaque indicateur (jeunes, événements, situations, "
            "aides) avec leur commune et leurs catégories : le détail derrière chaque chiffre.",
        ),
        dg.AssetSpec(
            "indicator_values",
            deps=[INDICATOR_UNITS],
            group_name="marts",
            kinds={"sql"},
            description="Tous les chiffres du catalogue : totaux, lignes par commune, cellules des "
            "ventilations (contrat warehouse.md).",
        ),
    ],
    check_specs=RECONCILIATION_CHECKS,
    partitions_def=partitions_def,
    name="indicator_values",
    pool="warehouse",
)
def indicator_values_asset(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Count the units of every indicator (the SQL of pipelines/sql/indicators.sql, written
    to marts.indicator_units), turn them into figures (config/indicators.yaml), run the
    reconciliation checks of indicators.md on them, and write the figures only if every check
    passes: figures that fail a blocking check never replace the partition's last good
    figures."""
    structure, year = partition_of(context)
    with warehouse.open() as wh:
        with wh.transaction() as conn:
            counts = compute_units(conn, structure, year)
        units = read_units(wh, structure, year)
        territory = territory_of(wh, structure)
        files = _source_files(wh, structure, year)
    values = indicator_values(units, structure, year, territory)
    failing = {name: check(values) for name, check in reconcile.CHECKS.items()}
    written = all(f.empty for f in failing.values())
    if written:
        with warehouse.open() as wh:
            write_values(wh, structure, year, values)
    else:
        context.log.error(
            f"{structure} {year} : contrôles de cohérence en échec, chiffres non "
            f"écrits (les chiffres précédents restent) ; les cellules en faute "
            f"sont dans les contrôles de indicator_values"
        )
    yield dg.MaterializeResult(
        asset_key=INDICATOR_UNITS,
        metadata={
            "dagster/row_count": sum(counts.values()),
            "unités par indicateur": counts,
            "fichiers sources": dg.MetadataValue.md(files.to_markdown(index=False)),
        },
    )
    totals = values[values["commune_insee"].isna() & values["dimension_1"].isna()]
    yield dg.MaterializeResult(
        asset_key="indicator_values",
        metadata={
            "dagster/row_count": len(values),
            "totaux": dg.MetadataValue.md(totals[["indicator", "value"]].to_markdown(index=False)),
            "fichiers sources": dg.MetadataValue.md(files.to_markdown(index=False)),
            "indicateurs": unplotted(len(catalogue().indicators)),
            "chiffres écrits": dg.MetadataValue.text(
                "oui"
                if written
                else "non : un contrôle de cohérence a échoué, les chiffres précédents restent"
            ),
            "dagster/column_lineage": INDICATOR_VALUES_LINEAGE,
        },
    )
    for name, failures in failing.items():
        yield dg.AssetCheckResult(
            asset_key="indicator_values",
            check_name=name,
            passed=failures.empty,
            metadata={
                "cellules en échec": unplotted(len(failures)),
                "échecs": dg.MetadataValue.md(
                    failures.head(50).to_markdown(index=False) if len(failures) else "(aucune)"
                ),
            },
        )


@dg.asset(
    key=["indicator_trends"],
    deps=["indicator_values"],
    partitions_def=partitions_def,
    **_SQL_MART,
    description="Évolutions sur un an : chaque chiffre de l'année Y comparé à la même ligne en "
    "Y-1 (variation = (Y - Y-1) / Y-1).",
)
def indicator_trends(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    structure, year = partition_of(context)
    with warehouse.open() as wh:
        current = read_values(wh, structure, year)
        previous = read_values(wh, structure, year - 1)
        frame = trends(current, previous)
        write_trends(wh, structure, year, frame)
    if previous.empty:
        context.log.info(
            f"Aucun chiffre pour {structure} {year - 1} : pas d'évolutions pour {year}."
        )
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(frame), "lignes de l'année précédente": len(previous)}
    )
