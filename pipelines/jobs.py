"""Jobs: what the schedule, the sensor, the command line and a person in the UI materialise
(`integrer_partition` for a partition, `publier_catalogue` for the catalogue)."""

import dagster as dg

from pipelines.tables import STAGING

# The assets without partitions: the catalogue and the data dictionary (which publishes).
UNPARTITIONED = dg.AssetSelection.assets("indicator_catalogue", "data_dictionary")
# Made on demand only (UI, `observatoire anomalies`): loading a partition writes no more
# files and cannot fail on it.
ON_DEMAND = dg.AssetSelection.assets("anomalies_workbook")
# Every partitioned asset, raw files to the published warehouse.
PARTITIONED = dg.AssetSelection.all() - UNPARTITIONED - ON_DEMAND
# The staging layer, one asset (its tables: one per export type, sheets, partition_loads).
# One key rather than one per table: Dagster's storage work grows with the asset keys of a
# run (planned and materialisation events, partition checks), ≈ 30 % of a small partition's
# run on the project's SQLite instance for the 7 keys it had (bench/README.md). Materialised
# for a partition whose folder is gone, it removes the partition from every layer.
STAGING_EXPORTS = dg.AssetKey([STAGING, "exports"])
STAGING_ASSETS = [STAGING_EXPORTS]
# The asset that copies the working DuckDB file onto the one analysts read.
PUBLISHED = dg.AssetKey("published_warehouse")
# What a change of year Y asks of year Y+1: its trends against Y, its report (which prints
# them), then its publication.
NEXT_YEAR_ASSETS = [
    dg.AssetKey("indicator_trends"),
    dg.AssetKey("report"),
    dg.AssetKey("published_warehouse"),
]

# What the command line materialises for each partition before its one publication at the
# end (the publication then marks every partition it published: assets/publication.py).
LOADING = PARTITIONED - dg.AssetSelection.assets(PUBLISHED)

# The job a person picks in the UI for a partition, and the one the command line's runs
# show (on the subset LOADING, then on the publication alone): one name everywhere.
ingest_job = dg.define_asset_job(
    name="integrer_partition",
    selection=PARTITIONED,
    description="Intègre une partition (une structure, une année) : lit, valide et conforme ses "
    "exports, calcule ses indicateurs, leurs évolutions et son rapport, puis publie "
    "l'entrepôt que lisent les analystes. C'est le job à matérialiser pour une "
    "partition dans l'interface ; la ligne de commande lance le même.",
)

catalogue_job = dg.define_asset_job(
    name="publier_catalogue",
    selection=UNPARTITIONED,
    description="Publie le catalogue des indicateurs et le dictionnaire des données (sans "
    "partition ; la ligne de commande le lance avant ses partitions).",
)


def keys_of(selection: dg.AssetSelection) -> tuple[dg.AssetKey, ...]:
    """The asset keys of `selection` in the code location, in a stable order (a run request
    or an in-process run takes keys, not selections)."""
    from pipelines.definitions import defs  # late: pipelines.definitions imports this module

    return tuple(
        sorted(selection.resolve(defs.resolve_asset_graph()), key=lambda key: key.to_user_string())
    )
