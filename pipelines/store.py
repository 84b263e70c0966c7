"""Store stage: each layer of a partition written to the warehouse in one transaction.

A reader sees a partition's old rows or its new ones, never a mix or nothing: every
function below deletes the partition's rows and inserts the new ones inside one
transaction (warehouse.md: "Reloading a partition replaces its rows, atomically").
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from pipelines import tables as t
from pipelines.compute import FIGURE_INPUTS, catalogue_frame, view_statements
from pipelines.ddl import limit_lock_wait, replace_changed
from pipelines.staging import StagedPartition
from pipelines.warehouse import Warehouse


def prepare(warehouse: Warehouse) -> None:
    """Tables, SQL helpers and the rules' views: created when missing, replaced when their
    text changed, else left alone (no DDL, no lock an analyst could hold back). Asked of the
    database at every step, never remembered by the process: a step may run anywhere."""
    warehouse.ensure_schema()
    with warehouse.transaction() as conn:
        # Only the views whose text changed: replacing one waits for every open transaction
        # that read it (an analyst's idle session), at most lock_timeout().
        limit_lock_wait(conn)
        replace_changed(conn, view_statements())


def _partition(structure: str, year: int) -> dict[str, object]:
    return {"structure": structure, "year": year}


_STAGING_ORDER = ["source_file", "source_sheet", "source_row"]


def write_staging(
    warehouse: Warehouse,
    staged: StagedPartition,
    structure: str,
    year: int,
    key_fingerprint: str,
    inputs_digest: str,
) -> None:
    """A partition's staging rows, the fingerprint of the key its ids were keyed with and
    the digest of its other inputs (same transaction: they always agree)."""
    where = _partition(structure, year)
    with warehouse.transaction() as conn:
        for name, frame in staged.tables.items():
            warehouse.replace_rows(conn, t.staging_tables[name], frame, where)
        warehouse.replace_rows(conn, t.sheets, staged.sheets, where)
        warehouse.replace_rows(conn, t.raw_files, staged.files, where)
        warehouse.replace_rows(
            conn,
            t.partition_loads,
            pd.DataFrame(
                [
                    {
                        **where,
                        "key_fingerprint": key_fingerprint,
                        "inputs_digest": inputs_digest,
                        "retry_on": None,
                        "recorded_at": pd.Timestamp.now().floor("s"),
                    }
                ]
            ),
            where,
        )


def key_fingerprints(warehouse: Warehouse, structure: str) -> dict[int, str]:
    """year -> fingerprint of the key each loaded partition of `structure` was keyed with."""
    loads = t.partition_loads
    with warehouse.transaction() as conn:
        rows = conn.execute(
            sa.select(loads.c.year, loads.c.key_fingerprint).where(loads.c.structure == structure)
        ).all()
    return {int(year): fingerprint for year, fingerprint in rows}


def read_staging(
    warehouse: Warehouse, structure: str, year: int
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """A partition's staging rows (in file, sheet, row order), sheets and files, as written
    by `write_staging`: read back from the warehouse, so that the conformed step can run in
    another process or on another machine than the staging step."""
    params = _partition(structure, year)
    where = "WHERE structure = :structure AND year = :year"
    with warehouse.transaction() as conn:
        sheets = warehouse.read_frame(conn, f"SELECT * FROM {t.STAGING}.sheets {where}", params)
        files = warehouse.read_frame(conn, f"SELECT * FROM {t.STAGING}.raw_files {where}", params)
        frames = {
            name: warehouse.read_frame(
                conn,
                f"SELECT * FROM {t.STAGING}.{name} {where} ORDER BY {', '.join(_STAGING_ORDER)}",
                params,
            )
            for name in t.staging_tables
        }
    return frames, sheets, files


def write_conformed(
    warehouse: Warehouse,
    structure: str,
    year: int,
    conformed: dict[str, pd.DataFrame],
    communes: pd.DataFrame,
    quarantine: pd.DataFrame,
    ingested: pd.DataFrame,
    retry_on: date | None = None,
    warnings: pd.DataFrame | None = None,
) -> None:
    """The conformed layer of a partition, its quarantine, warnings and files, and the day
    its rows dated after the run can be retried (`retry_on`), in one transaction."""
    where = _partition(structure, year)
    with warehouse.transaction() as conn:
        loads = t.partition_loads
        conn.execute(
            loads.update()
            .where((loads.c.structure == structure) & (loads.c.year == year))
            .values(retry_on=retry_on)
        )
        for name, frame in conformed.items():
            warehouse.replace_rows(conn, t.conformed_tables[name], frame, where)
        warehouse.replace_rows(conn, t.communes, communes, {"structure": structure})
        warehouse.replace_rows(conn, t.quarantine, quarantine, where)
        if warnings is not None:
            warehouse.replace_rows(conn, t.validation_warnings, warnings, where)
        warehouse.replace_rows(conn, t.ingested_files, ingested, where)
    if warehouse.dialect == "postgresql":
        # Fresh statistics for the counting rules' joins: without them PostgreSQL takes the
        # bulk-loaded tables for empty and joins 60 k events to the young people by nested
        # loops (one partition's indicator_units ran > 14 min instead of seconds).
        with warehouse.transaction() as conn:
            for name in conformed:
                conn.execute(sa.text(f"ANALYZE {t.CONFORMED}.{name}"))


def read_units(warehouse: Warehouse, structure: str, year: int) -> pd.DataFrame:
    """The columns of a partition's units that figures are made of (half the columns: half
    the time to fetch ≈ 300 k rows and to group them)."""
    columns = ", ".join(["indicator", *FIGURE_INPUTS])
    with warehouse.transaction() as conn:
        return warehouse.read_frame(
            conn,
            f"SELECT {columns} FROM {t.MARTS}.indicator_units "
            f"WHERE structure = :structure AND year = :year",
            _partition(structure, year),
        )


def write_values(warehouse: Warehouse, structure: str, year: int, values: pd.DataFrame) -> None:
    with warehouse.transaction() as conn:
        warehouse.replace_rows(conn, t.indicator_values, values, _partition(structure, year))


def write_trends(warehouse: Warehouse, structure: str, year: int, trends: pd.DataFrame) -> None:
    with warehouse.transaction() as conn:
        warehouse.replace_rows(conn, t.indicator_trends, trends, _partition(structure, year))


def write_catalogue(warehouse: Warehouse) -> int:
    with warehouse.transaction() as conn:
        conn.execute(t.indicator_catalogue.delete())
        return warehouse.insert_frame(conn, t.indicator_catalogue, catalogue_frame())


def catalogue_is_current(warehouse: Warehouse) -> bool:
    """Whether the warehouse's `indicator_catalogue` and `data_dictionary` hold exactly the
    rows the configuration and the tables give now, compared row by row (≈ 0.05 s): a run
    then skips the catalogue's own Dagster run (≈ 1 s before its first partition)."""
    from pipelines.dictionary import frame as dictionary_frame  # late: dictionary imports this

    def rows(frame: pd.DataFrame) -> set[tuple[str | None, ...]]:
        return {
            tuple(None if pd.isna(v) else str(v) for v in row)
            for row in frame.itertuples(index=False, name=None)
        }

    expected = {t.indicator_catalogue: catalogue_frame(), t.data_dictionary: dictionary_frame()}
    try:
        with warehouse.transaction() as conn:
            for table, frame in expected.items():
                columns = ", ".join(f'"{c}"' for c in frame.columns)
                held = warehouse.read_frame(conn, f"SELECT {columns} FROM {table.fullname}")
                if len(held) != len(frame) or rows(held) != rows(frame):
                    return False
    except sa.exc.SQLAlchemyError:  # no table yet, or not these columns
        return False
    return True


def read_values(warehouse: Warehouse, structure: str, year: int) -> pd.DataFrame:
    with warehouse.transaction() as conn:
        return warehouse.read_frame(
            conn,
            "SELECT * FROM indicator_values WHERE structure = :structure AND year = :year",
            _partition(structure, year),
        )


def territory_of(warehouse: Warehouse, structure: str) -> list[tuple[str, str]]:
    with warehouse.transaction() as conn:
        frame = warehouse.read_frame(
            conn,
            f"SELECT commune_insee, commune FROM {t.CONFORMED}.communes "
            f"WHERE structure = :structure ORDER BY position",
            {"structure": structure},
        )
    return list(frame.itertuples(index=False, name=None))


def _partitioned_tables() -> list[sa.Table]:
    return [
        table for table in t.metadata.sorted_tables if {"structure", "year"} <= set(table.c.keys())
    ]


def partitions_held(warehouse: Warehouse) -> set[tuple[str, int]]:
    """Every (structure, year) that some layer of the warehouse holds rows of."""
    with warehouse.transaction() as conn:
        return _held(conn)


def remove_partitions(
    warehouse: Warehouse, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Delete every row of these partitions from every layer, in one transaction (readers
    see them all or none), and the territory of a structure left with no partition. Returns
    the rows deleted per partition."""
    removed: dict[tuple[str, int], int] = {}
    with warehouse.transaction() as conn:
        for structure, year in partitions:
            n = 0
            for table in _partitioned_tables():
                n += (
                    conn.execute(
                        table.delete().where(
                            (table.c.structure == structure) & (table.c.year == year)
                        )
                    ).rowcount
                    or 0
                )
            removed[(structure, year)] = n
        left = {s for s, _ in _held(conn)}
        for structure in {s for s, _ in partitions} - left:
            conn.execute(t.communes.delete().where(t.communes.c.structure == structure))
    return removed


def held_partitions_sql() -> str:
    """Every (structure, year) some partitioned table holds rows of."""
    return " UNION ".join(
        f"SELECT DISTINCT structure, year FROM "
        f"{table.schema + '.' if table.schema else ''}{table.name}"
        for table in _partitioned_tables()
    )


def _held(conn: sa.Connection) -> set[tuple[str, int]]:
    return {(s, int(y)) for s, y in conn.execute(sa.text(held_partitions_sql())).all()}
