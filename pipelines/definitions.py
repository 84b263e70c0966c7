"""The Dagster code location: assets, checks, jobs, resources (loaded by workspace.yaml)."""

import dagster as dg

from assets import conformed, marts, raw, staging
from pipelines.jobs import catalogue_job, ingest_job
from pipelines.resources import default_resources

defs = dg.Definitions(
    assets=[
        raw.raw_exports,
        staging.staging_exports,
        conformed.conformed_tables,
        marts.indicator_catalogue,
        marts.indicator_units,
        marts.indicator_values_asset,
        marts.indicator_trends,
    ],
    jobs=[ingest_job, catalogue_job],
    resources=default_resources(),
)
