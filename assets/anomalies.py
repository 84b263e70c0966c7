"""The fix-list of a partition for the staff who enter data: `anomalies-<S>-<Y>.xlsx`.

Not in the jobs that load a partition (pipelines/jobs.py): a load's outcome, and the files
it writes, stay what they were; materialise it from the UI, or run `observatoire anomalies`.
"""

import os
from pathlib import Path

import dagster as dg

from assets.report import REPORTS_DIR_ENV
from pipelines.anomalies import NotLoaded, load_anomalies, write_anomalies
from pipelines.partitions import partition_of, partitions_def
from pipelines.resources import DropZoneResource, WarehouseResource

ANOMALIES = dg.AssetKey("anomalies_workbook")


class AnomaliesConfig(dg.Config):
    """Where the file goes (default: $OBSERVATOIRE_REPORTS_DIR, else `reports/` beside the
    drop zone, as the report)."""

    out_dir: str | None = None


@dg.asset(
    key=ANOMALIES,
    deps=["quarantine", "ingested_files"],
    partitions_def=partitions_def,
    group_name="report",
    kinds={"excel"},
    pool="warehouse",
    description="Liste des anomalies à corriger dans i-milo (anomalies-STRUCTURE-ANNÉE.xlsx) : "
    "une synthèse par export, chaque ligne rejetée (fichier, feuille, ligne Excel, "
    "colonne, valeur, raison, que faire) triée dossier par dossier, et les "
    "avertissements. Aucune donnée personnelle.",
)
def anomalies_workbook(
    context: dg.AssetExecutionContext,
    config: AnomaliesConfig,
    warehouse: WarehouseResource,
    drop_zone: DropZoneResource,
) -> dg.MaterializeResult:
    structure, year = partition_of(context)
    try:
        with warehouse.open() as wh, wh.transaction() as conn:
            data = load_anomalies(conn, structure, year)
    except NotLoaded as exc:
        raise dg.Failure(description=str(exc)) from exc
    out_dir = Path(
        config.out_dir or os.environ.get(REPORTS_DIR_ENV) or drop_zone.root.parent / "reports"
    )
    path = write_anomalies(data, out_dir)
    return dg.MaterializeResult(
        metadata={
            "classeur": dg.MetadataValue.path(str(path)),
            "lignes rejetées": int(data.files["rows_rejected"].sum()),
            "cellules rejetées": len(data.quarantine),
            "avertissements": len(data.warnings),
        }
    )
