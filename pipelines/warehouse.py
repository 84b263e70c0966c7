"""The warehouse: one SQLAlchemy URL, DuckDB (embedded default) or PostgreSQL.

SQLAlchemy owns connections, DDL and transactions. Bulk rows go through each engine's
native path, measured here (shared/notes/measurements.md, 500 k rows): DuckDB insert from a
registered DataFrame 911 k rows/s against 6.4 k for `to_sql`; PostgreSQL COPY 94 k rows/s
against 28 k for `to_sql`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipelines.config import PROJECT_ROOT
from pipelines.tables import SCHEMAS, metadata

DEFAULT_WAREHOUSE_PATH = PROJECT_ROOT / "warehouse" / "observatoire.duckdb"
DEFAULT_URL = f"duckdb:///{DEFAULT_WAREHOUSE_PATH}"

# SQL helpers the counting rules call, the same name on both engines.
_AGE_SQL = {
    "duckdb": [
        """CREATE OR REPLACE MACRO age_years(b, d) AS
           CAST(date_part('year', d) - date_part('year', b)
                - CASE WHEN date_part('month', d) * 100 + date_part('day', d)
                          < date_part('month', b) * 100 + date_part('day', b)
                       THEN 1 ELSE 0 END AS INTEGER)""",
        """CREATE OR REPLACE MACRO age_band(b, d) AS
           CASE WHEN b IS NULL OR d IS NULL THEN 'Non renseigné'
                WHEN age_years(b, d) <= 17 THEN '16-17 ans'
                WHEN age_years(b, d) <= 21 THEN '18-21 ans'
                WHEN age_years(b, d) <= 25 THEN '22-25 ans'
                ELSE '26 ans et +' END""",
    ],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION age_years(b date, d date) RETURNS integer
           LANGUAGE sql IMMUTABLE AS $$ SELECT date_part('year', age(d, b))::integer $$""",
        """CREATE OR REPLACE FUNCTION age_band(b date, d date) RETURNS text
           LANGUAGE sql IMMUTABLE AS $$
           SELECT CASE WHEN b IS NULL OR d IS NULL THEN 'Non renseigné'
                       WHEN age_years(b, d) <= 17 THEN '16-17 ans'
                       WHEN age_years(b, d) <= 21 THEN '18-21 ans'
                       WHEN age_years(b, d) <= 25 THEN '22-25 ans'
                       ELSE '26 ans et +' END $$""",
    ],
}


def resolve_url(url: str | None = None) -> str:
    """The warehouse URL: argument, else $WAREHOUSE_URL, else the embedded DuckDB file."""
    return url or os.environ.get("WAREHOUSE_URL") or DEFAULT_URL


class Warehouse:
    """A warehouse reached through one SQLAlchemy URL."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        if self.url.startswith("duckdb:///"):
            path = self.url.removeprefix("duckdb:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = sa.create_engine(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    def ensure_schema(self) -> None:
        """Create schemas, tables and SQL helpers if absent (idempotent)."""
        with self.engine.begin() as conn:
            for schema in SCHEMAS:
                conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
            metadata.create_all(conn)
            for statement in _AGE_SQL[self.dialect]:
                conn.execute(sa.text(statement))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything written inside is seen by readers at once or not at all."""
        with self.engine.begin() as conn:
            yield conn

    def read_frame(self, conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
        result = conn.execute(sa.text(sql), params or {})
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def replace_rows(
        self, conn: Connection, table: sa.Table, frame: pd.DataFrame, where: dict[str, object]
    ) -> int:
        """Delete the rows matching `where`, then bulk-insert `frame` (same transaction)."""
        cond = sa.and_(*(table.c[k] == v for k, v in where.items()))
        conn.execute(table.delete().where(cond))
        return self.insert_frame(conn, table, frame)

    def insert_frame(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
        """Bulk insert through the engine's native path; columns missing in `frame` get NULL."""
        if frame.empty:
            return 0
        columns = [c.name for c in table.columns if c.name in frame.columns]
        data = frame[columns]
        name = f"{table.schema}.{table.name}" if table.schema else table.name
        quoted = ", ".join(f'"{c}"' for c in columns)
        raw = conn.connection.dbapi_connection
        if self.dialect == "duckdb":
            view = "_observatoire_insert"
            raw.register(view, data)
            try:
                raw.execute(f"INSERT INTO {name} ({quoted}) SELECT {quoted} FROM {view}")
            finally:
                raw.unregister(view)
        elif self.dialect == "postgresql":
            records = data.astype(object).where(data.notna(), None)
            with raw.cursor() as cur, cur.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
                for row in records.itertuples(index=False, name=None):
                    copy.write_row([_plain(v) for v in row])
        else:  # any other SQLAlchemy dialect: correct, slower
            conn.execute(table.insert(), data.astype(object).where(data.notna(), None)
                         .to_dict("records"))
        return len(data)


def _plain(value: object) -> object:
    """numpy/pandas scalars to the Python values psycopg's COPY adapts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
