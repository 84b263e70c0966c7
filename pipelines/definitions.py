"""The Dagster code location: assets, checks, jobs, sensor, schedule, resources (loaded by
workspace.yaml)."""

import dagster as dg

from assets import anomalies, conformed, marts, publication, raw, report, staging
from pipelines.asset_metadata import with_table_metadata
from pipelines.config_files import check_configuration
from pipelines.jobs import catalogue_job, ingest_job
from pipelines.resources import default_resources
from pipelines.schedules import nightly_refresh
from pipelines.sensors import drop_zone_sensor

# a mistyped file of config/ stops the code location here, its file and key named, rather
# than a run halfway through
check_configuration()

defs = dg.Definitions(
    assets=with_table_metadata(
        [
            raw.raw_exports,
            staging.staging_exports,
            conformed.conformed_tables,
            marts.indicator_catalogue,
            marts.indicator_values_asset,
            marts.indicator_trends,
            publication.data_dictionary,
            publication.published_warehouse,
            report.report,
            anomalies.anomalies_workbook,
        ]
    ),
    jobs=[ingest_job, catalogue_job],
    sensors=[drop_zone_sensor],
    schedules=[nightly_refresh],
    resources=default_resources(),
    # Every warehouse step waits for the one "warehouse" slot anyway: one process per run
    # (not one per step) saves each step's start-up (imports, definitions).
    executor=dg.in_process_executor,
)
