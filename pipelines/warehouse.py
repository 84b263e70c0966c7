"""The warehouse: one SQLAlchemy URL, DuckDB (embedded default) or PostgreSQL.

SQLAlchemy owns connections, DDL and transactions. Bulk rows go through each engine's
native path, measured here (shared/notes/measurements.md, 500 k rows): DuckDB insert from a
registered DataFrame 911 k rows/s against 6.4 k for `to_sql`; PostgreSQL COPY 94 k rows/s
against 28 k for `to_sql`.

Working and published (docs/operations.md). A DuckDB file held open by anyone, even
read-only, stops writers, so for a DuckDB URL `<dir>/<name>.duckdb` the pipeline writes its
own working file `<dir>/work/<name>.duckdb` and, once a partition passed its blocking checks,
publishes it by copy + atomic rename onto `<dir>/<name>.duckdb`, the file analysts (and the
URL's user) read. A PostgreSQL URL is its own working and published database.

One writer at a time. DuckDB lets one process open a file for writing and makes any other
fail at once ("Could not set lock on file"). Dagster keeps writers apart: every step that
opens the warehouse declares `pool="warehouse"`, and the instance's pool admits one step at
a time (`.dagster_home/dagster.yaml`); assets keep a warehouse open only around their reads
and writes. The project takes no lock of its own. PostgreSQL admits concurrent writers.
"""

from __future__ import annotations

import errno
import glob
import io
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipelines.config import PROJECT_ROOT
from pipelines.ddl import driver_connection, limit_lock_wait, replace_changed, waiting_for_lock
from pipelines.frames import none_where_not
from pipelines.recovery import pause_point
from pipelines.sql_functions import age_sql
from pipelines.tables import SCHEMAS, metadata

DEFAULT_WAREHOUSE_PATH = PROJECT_ROOT / "warehouse" / "observatoire.duckdb"
DEFAULT_URL = f"duckdb:///{DEFAULT_WAREHOUSE_PATH}"
WORK_FOLDER = "work"  # beside the published DuckDB file: the pipeline's working copy


# DuckDB merges partly filled row groups ("vacuum") at every checkpoint: each partition
# appends less than a row group per table, so every commit re-compressed earlier partitions'
# rows, more of them as the warehouse grew (a partition's staging + conformed commit: 0.5 s
# on an empty warehouse, 2.2 s on a 40-partition one; 0.5 s on both without the merge).
# Rows deleted when a partition is reloaded are still reclaimed (tests/test_scale.py).
_WRITER_SETTINGS = {"max_vacuum_tasks": 0}
# DuckDB threads of the pipeline's connections (default: one per core). Set it when several
# processes share the cores (runs side by side, Celery workers on one machine): on 2 cores,
# two processes with 2 DuckDB threads each were measured contending for them.
THREADS_VARIABLE = "OBSERVATOIRE_DUCKDB_THREADS"


def _writer_settings() -> dict[str, object]:
    settings: dict[str, object] = dict(_WRITER_SETTINGS)
    threads = os.environ.get(THREADS_VARIABLE, "").strip()
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise ValueError(
                f"{THREADS_VARIABLE}={threads!r}: expected a number of threads "
                f"(1 or more), or unset it for one per core"
            )
        settings["threads"] = int(threads)
    return settings


def partition_index_statements() -> dict[str, str]:
    """PostgreSQL: an index on (structure, year) for every table holding partitions.

    Every step reads, deletes or counts one partition's rows; without the index PostgreSQL
    scanned whole tables, so each partition took longer as the warehouse grew (the benchmark
    region: 6.6 s for the first partition, 19.7 s for the 40th). Keyed by the index's
    qualified name; a warehouse created before gets them too. DuckDB needs none (its zone
    maps skip other partitions' row groups, and an index would slow every insert)."""
    statements = {}
    for table in metadata.sorted_tables:
        if {"structure", "year"} <= set(table.c.keys()):
            qualified = f"{table.schema}.{table.name}" if table.schema else table.name
            name = f"{table.schema or 'public'}.{table.name}_partition"
            statements[name] = (
                f'CREATE INDEX IF NOT EXISTS "{table.name}_partition" '
                f"ON {qualified} (structure, year)"
            )
    return statements


def resolve_url(url: str | None = None) -> str:
    """The warehouse URL: argument, else $WAREHOUSE_URL, else the embedded DuckDB file.
    It names what analysts read (the published database)."""
    return url or os.environ.get("WAREHOUSE_URL") or DEFAULT_URL


def _duckdb_file(url: str) -> Path | None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "duckdb" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def published_path(url: str | None = None) -> Path | None:
    """The DuckDB file analysts read for this URL; None for a server or in-memory database."""
    return _duckdb_file(resolve_url(url))


def working_url(url: str | None = None) -> str:
    """Where the pipeline writes for this URL: `<dir>/work/<name>.duckdb` for a DuckDB file
    `<dir>/<name>.duckdb` (same file name, so the same catalog name), the URL itself
    otherwise."""
    url = resolve_url(url)
    path = _duckdb_file(url)
    if path is None:
        return url
    return (
        sa.make_url(url)
        .set(database=str(path.parent / WORK_FOLDER / path.name))
        .render_as_string(hide_password=False)
    )


class NoWarehouse(LookupError):
    """No DuckDB file analysts read at that path yet (nothing published)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"pas d'entrepôt à {path} : lancez d'abord `observatoire run`")
        self.path = path


@contextmanager
def published_connection(url: str | None = None) -> Iterator[Connection]:
    """A connection to what analysts see, never taking a writer's lock (a DuckDB file is
    opened read-only: a writer's lock would stop the pipeline). NoWarehouse when the DuckDB
    file does not exist."""
    url = resolve_url(url)
    path = _duckdb_file(url)
    if path is not None and not path.exists():
        raise NoWarehouse(path)
    engine = sa.create_engine(url, connect_args={"read_only": True} if path else {})
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def read_published(
    url: str | None, table: str, sql: str, params: dict | None = None
) -> pd.DataFrame | None:
    """A query on what analysts see (read-only); None when `table` has not been published
    yet."""
    try:
        with published_connection(url) as conn:
            if not sa.inspect(conn).has_table(table):
                return None
            result = conn.execute(sa.text(sql), params or {})
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    except NoWarehouse:
        return None


def fetch_frame(conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """A query's rows as a DataFrame, through Arrow on both engines: DuckDB hands its result
    over as Arrow, ≈ 8x faster than rows through the DB-API (100 k rows x 23 columns: 0.13 s
    against 1 s); PostgreSQL sends it as COPY CSV parsed by Arrow with the result's own column
    types (`_postgresql_arrow`). The values are the same Python objects on both (str, None,
    datetime.date, Decimal), integers int64."""
    table: pa.Table | None = None
    if conn.dialect.name == "postgresql":
        table = _postgresql_arrow(conn, sql, params or {})  # None: a type it does not map
    elif conn.dialect.name == "duckdb":
        result = conn.execute(sa.text(sql), params or {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "makes an extra copy": measured, fine
            table = result.cursor.to_arrow_table()
    if table is None:  # any other engine, or the fallback: rows through the DB-API
        result = conn.execute(sa.text(sql), params or {})
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    frame = table.to_pandas(coerce_temporal_nanoseconds=True)
    narrow = {c: "int64" for c, t in frame.dtypes.items() if t.kind in "iu" and t != "int64"}
    return frame.astype(narrow) if narrow else frame


# PostgreSQL type OIDs (pg_type) -> the Arrow type DuckDB gives the same column
_PG_ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    25: pa.string(),
    1042: pa.string(),
    1043: pa.string(),
    700: pa.float64(),
    701: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
}
_PG_NUMERIC = 1700


def _postgresql_arrow(conn: Connection, sql: str, params: dict) -> pa.Table | None:
    """The query's rows as an Arrow table, sent by COPY … TO STDOUT (CSV) and parsed by
    Arrow: 300 k rows of units in ≈ 0.3 s where psycopg's rows took ≈ 1 s. None when a
    column's type is not one it maps exactly (the caller then reads rows)."""
    statement = sa.text(sql)
    named = set(statement.compile().params)  # execute() ignores extra values, bindparams not
    used = {k: v for k, v in params.items() if k in named}
    statement = statement.bindparams(**used) if used else statement
    # COPY takes no server-side parameters: the values (structure codes, years) are rendered
    # as SQL literals by SQLAlchemy's own quoting
    query = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    raw = driver_connection(conn)
    with raw.cursor() as cur:
        cur.execute(f"SELECT * FROM ({query}) AS _q LIMIT 0")
        columns = list(cur.description or [])
    types: dict[str, pa.DataType] = {}
    for column in columns:
        if column.type_code == _PG_NUMERIC:
            if column.precision is None or column.scale is None:
                return None
            types[column.name] = pa.decimal128(column.precision, column.scale)
        elif column.type_code in _PG_ARROW_TYPES:
            types[column.name] = _PG_ARROW_TYPES[column.type_code]
        else:
            return None
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        return None
    block = io.BytesIO()
    with raw.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
        for data in copy:
            block.write(data)
    schema = pa.schema([(name, types[name]) for name in names])
    if block.tell() == 0:
        return schema.empty_table()
    block.seek(0)
    return pa_csv.read_csv(
        block,
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=types,
            # PostgreSQL's CSV: NULL is an unquoted empty field, an empty text a quoted one
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    ).cast(schema)


_COPY_SUFFIX = ".tmp"


class PublicationError(Exception):
    """The published copy could not be written (disk full): the previous one is intact."""


def _remove_stale_copies(published: Path) -> None:
    """Temporary copies left by a publication killed part-way (`.<name>.<pid>.tmp`, as large
    as the warehouse): those whose process is gone (a live one may be publishing)."""
    for stale in published.parent.glob(f".{glob.escape(published.name)}.*{_COPY_SUFFIX}"):
        pid = stale.name[len(published.name) + 2 : -len(_COPY_SUFFIX)]
        if pid.isdigit() and Path(f"/proc/{pid}").exists() and int(pid) != os.getpid():
            continue
        with suppress(FileNotFoundError):
            stale.unlink()


class Warehouse:
    """The pipeline's side of a warehouse URL: it writes the working database and publishes
    it (`publish`); `published_url` is the URL it was given, what analysts read. Writers are
    kept apart by Dagster's `warehouse` pool, not by this class."""

    def __init__(self, url: str | None = None) -> None:
        self.published_url = resolve_url(url)
        self.url = working_url(self.published_url)
        work, published = _duckdb_file(self.url), _duckdb_file(self.published_url)
        if work is not None and published is not None:
            work.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale_copies(published)
            if not work.exists() and published.exists():
                # A warehouse published before the working copy existed: start from it.
                for suffix in (".wal", ""):  # the write-ahead log, if any, before the file
                    if (source := published.with_name(published.name + suffix)).exists():
                        shutil.copyfile(source, work.with_name(work.name + suffix))
        self.engine: Engine = sa.create_engine(
            self.url, connect_args={"config": _writer_settings()} if work else {}
        )

    def publish(self) -> Path | None:
        """Copy the working DuckDB file onto the published one: checkpoint, close, copy to a
        temporary file beside the target, `os.replace` (atomic). A reader's open connection
        keeps the file it opened; the next connection sees the new figures. Returns the
        published path; None when the URL is its own published database (PostgreSQL:
        readers already see each committed partition)."""
        source, target = _duckdb_file(self.url), _duckdb_file(self.published_url)
        if source is None or target is None or source == target:
            return None
        with self.engine.begin() as conn:
            conn.execute(sa.text("CHECKPOINT"))
        self.engine.dispose()  # the last connection closes the file: nothing left in a WAL
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}{_COPY_SUFFIX}")
        try:
            shutil.copyfile(source, temporary)
            with temporary.open("rb+") as handle:
                os.fsync(handle.fileno())
            pause_point("publication")
            os.replace(temporary, target)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise PublicationError(
                    f"disque plein : la copie publiée de l'entrepôt ({target}) n'a pas pu être "
                    f"écrite ; les analystes gardent la version publiée précédente, intacte. "
                    f"Libérez au moins {source.stat().st_size / 2**20:,.0f} Mio sur le disque "
                    f"de {target.parent} (`df -h {target.parent}`) puis relancez"
                ) from exc
            raise
        finally:
            temporary.unlink(missing_ok=True)
        return target

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close every connection (the next writer may open the file)."""
        self.engine.dispose()

    def ensure_schema(self) -> None:
        """Create the schemas, tables, SQL helpers and indexes that are missing, replace the
        helpers whose text changed (idempotent). On PostgreSQL a warehouse already up to date
        gets no DDL at all, and DDL waits at most `lock_timeout()` for a lock
        (docs/operations.md, *PostgreSQL*)."""
        with self.engine.begin() as conn:
            limit_lock_wait(conn)
            with waiting_for_lock(conn, "le schéma de l'entrepôt (schémas et tables manquants)"):
                existing = set(
                    conn.execute(
                        sa.text(
                            "SELECT schema_name FROM information_schema.schemata "
                            "WHERE catalog_name = current_database()"
                        )
                    ).scalars()
                )
                for schema in SCHEMAS:
                    if schema not in existing:
                        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
                # one query for all tables (create_all's own check asks once per table:
                # ≈ 0.09 s, at every step of every partition)
                present = {
                    f"{schema}.{name}"
                    for schema, name in conn.execute(
                        sa.text(
                            "SELECT table_schema, table_name FROM information_schema.tables "
                            "WHERE table_catalog = current_database()"
                        )
                    ).all()
                }
                default = "public" if self.dialect == "postgresql" else "main"
                missing = [
                    table
                    for table in metadata.sorted_tables
                    if f"{table.schema or default}.{table.name}" not in present
                ]
                if missing:
                    metadata.create_all(conn, tables=missing)
            if self.dialect == "postgresql":
                replace_changed(conn, age_sql("postgresql"))
                # only the missing ones: CREATE INDEX takes a lock on its table even when the
                # index exists, which deadlocked with another worker writing that table
                existing = set(
                    conn.execute(
                        sa.text("SELECT schemaname || '.' || indexname FROM pg_indexes")
                    ).scalars()
                )
                for name, statement in partition_index_statements().items():
                    if name not in existing:
                        table = name.removesuffix("_partition")
                        with waiting_for_lock(
                            conn,
                            f"la table {table} (index à créer)",
                            relation=table,
                            mode="ShareLock",
                        ):
                            conn.execute(sa.text(statement))
            else:  # DuckDB: one writer at a time, readers on the published copy
                for statement in age_sql(self.dialect):
                    conn.execute(sa.text(statement))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything written inside is seen by readers at once or not at all."""
        with self.engine.begin() as conn:
            yield conn

    def read_frame(self, conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
        return fetch_frame(conn, sql, params)

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
        raw = driver_connection(conn)
        if self.dialect == "duckdb":
            view = "_observatoire_insert"
            raw.register(view, _decimals_as_text(data, table))
            try:
                raw.execute(f"INSERT INTO {name} ({quoted}) SELECT {quoted} FROM {view}")
            finally:
                with suppress(Exception):  # never hide the insert's own error
                    raw.unregister(view)
        elif self.dialect == "postgresql":
            data = _decimals_as_text(data, table)
            block = _copy_csv(data)
            with raw.cursor() as cur:
                if block is not None:
                    with cur.copy(f"COPY {name} ({quoted}) FROM STDIN (FORMAT csv)") as copy:
                        copy.write(block)
                else:
                    records = none_where_not(data.astype(object), data.notna())
                    with cur.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
                        for row in records.itertuples(index=False, name=None):
                            copy.write_row([_plain(v) for v in row])
        else:  # any other SQLAlchemy dialect: correct, slower
            rows = none_where_not(data.astype(object), data.notna()).to_dict("records")
            conn.execute(table.insert(), cast("list[dict[str, Any]]", rows))  # named columns
        return len(data)


def _decimals_as_text(data: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """Exact amounts (Decimal objects) as text: DuckDB would infer a DECIMAL type from the
    first values and fail on wider ones; text casts exactly into NUMERIC(16, 2) on insert."""
    numeric = [
        c.name
        for c in table.columns
        if isinstance(c.type, sa.Numeric)
        and not isinstance(c.type, sa.Float)
        and c.name in data.columns
        and data[c.name].dtype == object
    ]
    if not numeric:
        return data
    data = data.copy()
    for column in numeric:
        data[column] = data[column].map(lambda v: None if v is None or pd.isna(v) else str(v))
    return data


def _copy_csv(data: pd.DataFrame) -> bytes | None:
    """The rows as one block of PostgreSQL's COPY CSV, written by Arrow: a null is an
    unquoted empty field, every value is quoted (so an empty text stays an empty text, not a
    null). Sending one block instead of a Python call per row cut a partition's staging and
    conformed writes from ≈ 1.1 s to ≈ 0.7 s. None when Arrow cannot type a column (mixed
    values): the caller then copies row by row."""
    try:
        arrow = pa.Table.from_pandas(data, preserve_index=False)
        sink = io.BytesIO()
        pa_csv.write_csv(
            arrow, sink, pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
        )
    except (pa.ArrowException, TypeError, ValueError):
        return None
    return sink.getvalue()


def _plain(value: object) -> object:
    """numpy/pandas scalars to the Python values psycopg's COPY adapts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
