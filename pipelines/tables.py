"""The warehouse's tables, declared once with SQLAlchemy (DuckDB and PostgreSQL alike).

Layers are schemas an analyst can recognise:
- `staging`   rows as read from the exports (text, personal columns dropped, ids pseudonymised);
- `conformed` clean typed tables, one per export type, plus the structures' communes;
- `marts`     the counted units behind every figure (`indicator_units`);
- default schema (`main` / `public`): the contract's tables (warehouse.md).
"""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.config import export_specs

metadata = sa.MetaData()

STAGING = "staging"
CONFORMED = "conformed"
MARTS = "marts"
SCHEMAS = (STAGING, CONFORMED, MARTS)

Text = sa.Text
Amount = sa.Numeric(16, 2)


def _partition_columns() -> list[sa.Column]:
    return [
        sa.Column("structure", Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
    ]


def _source_columns() -> list[sa.Column]:
    """Where a row came from: file (relative to raw/), sheet, Excel row number."""
    return [
        sa.Column("source_file", Text, nullable=False),
        sa.Column("source_sheet", Text),
        sa.Column("source_row", sa.Integer, nullable=False),
    ]


# --- staging: one table per export type, every kept column as text -------------------------


def _staging_table(export_type: str) -> sa.Table:
    spec = export_specs()[export_type]
    cols = [sa.Column(c.name, Text) for c in spec.columns if not c.personal]
    return sa.Table(
        export_type, metadata, *_partition_columns(), *_source_columns(), *cols, schema=STAGING
    )


staging_tables: dict[str, sa.Table] = {name: _staging_table(name) for name in export_specs()}

raw_files = sa.Table(
    "raw_files",
    metadata,
    *_partition_columns(),
    sa.Column("file", Text, nullable=False),
    sa.Column("sha256", Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("status", Text, nullable=False),  # read | skipped
    sa.Column("note", Text),
    sa.Column("seen_at", sa.DateTime, nullable=False),
    schema=STAGING,
)

# Each partition's load: the fingerprint of the key that pseudonymised it (never the key;
# warehouse.md, *Personal data*), the digest of its other inputs (pipelines/inputs.py) and
# the day a row rejected as dated after the run can be retried. A table of its own, so that
# a warehouse made before it gets it too.
partition_loads = sa.Table(
    "partition_loads",
    metadata,
    *_partition_columns(),
    sa.Column("key_fingerprint", Text, nullable=False),
    sa.Column("inputs_digest", Text, nullable=False),
    sa.Column("retry_on", sa.Date),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    schema=STAGING,
)

sheets = sa.Table(
    "sheets",
    metadata,
    *_partition_columns(),
    sa.Column("file", Text, nullable=False),
    sa.Column("sheet", Text),
    sa.Column("export_type", Text, nullable=False),
    sa.Column("header_row", sa.Integer, nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    # canonical column -> header as written in the file (JSON), for quarantine messages
    sa.Column("headers", Text, nullable=False),
    schema=STAGING,
)

# --- conformed -------------------------------------------------------------------------------

communes = sa.Table(
    "communes",
    metadata,
    sa.Column("structure", Text, nullable=False),
    sa.Column("commune_insee", Text, nullable=False),
    sa.Column("commune", Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    schema=CONFORMED,
)

conformed_tables: dict[str, sa.Table] = {
    "jeunes": sa.Table(
        "jeunes",
        metadata,
        *_partition_columns(),
        sa.Column("young_id", Text, nullable=False),
        sa.Column("sex", Text, nullable=False),
        sa.Column("birth_date", sa.Date),
        sa.Column("commune_insee", Text, nullable=False),
        sa.Column("commune", Text, nullable=False),
        sa.Column("commune_as_typed", Text),
        sa.Column("qpv", Text),
        sa.Column("qualification", Text, nullable=False),
        sa.Column("first_reception_date", sa.Date),
        sa.Column("rqth", sa.Boolean, nullable=False),
        sa.Column("driving_licence", sa.Boolean, nullable=False),
        sa.Column("housing", Text, nullable=False),
        *_source_columns(),
        schema=CONFORMED,
    ),
    "evenements": sa.Table(
        "evenements",
        metadata,
        *_partition_columns(),
        sa.Column("row_key", Text, nullable=False),
        sa.Column("event_id", Text),
        sa.Column("young_id", Text, nullable=False),
        sa.Column("event_date", sa.Date, nullable=False),
        sa.Column("event_type", Text, nullable=False),
        sa.Column("contact_type", Text, nullable=False),
        sa.Column("is_interview", sa.Boolean, nullable=False),
        sa.Column("status", Text),
        sa.Column("is_contact", sa.Boolean, nullable=False),
        sa.Column("theme", Text),
        sa.Column("place", Text),
        *_source_columns(),
        schema=CONFORMED,
    ),
    "propositions": sa.Table(
        "propositions",
        metadata,
        *_partition_columns(),
        sa.Column("row_key", Text, nullable=False),
        sa.Column("proposal_id", Text),
        sa.Column("young_id", Text, nullable=False),
        sa.Column("proposal_date", sa.Date, nullable=False),
        sa.Column("theme", Text, nullable=False),
        sa.Column("theme_as_typed", Text, nullable=False),
        sa.Column("state", Text),
        sa.Column("action_code", Text),
        sa.Column("action_label", Text),
        *_source_columns(),
        schema=CONFORMED,
    ),
    "situations": sa.Table(
        "situations",
        metadata,
        *_partition_columns(),
        sa.Column("row_key", Text, nullable=False),
        sa.Column("situation_id", Text),
        sa.Column("young_id", Text, nullable=False),
        sa.Column("category", Text, nullable=False),
        sa.Column("category_as_typed", Text, nullable=False),
        sa.Column("nature", Text),
        sa.Column("nature_as_typed", Text),
        sa.Column("detail", Text),
        sa.Column("is_pec", sa.Boolean, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date),
        sa.Column("rome_domain", Text, nullable=False),
        sa.Column("state", Text),
        sa.Column("is_counted", sa.Boolean, nullable=False),
        sa.Column("ml_implemented", sa.Boolean, nullable=False),
        sa.Column("prepared_level", Text, nullable=False),
        *_source_columns(),
        schema=CONFORMED,
    ),
    "dispositifs": sa.Table(
        "dispositifs",
        metadata,
        *_partition_columns(),
        sa.Column("row_key", Text, nullable=False),
        sa.Column("young_id", Text, nullable=False),
        sa.Column("programme", Text, nullable=False),
        sa.Column("entry_date", sa.Date, nullable=False),
        sa.Column("exit_date", sa.Date),
        sa.Column("exit_reason", Text),
        *_source_columns(),
        schema=CONFORMED,
    ),
    "aides": sa.Table(
        "aides",
        metadata,
        *_partition_columns(),
        sa.Column("row_key", Text, nullable=False),
        sa.Column("aid_id", Text),
        sa.Column("young_id", Text, nullable=False),
        sa.Column("aid_type", Text, nullable=False),
        sa.Column("aid_date", sa.Date, nullable=False),
        sa.Column("amount", Amount, nullable=False),
        sa.Column("status", Text),
        sa.Column("is_granted", sa.Boolean, nullable=False),
        *_source_columns(),
        schema=CONFORMED,
    ),
}

# --- marts -----------------------------------------------------------------------------------

DIMENSIONS = (
    "sex",
    "age_band",
    "qualification",
    "housing",
    "driving_licence",
    "qpv_status",
    "qpv",
    "contact_type",
    "proposal_theme",
    "contract_type",
    "training_type",
    "apprenticeship_kind",
    "rome_domain",
    "measure_type",
    "programme",
    "aid_type",
)

indicator_units = sa.Table(
    "indicator_units",
    metadata,
    *_partition_columns(),
    sa.Column("indicator", Text, nullable=False),
    sa.Column("unit_key", Text, nullable=False),
    sa.Column("young_id", Text, nullable=False),
    sa.Column("commune_insee", Text, nullable=False),
    *[sa.Column(d, Text) for d in DIMENSIONS],
    sa.Column("amount", Amount),
    schema=MARTS,
)

# --- the contract's tables (default schema) -------------------------------------------------

INDICATOR_KEY = (
    "structure",
    "year",
    "indicator",
    "commune_insee",
    "dimension_1",
    "category_1",
    "dimension_2",
    "category_2",
)


def _figure_columns() -> list[sa.Column]:
    """A figure's key (warehouse.md) and its value, shared by values and trends."""
    return [
        *_partition_columns(),
        sa.Column("indicator", Text, nullable=False),
        sa.Column("commune_insee", Text),
        sa.Column("commune", Text),
        sa.Column("dimension_1", Text),
        sa.Column("category_1", Text),
        sa.Column("dimension_2", Text),
        sa.Column("category_2", Text),
        sa.Column("value", sa.Numeric(18, 2), nullable=False),
    ]


indicator_values = sa.Table("indicator_values", metadata, *_figure_columns())

indicator_trends = sa.Table(
    "indicator_trends",
    metadata,
    *_figure_columns(),
    sa.Column("previous_value", sa.Numeric(18, 2), nullable=False),
    sa.Column("change", sa.Double, nullable=False),  # FLOAT is 4 bytes in DuckDB
)

indicator_catalogue = sa.Table(
    "indicator_catalogue",
    metadata,
    sa.Column("indicator", Text, primary_key=True),
    sa.Column("label", Text, nullable=False),
    sa.Column("unit", Text, nullable=False),
    sa.Column("rule", Text, nullable=False),
    sa.Column("section", Text, nullable=False),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    *_partition_columns(),
    sa.Column("file", Text, nullable=False),
    sa.Column("sheet", Text),
    sa.Column("row_number", sa.Integer),
    sa.Column("export_type", Text),
    sa.Column("column", Text),
    sa.Column("value", Text),
    sa.Column("reason", Text, nullable=False),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
)

# The validation's warnings (rows kept, a value counted as `Non renseigné`, a date treated as
# empty…): until issue 17 they lived only in Dagster's logs; the fix-list for the staff who
# enter data (pipelines/anomalies.py) reads them here. Replaced with the partition's
# quarantine, in the same transaction.
validation_warnings = sa.Table(
    "validation_warnings",
    metadata,
    *_partition_columns(),
    sa.Column("export_type", Text, nullable=False),
    sa.Column("message", Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
)

ingested_files = sa.Table(
    "ingested_files",
    metadata,
    *_partition_columns(),
    sa.Column("file", Text, nullable=False),
    sa.Column("sha256", Text, nullable=False),
    sa.Column("export_type", Text, nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_loaded", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
)

# Every column of every table above, with its meaning and an example (pipelines/dictionary.py,
# config/dictionary.yaml; docs/data-dictionary.md is the same, as a page).
data_dictionary = sa.Table(
    "data_dictionary",
    metadata,
    sa.Column("table_name", Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("column_name", Text, nullable=False),
    sa.Column("data_type", Text, nullable=False),
    sa.Column("nullable", sa.Boolean, nullable=False),
    sa.Column("meaning", Text, nullable=False),
    sa.Column("example", Text),
)
