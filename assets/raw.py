"""The drop zone itself: the export files under raw/<STRUCTURE>/<YEAR>/ (not built by us)."""

import dagster as dg

from pipelines.partitions import partitions_def

raw_exports = dg.AssetSpec(
    key=["raw", "exports"],
    description=(
        "Exports i-milo déposés dans `raw/<STRUCTURE>/<ANNÉE>/` (xlsx, xls, csv). "
        "Fichiers source, non modifiés par le pipeline."
    ),
    group_name="raw",
    partitions_def=partitions_def,
    kinds={"excel"},
)
