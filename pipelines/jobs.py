"""Jobs: what the schedule, the sensor and the command line materialise."""

import dagster as dg

from pipelines.config import export_specs
from pipelines.tables import STAGING

# The assets without partitions: the catalogue and the data dictionary (which publishes).
UNPARTITIONED = dg.AssetSelection.assets("indicator_catalogue", "data_dictionary")
# Made on demand only (UI, `observatoire anomalies`): loading a partition writes no more
# files and cannot fail on it.
ON_DEMAND = dg.AssetSelection.assets("anomalies_workbook")
# Every partitioned asset, raw files to the published warehouse.
PARTITIONED = dg.AssetSelection.all() - UNPARTITIONED - ON_DEMAND
# The staging layer's assets (one step): materialised for a partition whose folder is gone,
# it removes the partition from every layer (assets/staging.py).
STAGING_KEYS = {name: dg.AssetKey([STAGING, name]) for name in export_specs()}
STAGING_SHEETS = dg.AssetKey([STAGING, "sheets"])
STAGING_ASSETS = [*STAGING_KEYS.values(), STAGING_SHEETS]
# The asset that copies the working DuckDB file onto the one analysts read.
PUBLISHED = dg.AssetKey("published_warehouse")
# What a change of year Y asks of year Y+1: its trends against Y, its report (which prints
# them), then its publication.
NEXT_YEAR_ASSETS = [dg.AssetKey("indicator_trends"), dg.AssetKey("report"),
                    dg.AssetKey("published_warehouse")]

ingest_job = dg.define_asset_job(
    name="ingest_partition",
    selection=PARTITIONED,
    description="Lit, valide et conforme les exports d'une structure pour une année, puis "
                "calcule ses indicateurs et leurs évolutions, et publie l'entrepôt.",
)

load_job = dg.define_asset_job(
    name="load_partition",
    selection=PARTITIONED - dg.AssetSelection.assets(PUBLISHED),
    description="Lit, valide et conforme les exports d'une structure pour une année, calcule "
                "ses indicateurs, leurs évolutions et son rapport, sans publier : la ligne de "
                "commande publie une fois, après toutes ses partitions.",
)

catalogue_job = dg.define_asset_job(
    name="publish_catalogue",
    selection=UNPARTITIONED,
    description="Publie le catalogue des indicateurs et le dictionnaire des données.",
)
