"""What analysts read: the published warehouse and its data dictionary.

The pipeline writes its own working database; analysts read a published copy that only
changes by an atomic rename, so an analyst's open connection never blocks a run and never
sees a half-written partition (pipelines/warehouse.py, docs/operations.md).
"""

import time

import dagster as dg
from dagster import DagsterEventType

from pipelines.dictionary import write_dictionary
from pipelines.partitions import partition_key, partition_of, partitions_def
from pipelines.resources import WarehouseResource
from pipelines.store import partitions_held, prepare
from pipelines.warehouse import PublicationError, Warehouse


def _publish(wh: Warehouse) -> dict:
    """Publish the working database; what the materialisation says about it."""
    started = time.perf_counter()
    try:
        target = wh.publish()
    except PublicationError as exc:
        raise dg.Failure(description=str(exc)) from exc
    if target is None:
        return {
            "publication": "rien à copier : les lecteurs de cette base voient chaque "
            "partition dès son écriture (PostgreSQL)"
        }
    return {
        "publication": dg.MetadataValue.path(str(target)),
        "taille (octets)": target.stat().st_size,
        "durée (secondes)": round(time.perf_counter() - started, 3),
    }


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
def published_warehouse(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    structure, year = partition_of(context)
    with warehouse.open() as wh:
        published = _publish(wh)
        held = partitions_held(wh)
    also = published_with(context.instance, held, (structure, year))
    for other in also:
        # the copy holds them too: their status in the UI says so (the command line loads
        # every partition, then publishes once, on the last one)
        context.log_event(
            dg.AssetMaterialization(
                asset_key=PUBLISHED,
                partition=str(partition_key(*other)),
                metadata={
                    **published,
                    "publiée avec": dg.MetadataValue.text(
                        f"{structure} {year} (même copie de l'entrepôt)"
                    ),
                },
            )
        )
    context.log.info(
        f"{structure} {year} : entrepôt publié ({published['publication']})"
        + (f", avec {len(also)} autre(s) partition(s)" if also else "")
    )
    return dg.MaterializeResult(
        metadata={
            **published,
            "autres partitions publiées": dg.MetadataValue.text(
                ", ".join(f"{s} {y}" for s, y in also) or "aucune"
            ),
        }
    )


PUBLISHED = dg.AssetKey("published_warehouse")
# What a partition's published figures come from: newer than its last publication, the
# partition is published again by the next copy.
_PUBLISHED_FROM = (dg.AssetKey("indicator_values"), dg.AssetKey("indicator_trends"))


def published_with(
    instance: dg.DagsterInstance, held: set[tuple[str, int]], own: tuple[str, int]
) -> list[tuple[str, int]]:
    """The partitions, other than `own`, that a copy of the warehouse publishes anew: held
    in it, known to the instance, and never published or changed since their last
    publication (by storage id: the event log's order)."""
    structures = set(instance.get_dynamic_partitions("structure"))
    years = set(instance.get_dynamic_partitions("year"))
    candidates = {
        str(partition_key(s, y)): (s, y)
        for s, y in held
        if (s, y) != own and s in structures and str(y) in years
    }
    if not candidates:
        return []
    materialized = DagsterEventType.ASSET_MATERIALIZATION
    last_published = instance.get_latest_storage_id_by_partition(
        PUBLISHED, materialized, set(candidates)
    )
    changed: dict[str, int] = {}
    for key in _PUBLISHED_FROM:
        for partition, storage_id in instance.get_latest_storage_id_by_partition(
            key, materialized, set(candidates)
        ).items():
            changed[partition] = max(storage_id, changed.get(partition, 0))
    return sorted(
        (
            candidates[p]
            for p in candidates
            if p not in last_published or changed.get(p, 0) > last_published[p]
        ),
        key=lambda sy: (sy[1], sy[0]),
    )
