"""What the pipeline needs to stay fast at a region's size (bench/README.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.config import PROJECT_ROOT
from pipelines.warehouse import Warehouse, working_url
from tests.builders import JEUNES_HEADERS, write_structure, write_xlsx, young
from tests.conftest import query
from tests.test_bad_inputs import BASE_EVENTS, EVENT_HEADERS, base_zone


def test_postgresql_conformed_tables_have_fresh_statistics(
    postgres_url: str, tmp_path: Path, run
) -> None:
    # Without statistics PostgreSQL takes freshly loaded tables for empty and joins events to
    # young people by nested loops: a 100 k-row partition's indicator_units ran for minutes.
    raw = base_zone(tmp_path / "raw")
    assert not run(raw, postgres_url).failed
    stats = query(
        postgres_url,
        "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE schemaname = 'conformed'",
    )
    analysed = {s["relname"] for s in stats if s["last_analyze"] is not None}
    assert {
        "jeunes",
        "evenements",
        "propositions",
        "situations",
        "dispositifs",
        "aides",
    } <= analysed


# --- partitions in parallel processes: one writer at a time on a DuckDB file ---------------


def _region(raw: Path) -> Path:
    """TST 2024 and 2025, and AUT 2025 (a copy of TST 2025 under another code)."""
    base_zone(raw)
    d2024 = raw / "TST" / "2024"
    write_xlsx(
        d2024 / "jeunes.xlsx",
        JEUNES_HEADERS,
        [young("1001", first="10/02/2024"), young("1002", sex="H", first="03/03/2024")],
    )
    write_xlsx(
        d2024 / "evenements.xlsx",
        EVENT_HEADERS,
        [
            [e, i, d.replace("2025", "2024"), *rest]
            for e, i, d, *rest in [
                *BASE_EVENTS,
                ["E5", "1002", "06/06/2025", "Entretien individuel", None, None, None],
            ]
        ],
    )
    write_structure(raw, "AUT", name="Mission Locale Autre")
    shutil.copytree(raw / "TST" / "2025", raw / "AUT" / "2025")
    return raw


FIGURES = (
    "SELECT structure, year, indicator, commune_insee, dimension_1, category_1, "
    "dimension_2, category_2, CAST(value AS DOUBLE PRECISION) AS value{more} FROM {table}"
)


def _figures(url: str, table: str) -> list[tuple]:
    more = ", CAST(change AS DOUBLE PRECISION) AS change" if table == "indicator_trends" else ""
    rows = query(url, FIGURES.format(table=table, more=more))
    return sorted(tuple("" if v is None else v for v in r.values()) for r in rows)


def test_runs_are_named_jobs_tagged_with_their_partition(
    tmp_path: Path, warehouse_url: str
) -> None:
    """The command line's runs are the code location's jobs (never Dagster's ephemeral
    one), tagged with structure and year; a year's trends follow the year before."""
    import dagster as dg

    from pipelines.runner import run_partitions
    from tests.conftest import RUN_DATE

    raw = _region(tmp_path / "raw")
    instance = dg.DagsterInstance.ephemeral()
    summary = run_partitions(
        raw, url=warehouse_url, run_date=RUN_DATE, instance=instance, progress=lambda _m: None
    )
    assert not summary.failed, summary.failed
    assert [(o.structure, o.year) for o in summary.outcomes] == [
        ("TST", 2024),
        ("AUT", 2025),
        ("TST", 2025),
    ]
    runs = list(reversed(instance.get_runs()))
    assert [
        (r.job_name, r.tags.get("dagster/partition"), r.tags.get("observatoire/purpose"))
        for r in runs
    ] == [
        ("publier_catalogue", None, "catalogue"),
        ("integrer_partition", "TST|2024", "ingest"),
        ("integrer_partition", "AUT|2025", "ingest"),
        ("integrer_partition", "TST|2025", "ingest"),
        ("integrer_partition", "TST|2025", "publication"),
    ]
    assert all(r.tags.get("observatoire/process") for r in runs)
    assert {r.tags.get("dagster/partition/structure") for r in runs[1:]} == {"TST", "AUT"}
    trends = _figures(warehouse_url, "indicator_trends")
    assert any(r[0] == "TST" and r[1] == 2025 for r in trends)


def test_an_unchanged_catalogue_is_not_run_again(tmp_path: Path, warehouse_url: str) -> None:
    """The catalogue's own run (≈ 1 s before the first partition) happens only when the
    warehouse's catalogue or dictionary differ from what the configuration gives: after an
    analyst's edit of the catalogue, it runs again and restores it."""
    import dagster as dg

    from pipelines.jobs import catalogue_job
    from pipelines.runner import run_partitions
    from tests.conftest import RUN_DATE

    raw = _region(tmp_path / "raw")
    instance = dg.DagsterInstance.ephemeral()

    def catalogue_runs(**named: list) -> int:
        summary = run_partitions(
            raw,
            url=warehouse_url,
            run_date=RUN_DATE,
            instance=instance,
            progress=lambda _m: None,
            **named,
        )
        assert summary.ok, (summary.failed, summary.publication_error)
        return sum(r.job_name == catalogue_job.name for r in instance.get_runs())

    assert catalogue_runs() == 1
    assert catalogue_runs(structures=["AUT"]) == 1  # unchanged: not run again
    engine = sa.create_engine(working_url(warehouse_url))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE indicator_catalogue SET label = 'modifié' WHERE indicator = 'new_arrivals'"
            )
        )
    engine.dispose()
    assert catalogue_runs(structures=["AUT"]) == 2
    labels = {
        r["indicator"]: r["label"]
        for r in query(warehouse_url, "SELECT indicator, label FROM indicator_catalogue")
    }
    assert labels["new_arrivals"] != "modifié"


# --- steps meet only in storage ----------------------------------------------------------

_ONE_STEP = """
import sys, dagster as dg
from pipelines.definitions import defs
from pipelines.partitions import discover_partitions, partition_key, register_partitions
from pipelines.resources import default_resources
from pathlib import Path
raw, url, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
instance = dg.DagsterInstance.from_config(sys.argv[4])
register_partitions(instance, discover_partitions(raw))
assets = list(defs.assets)
step = next(a for a in assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name == name)
kwargs = {} if step.partitions_def is None else {"partition_key": partition_key("TST", 2025)}
result = dg.materialize(assets, selection=dg.AssetSelection.assets(*step.keys), instance=instance,
                        resources=default_resources(url=url, raw_dir=raw, run_date="2026-01-06"),
                        raise_on_error=False, **kwargs)
sys.exit(0 if result.success else 1)
"""


def test_each_step_runs_in_a_process_of_its_own(tmp_path: Path, run) -> None:
    """Steps exchange data only through the warehouse: each step of a partition, run in a
    fresh interpreter of its own (as on a Celery worker or another machine), gives the
    figures of the whole run in one process."""
    import dagster as dg

    from pipelines.definitions import defs

    raw = base_zone(tmp_path / "raw")
    whole = f"duckdb:///{tmp_path / 'whole.duckdb'}"
    run(raw, whole)
    apart = f"duckdb:///{tmp_path / 'apart' / 'observatoire.duckdb'}"
    home = tmp_path / "home"
    home.mkdir()
    steps = [
        a.node_def.name
        for a in defs.assets or []
        if isinstance(a, dg.AssetsDefinition) and a.node_def.name != "report"
    ]
    assert len(steps) >= 7
    pids = set()
    for name in steps:  # the order of definitions.py: upstream first
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _ONE_STEP + "print(__import__('os').getpid(), file=sys.stderr)",
                str(raw),
                apart,
                name,
                str(home),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=PROJECT_ROOT,
        )
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
        pids.add(done.stderr.strip().splitlines()[-1])
    assert len(pids) == len(steps)
    for table in ("indicator_values", "indicator_trends"):
        assert _figures(apart, table) == _figures(whole, table), table


def test_reloading_partitions_does_not_grow_the_duckdb_file(tmp_path: Path) -> None:
    # The pipeline's DuckDB connections do not merge row groups at each checkpoint
    # (pipelines/warehouse.py, _WRITER_SETTINGS): the rows a reload deletes must still be
    # reclaimed, or a nightly run would grow the file every night.
    from pipelines import tables as t

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    table = t.staging_tables["evenements"]
    rows = 150_000  # more than a DuckDB row group (122 880 rows)

    def partition(structure: str, run: int) -> pd.DataFrame:
        rng = np.random.default_rng(run)
        return pd.DataFrame(
            {
                "structure": structure,
                "year": 2025,
                "source_file": f"{structure}/ev.xlsx",
                "source_row": np.arange(rows),
                "event_id": [f"E{run}-{i}" for i in range(rows)],
                "young_id": rng.integers(0, 5000, rows).astype(str),
                "event_type": rng.choice(["Entretien individuel", "Atelier", "Mail"], rows),
            }
        )

    def reload(structure: str, run: int) -> int:
        wh = Warehouse(url)
        try:
            wh.ensure_schema()
            with wh.transaction() as conn:
                wh.replace_rows(
                    conn, table, partition(structure, run), {"structure": structure, "year": 2025}
                )
        finally:
            wh.dispose()
        return (tmp_path / "work" / "warehouse.duckdb").stat().st_size

    reload("AAA", 0)
    reload("BBB", 0)
    sizes = [reload(structure, run) for run in range(1, 7) for structure in ("AAA", "BBB")]
    assert max(sizes[-4:]) < 1.5 * sizes[0], sizes
    counts = query(
        working_url(url),
        "SELECT structure, count(*) AS n FROM staging.evenements "
        "GROUP BY structure ORDER BY structure",
    )
    assert counts == [{"structure": "AAA", "n": rows}, {"structure": "BBB", "n": rows}]


def test_prepare_restores_what_an_analyst_dropped(warehouse_url: str, tmp_path: Path) -> None:
    from pipelines.store import prepare

    views = {"contact_events", "counted_situations", "granted_aids"}

    def views_present(wh: Warehouse) -> set[str]:
        with wh.transaction() as conn:
            return views & set(
                conn.execute(sa.text("SELECT table_name FROM information_schema.tables")).scalars()
            )

    wh = Warehouse(warehouse_url)
    try:
        prepare(wh)
        assert views_present(wh) == views
        with wh.transaction() as conn:  # an analyst drops a view the rules rely on
            conn.execute(sa.text("DROP VIEW conformed.contact_events"))
        prepare(wh)  # noticed: prepared again
        assert views_present(wh) == views
        prepare(wh)  # unchanged: skipped, still complete
        assert views_present(wh) == views
    finally:
        wh.dispose()
    if warehouse_url.startswith("duckdb"):  # a new database at the same URL
        for path in tmp_path.rglob("*.duckdb*"):
            path.unlink()
        wh = Warehouse(warehouse_url)
        try:
            prepare(wh)
            assert views_present(wh) == views
        finally:
            wh.dispose()


def test_duckdb_threads_come_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    from pipelines.warehouse import THREADS_VARIABLE

    def threads() -> int:
        wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
        try:
            with wh.transaction() as conn:
                return int(conn.execute(sa.text("SELECT current_setting('threads')")).scalar())
        finally:
            wh.dispose()

    monkeypatch.setenv(THREADS_VARIABLE, "1")
    assert threads() == 1
    monkeypatch.setenv(THREADS_VARIABLE, "3")
    assert threads() == 3
    monkeypatch.setenv(THREADS_VARIABLE, "beaucoup")
    with pytest.raises(ValueError, match=THREADS_VARIABLE):
        threads()


def test_postgresql_bulk_copy_writes_what_the_row_by_row_copy_wrote(
    postgres_url: str, monkeypatch
) -> None:
    """The COPY block written by Arrow (CSV) and the row-by-row COPY store the same values,
    tricky texts included: an empty text is not a null, quotes, separators, new lines,
    backslashes, `\\N`, a 30 000-character cell, exact amounts, dates, times, booleans."""
    from datetime import date
    from decimal import Decimal

    import pipelines.warehouse as warehouse_module

    meta = sa.MetaData()
    table = sa.Table(
        "copy_check",
        meta,
        sa.Column("k", sa.Integer),
        sa.Column("text", sa.Text),
        sa.Column("amount", sa.Numeric(16, 2)),
        sa.Column("day", sa.Date),
        sa.Column("at", sa.DateTime),
        sa.Column("flag", sa.Boolean),
        sa.Column("n", sa.BigInteger),
        sa.Column("ratio", sa.Float),
    )
    texts = [
        "",
        None,
        'a "quoted", text',
        "line\nbreak\r\nand tab\t",
        "back\\slash",
        "\\N",
        "x" * 30_000,
        "Marcq-en-Barœul ; 12,5 €",
        " spaces ",
    ]
    n = len(texts)
    frame = pd.DataFrame(
        {
            "k": range(n),
            "text": texts,
            "amount": [
                Decimal("1234.56"),
                None,
                Decimal("-0.01"),
                Decimal("99999999999999.99"),
                *[Decimal(i) for i in range(n - 4)],
            ],
            "day": [date(2025, 1, 1), None, *[date(2025, 12, 31)] * (n - 2)],
            "at": [
                pd.Timestamp("2026-11-28 22:00:01"),
                pd.NaT,
                *[pd.Timestamp("2025-03-04")] * (n - 2),
            ],
            "flag": [True, None, False, *[True] * (n - 3)],
            "n": pd.array([1, None, *range(n - 2)], dtype="Int64"),
            "ratio": [1 / 3, None, *[0.1] * (n - 2)],
        }
    )
    wh = Warehouse(postgres_url)
    try:
        meta.create_all(wh.engine)

        def written() -> list[tuple]:
            with wh.transaction() as conn:
                return [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.k))]

        with wh.transaction() as conn:
            assert warehouse_module._copy_csv(frame) is not None  # the block path is taken
            wh.insert_frame(conn, table, frame)
        as_block = written()
        with wh.transaction() as conn:
            conn.execute(table.delete())
        monkeypatch.setattr(warehouse_module, "_copy_csv", lambda data: None)
        with wh.transaction() as conn:
            wh.insert_frame(conn, table, frame)
        row_by_row = written()
    finally:
        wh.dispose()
    assert as_block == row_by_row
    assert as_block[0][1] == "" and as_block[1][1] is None and as_block[6][1] == "x" * 30_000
    assert as_block[0][2] == Decimal("1234.56") and as_block[3][2] == Decimal("99999999999999.99")
    assert as_block[0][5] is True and as_block[1][5] is None and as_block[1][6] is None


def test_postgresql_partitioned_tables_are_indexed_by_partition(postgres_url: str) -> None:
    """Without these indexes every step scanned whole tables: a partition took longer as the
    warehouse grew (6.6 s for the first of the benchmark region, 19.7 s for the 40th)."""
    from pipelines.store import prepare
    from pipelines.tables import metadata

    partitioned = {
        (t.schema or "public", t.name)
        for t in metadata.sorted_tables
        if {"structure", "year"} <= set(t.c.keys())
    }
    wh = Warehouse(postgres_url)
    try:
        prepare(wh)
        with wh.transaction() as conn:
            indexed = {
                (schema, table)
                for schema, table, definition in conn.execute(
                    sa.text("SELECT schemaname, tablename, indexdef FROM pg_indexes")
                )
                if definition.endswith("(structure, year)")
            }
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # as on a large table
            plan = "\n".join(
                conn.execute(
                    sa.text(
                        "EXPLAIN DELETE FROM conformed.evenements "
                        "WHERE structure = 'S01' AND year = 2025"
                    )
                ).scalars()
            )
    finally:
        wh.dispose()
    assert {"conformed", "staging", "marts", "public"} <= {s for s, _ in partitioned}
    assert partitioned <= indexed, partitioned - indexed
    assert "evenements_partition" in plan, plan


def test_preparing_again_takes_no_lock_a_writer_holds(postgres_url: str) -> None:
    """A worker preparing the warehouse while another writes a table must not wait for it:
    CREATE INDEX IF NOT EXISTS locks its table even when the index exists (found as a
    deadlock between two workers), so existing indexes are not asked for again."""
    from pipelines.store import prepare

    first = Warehouse(postgres_url)
    prepare(first)
    writer = first.engine.connect()
    transaction = writer.begin()  # another worker, in the middle of writing a partition
    writer.execute(sa.text("DELETE FROM staging.evenements WHERE structure = 'S01'"))
    second = Warehouse(
        sa.make_url(postgres_url)
        .update_query_dict({"options": "-c lock_timeout=3000"})
        .render_as_string(hide_password=False)
    )
    try:
        second.ensure_schema()  # would fail with "canceling statement due to lock timeout"
    finally:
        transaction.rollback()
        writer.close()
        second.dispose()
        first.dispose()
