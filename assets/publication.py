"""What analysts read: the published warehouse and its data dictionary.

The pipeline writes its own working database; analysts read a published copy that only
changes by an atomic rename, so an analyst's open connection never blocks a run and never
sees a half-written partition (pipelines/warehouse.py, docs/operations.md).
"""

import time

import dagster as dg

from pipelines.dictionary import write_dictionary
from pipelines.partitions import partition_of, partitions_def
from pipelines.publish import prepare
from pipelines.resources import WarehouseResource
from pipelines.warehouse import PublicationError, Warehouse


def _publish(wh: Warehouse) -> dict:
    """Publish the working database; what the materialisation says about it."""
    started = time.perf_counter()
    try:
        target = wh.publish()
    except PublicationError as exc:
        raise dg.Failure(description=str(exc)) from exc
    if target is None:
        return {"published": "nothing to copy: the readers of this database see each "
                             "committed partition (PostgreSQL)"}
    return {"published": dg.MetadataValue.path(str(target)),
            "size_bytes": target.stat().st_size,
            "seconds": round(time.perf_counter() - started, 3)}


@dg.asset(
    key="data_dictionary",
    deps=["indicator_catalogue"],
    group_name="marts",
    kinds={"sql"},
    pool="warehouse",
    description="Dictionnaire des données : chaque colonne de chaque table, son type, son sens "
                "et un exemple (config/dictionary.yaml, docs/data-dictionary.md). Publié avec "
                "le catalogue.",
)
def data_dictionary(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open() as wh:
        prepare(wh)
        n = write_dictionary(wh)
        published = _publish(wh)
    return dg.MaterializeResult(metadata={"dagster/row_count": n, **published})


@dg.asset(
    key="published_warehouse",
    deps=["indicator_values", "indicator_trends", "indicator_catalogue", "data_dictionary"],
    partitions_def=partitions_def,
    group_name="marts",
    kinds={"duckdb"},
    pool="warehouse",
    description="L'entrepôt que lisent les analystes (warehouse/observatoire.duckdb) : copie de "
                "la base de travail, remplacée d'un coup (renommage atomique) une fois les "
                "contrôles bloquants de la partition passés. Une connexion ouverte garde les "
                "anciens chiffres, la suivante voit les nouveaux. Sans objet sur PostgreSQL.",
)
def published_warehouse(context: dg.AssetExecutionContext,
                        warehouse: WarehouseResource) -> dg.MaterializeResult:
    structure, year = partition_of(context)
    with warehouse.open() as wh:
        published = _publish(wh)
    context.log.info(f"{structure} {year}: published ({published['published']})")
    return dg.MaterializeResult(metadata=published)
