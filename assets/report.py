"""The annual report of a partition: an Excel workbook and an HTML page, from the marts."""

import os
from pathlib import Path

import dagster as dg

from pipelines.asset_metadata import unplotted
from pipelines.partitions import partition_of, partitions_def
from pipelines.reporting.figures import load_figures
from pipelines.reporting.write import structure_name, write_report
from pipelines.resources import DropZoneResource, WarehouseResource

REPORTS_DIR_ENV = "OBSERVATOIRE_REPORTS_DIR"


class ReportConfig(dg.Config):
    """Where the files go (default: $OBSERVATOIRE_REPORTS_DIR, else `reports/` beside the
    drop zone) and the small-cell threshold (0: no masking, the internal report; above 0, the
    published report, its own files `rapport-<S>-<Y>-diffusion.*`)."""

    out_dir: str | None = None
    min_cell_size: int = 0


def reports_dir(config: ReportConfig, drop_zone: DropZoneResource) -> Path:
    # beside the drop zone: the project's reports/ for raw/, a test's own folder for its raw/
    return Path(
        config.out_dir or os.environ.get(REPORTS_DIR_ENV) or drop_zone.root.parent / "reports"
    )


@dg.asset(
    key=["report"],
    deps=["indicator_values", "indicator_trends"],
    partitions_def=partitions_def,
    group_name="report",
    kinds={"excel", "html"},
    pool="warehouse",
    description="Rapport d'activité annuel de la structure (Excel et HTML), tableaux et "
    "graphiques du rapport imprimé, lus dans l'entrepôt uniquement.",
)
def report(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    warehouse: WarehouseResource,
    drop_zone: DropZoneResource,
) -> dg.MaterializeResult:
    structure, year = partition_of(context)
    with warehouse.open() as wh:
        with wh.transaction() as conn:
            figures = load_figures(conn, structure, year)
    figures.name = structure_name(drop_zone.root, structure)
    written = write_report(figures, reports_dir(config, drop_zone), config.min_cell_size)
    workbook, page = written.files
    return dg.MaterializeResult(
        metadata={
            "classeur": dg.MetadataValue.path(str(workbook)),
            "page HTML": dg.MetadataValue.path(str(page)),
            "seuil de masquage": unplotted(config.min_cell_size),
            "cellules masquées": unplotted(written.masked_cells),
            "tableaux": unplotted(len(written.reports[0].tables)),
        }
    )
