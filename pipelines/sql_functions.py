"""The SQL helpers the counting rules call (pipelines/sql/indicators.sql), the same name on
both engines, written from the configuration: `age_band(b, d)` from the age bands of
config/indicators.yaml (`dimensions.age_band` and `age_band_upper_ages`), so that SQL and the
catalogue never disagree. DuckDB gets macros, PostgreSQL functions (replaced only when their
text changes: `ddl.replace_changed`)."""

from __future__ import annotations

from pipelines.compute import catalogue
from pipelines.config import NON_RENSEIGNE


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _band_cases(indent: str) -> str:
    """The CASE of age_band: no date, then each band up to its oldest age, then the last."""
    lines = [f"CASE WHEN b IS NULL OR d IS NULL THEN {_literal(NON_RENSEIGNE)}"]
    for label, oldest in catalogue().age_bands:
        if oldest is None:
            lines.append(f"ELSE {_literal(label)} END")
        else:
            lines.append(f"WHEN age_years(b, d) <= {oldest} THEN {_literal(label)}")
    if not lines[-1].startswith("ELSE"):
        lines.append("ELSE NULL END")
    return ("\n" + indent).join(lines)


def age_sql(dialect: str) -> list[str]:
    """`age_years(b, d)` (full years between b and d) and `age_band(b, d)` for `dialect`
    (duckdb or postgresql)."""
    if dialect == "postgresql":
        return [
            """CREATE OR REPLACE FUNCTION age_years(b date, d date) RETURNS integer
           LANGUAGE sql IMMUTABLE AS $$ SELECT date_part('year', age(d, b))::integer $$""",
            """CREATE OR REPLACE FUNCTION age_band(b date, d date) RETURNS text
           LANGUAGE sql IMMUTABLE AS $$
           SELECT """
            + _band_cases(" " * 23)
            + " $$",
        ]
    return [
        """CREATE OR REPLACE MACRO age_years(b, d) AS
           CAST(date_part('year', d) - date_part('year', b)
                - CASE WHEN date_part('month', d) * 100 + date_part('day', d)
                          < date_part('month', b) * 100 + date_part('day', b)
                       THEN 1 ELSE 0 END AS INTEGER)""",
        """CREATE OR REPLACE MACRO age_band(b, d) AS
           """
        + _band_cases(" " * 16),
    ]
