"""Metadata the Dagster UI shows: each asset's column schema, from the SQLAlchemy table it
writes (pipelines/tables.py) and the data dictionary's meanings, the column lineage of
`indicator_values`, and counts shown without a plot (`unplotted`)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import sqlalchemy as sa

from pipelines import tables as t
from pipelines.dictionary import data_type, describe


def unplotted(count: int) -> dg.TextMetadataValue:
    """A count the UI shows as text. Dagster plots every int and float metadata entry across
    an asset's materialisations; a count that is nearly always the same (masked cells, the
    failing cells of a check that passes, the size of the catalogue) made a flat line of
    zeros that reads like a measure. Text is shown, not plotted."""
    return dg.MetadataValue.text(f"{count:,}".replace(",", "\u202f"))


def table_of(key: dg.AssetKey) -> sa.Table | None:
    """The table an asset writes: key `[schema, name]` or `[name]` (default schema)."""
    return t.metadata.tables.get(".".join(key.path))


def column_schema(table: sa.Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=data_type(column),
                description=(describe(table, column) or ("", None))[0] or None,
                constraints=dg.TableColumnConstraints(nullable=bool(column.nullable)),
            )
            for column in table.columns
        ]
    )


def with_table_metadata(assets: Sequence) -> list:
    """The assets, each spec that writes a table given its `dagster/column_schema` and
    `dagster/table_name` (definition metadata: shown before the first materialisation)."""

    def annotate(spec: dg.AssetSpec) -> dg.AssetSpec:
        table = table_of(spec.key)
        if table is None:
            return spec
        return spec.merge_attributes(
            metadata={
                "dagster/column_schema": column_schema(table),
                "dagster/table_name": table.fullname,
            }
        )

    return list(dg.map_asset_specs(annotate, assets))


def _deps(key: dg.AssetKey, *columns: str) -> list[dg.TableColumnDep]:
    return [dg.TableColumnDep(asset_key=key, column_name=c) for c in columns]


UNITS = dg.AssetKey([t.MARTS, "indicator_units"])
COMMUNES = dg.AssetKey([t.CONFORMED, "communes"])

# indicator_values <- marts.indicator_units (and the communes' labels).
INDICATOR_VALUES_LINEAGE = dg.TableColumnLineage(
    deps_by_column={
        "structure": _deps(UNITS, "structure"),
        "year": _deps(UNITS, "year"),
        "indicator": _deps(UNITS, "indicator"),
        "commune_insee": _deps(UNITS, "commune_insee"),
        "commune": _deps(COMMUNES, "commune_insee", "commune"),
        "category_1": _deps(UNITS, *t.DIMENSIONS),
        "category_2": _deps(UNITS, *t.DIMENSIONS),
        "value": _deps(UNITS, "unit_key", "young_id", "amount"),
    }
)
