"""Jobs: what the schedule, the sensor and the command line materialise."""

import dagster as dg

# Every partitioned asset, raw files to trends (the catalogue is not partitioned).
ingest_job = dg.define_asset_job(
    name="ingest_partition",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("indicator_catalogue"),
    description="Lit, valide et conforme les exports d'une structure pour une année, puis "
                "calcule ses indicateurs et leurs évolutions.",
)

catalogue_job = dg.define_asset_job(
    name="publish_catalogue",
    selection=dg.AssetSelection.assets("indicator_catalogue"),
    description="Publie le catalogue des indicateurs.",
)
