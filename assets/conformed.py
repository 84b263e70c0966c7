"""Conformed: clean typed tables, one per export type; rejected rows go to quarantine."""

from collections import Counter
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from assets.staging import STAGING_EXPORTS
from pipelines.anomalies import warnings_frame
from pipelines.asset_metadata import unplotted
from pipelines.config import export_specs, load_structure
from pipelines.conform import communes_frame, conform_partition, ingested_files_frame
from pipelines.partitions import partition_of, partitions_def
from pipelines.resources import DropZoneResource, WarehouseResource
from pipelines.staging import headers_by_sheet
from pipelines.store import read_staging, write_conformed
from pipelines.tables import CONFORMED
from pipelines.validate import generic_reason, retry_on, validate_partition

CONFORMED_KEYS = {name: dg.AssetKey([CONFORMED, name]) for name in export_specs()}
COMMUNES = dg.AssetKey([CONFORMED, "communes"])
QUARANTINE = dg.AssetKey("quarantine")
INGESTED_FILES = dg.AssetKey("ingested_files")


def _validation_check(name: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name="rows_pass_contract",
        asset=CONFORMED_KEYS[name],
        description=f"Les lignes de l'export « {export_specs()[name].label} » respectent le "
        f"contrat (schéma pandera) ; les lignes rejetées sont en quarantaine.",
    )


@dg.multi_asset(
    specs=[
        *[
            dg.AssetSpec(
                key,
                deps=[STAGING_EXPORTS],
                group_name="conformed",
                kinds={"sql"},
                description=f"Table conforme « {export_specs()[name].label} » : valeurs "
                f"typées, codes rapportés aux nomenclatures, aucune donnée "
                f"personnelle.",
            )
            for name, key in CONFORMED_KEYS.items()
        ],
        dg.AssetSpec(
            COMMUNES,
            deps=[STAGING_EXPORTS],
            group_name="conformed",
            kinds={"sql"},
            description="Communes du territoire de chaque structure, dans l'ordre du "
            "rapport (structure.yaml).",
        ),
        dg.AssetSpec(
            QUARANTINE,
            deps=[STAGING_EXPORTS],
            group_name="conformed",
            kinds={"sql"},
            description="Lignes rejetées : fichier, feuille, ligne, colonne, valeur "
            "et raison à corriger.",
        ),
        dg.AssetSpec(
            INGESTED_FILES,
            deps=[STAGING_EXPORTS],
            group_name="conformed",
            kinds={"sql"},
            description="Fichiers lus derrière les chiffres : sha256, lignes lues, "
            "chargées, rejetées.",
        ),
    ],
    check_specs=[_validation_check(name) for name in CONFORMED_KEYS],
    partitions_def=partitions_def,
    name="conformed_tables",
    pool="warehouse",
)
def conformed_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, drop_zone: DropZoneResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Validate the staged rows (pandera), conform them and write the conformed schema,
    the quarantine and ingested_files in one transaction."""
    structure_code, year = partition_of(context)
    structure = load_structure(drop_zone.root / structure_code)
    # The warehouse is held only to read and to write: another partition's process can
    # write while this one validates.
    with warehouse.open() as wh:
        staged, sheets, files = read_staging(wh, structure_code, year)
    results = validate_partition(
        staged, headers_by_sheet(sheets), year, drop_zone.today, structure_code
    )
    conformed = conform_partition(results, structure, year)
    quarantine = pd.concat(
        [r.rejects for r in results.values() if not r.rejects.empty]
        or [next(iter(results.values())).rejects],
        ignore_index=True,
    )
    loaded_at = pd.Timestamp.now().floor("s")
    ingested = ingested_files_frame(results, sheets, files, structure_code, year, loaded_at)
    with warehouse.open() as wh:
        write_conformed(
            wh,
            structure_code,
            year,
            conformed,
            communes_frame(structure),
            quarantine,
            ingested,
            retry_on(results),
            warnings_frame(results, structure_code, year, loaded_at),
        )

    warnings: Counter = Counter()
    for result in results.values():
        warnings.update(result.warnings)
    for message in warnings:
        context.log.warning(message)
    for name, key in CONFORMED_KEYS.items():
        frame = conformed[name]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": len(frame),
                "aperçu": dg.MetadataValue.md(_preview(frame)),
            },
        )
    for name, key in CONFORMED_KEYS.items():
        rejects = quarantine[quarantine["export_type"] == name]
        by_reason = _reasons(rejects)
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="rows_pass_contract",
            passed=rejects.empty,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "lignes rejetées": unplotted(
                    rejects[["file", "sheet", "row_number"]].drop_duplicates().shape[0]
                ),
                "cellules rejetées par raison": by_reason,
                "avertissements": [w for w in warnings if w.startswith(name)],
            },
        )
    yield dg.MaterializeResult(
        asset_key=COMMUNES, metadata={"dagster/row_count": len(structure.territory)}
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "dagster/row_count": len(quarantine),
            "cellules rejetées par raison": _reasons(quarantine),
            "aperçu": dg.MetadataValue.md(_preview(quarantine.drop(columns=["loaded_at"]))),
        },
    )
    yield dg.MaterializeResult(
        asset_key=INGESTED_FILES,
        metadata={
            "dagster/row_count": len(ingested),
            "fichiers": dg.MetadataValue.md(_preview(ingested.drop(columns=["loaded_at"]), 50)),
            "lignes chargées": int(ingested["rows_loaded"].sum()),
            "lignes rejetées": int(ingested["rows_rejected"].sum()),
        },
    )


def _reasons(rejects: pd.DataFrame) -> dict[str, int]:
    """Rejected cells counted by reason, the value left out so similar reasons group."""
    if rejects.empty:
        return {}
    generic = pd.Series(
        [
            generic_reason(reason, value)
            for reason, value in zip(rejects["reason"], rejects["value"], strict=True)
        ]
    )
    return {str(k): int(v) for k, v in generic.value_counts().items()}


def _preview(frame: pd.DataFrame, rows: int = 10) -> str:
    return frame.head(rows).to_markdown(index=False) if not frame.empty else "(aucune ligne)"
