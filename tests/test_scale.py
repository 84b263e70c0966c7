"""What the pipeline needs to stay fast at a region's size (bench/README.md)."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.warehouse import Warehouse, working_url
from tests.builders import JEUNES_HEADERS, write_structure, write_xlsx, young
from tests.conftest import query
from tests.test_bad_inputs import BASE_EVENTS, EVENT_HEADERS, base_zone


def test_postgresql_conformed_tables_have_fresh_statistics(postgres_url: str, tmp_path: Path,
                                                           run) -> None:
    # Without statistics PostgreSQL takes freshly loaded tables for empty and joins events to
    # young people by nested loops: a 100 k-row partition's indicator_units ran for minutes.
    raw = base_zone(tmp_path / "raw")
    assert not run(raw, postgres_url).failed
    stats = query(postgres_url, "SELECT relname, last_analyze FROM pg_stat_user_tables "
                                "WHERE schemaname = 'conformed'")
    analysed = {s["relname"] for s in stats if s["last_analyze"] is not None}
    assert {"jeunes", "evenements", "propositions", "situations", "dispositifs",
            "aides"} <= analysed


# --- partitions in parallel processes: one writer at a time on a DuckDB file ---------------

def _hold_the_warehouse(url: str, log: str, seconds: float) -> None:
    """In another process: take the warehouse, say so, keep it a while, write, let go."""
    wh = Warehouse(url)
    _note(log, "child in")
    time.sleep(seconds)
    with wh.transaction() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS turns (who TEXT)"))
        conn.execute(sa.text("INSERT INTO turns VALUES ('child')"))
    _note(log, "child out")
    wh.dispose()


def _note(log: str, line: str) -> None:
    with open(log, "a") as handle:
        handle.write(line + "\n")


def test_a_second_process_waits_for_the_duckdb_writer_instead_of_failing(tmp_path: Path):
    # DuckDB alone makes the second process fail at once ("Could not set lock on file").
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    log = tmp_path / "log.txt"
    child = multiprocessing.get_context("spawn").Process(
        target=_hold_the_warehouse, args=(url, str(log), 1.0))
    child.start()
    try:
        for _ in range(600):  # the child is in once it said so (spawn takes a few seconds)
            if log.exists() and "child in" in log.read_text():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the child process never took the warehouse")
        wh = Warehouse(url)  # waits for the child
        _note(str(log), "parent in")
        with wh.transaction() as conn:
            conn.execute(sa.text("INSERT INTO turns VALUES ('parent')"))
            turns = [r[0] for r in conn.execute(sa.text("SELECT who FROM turns"))]
        wh.dispose()
    finally:
        child.join(30)
    assert child.exitcode == 0
    assert log.read_text().splitlines() == ["child in", "child out", "parent in"]
    assert turns == ["child", "parent"]


def test_the_writer_lock_is_reentrant_within_a_process(tmp_path: Path):
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    outer, inner = Warehouse(url), Warehouse(url)  # would wait for itself if not re-entrant
    with inner.transaction() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    inner.dispose()
    with outer.transaction() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    outer.dispose()
    # both released: another process gets the warehouse at once
    log = tmp_path / "log.txt"
    child = multiprocessing.get_context("spawn").Process(
        target=_hold_the_warehouse, args=(url, str(log), 0.0))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and log.read_text().splitlines() == ["child in", "child out"]


def _region(raw: Path) -> Path:
    """TST 2024 and 2025, and AUT 2025 (a copy of TST 2025 under another code)."""
    base_zone(raw)
    d2024 = raw / "TST" / "2024"
    write_xlsx(d2024 / "jeunes.xlsx", JEUNES_HEADERS,
               [young("1001", first="10/02/2024"), young("1002", sex="H", first="03/03/2024")])
    write_xlsx(d2024 / "evenements.xlsx", EVENT_HEADERS,
               [[e, i, d.replace("2025", "2024"), *rest]
                for e, i, d, *rest in [*BASE_EVENTS, ["E5", "1002", "06/06/2025",
                                                      "Entretien individuel", None, None, None]]])
    write_structure(raw, "AUT", name="Mission Locale Autre")
    shutil.copytree(raw / "TST" / "2025", raw / "AUT" / "2025")
    return raw


FIGURES = ("SELECT structure, year, indicator, commune_insee, dimension_1, category_1, "
           "dimension_2, category_2, CAST(value AS DOUBLE PRECISION) AS value{more} FROM {table}")


def _figures(url: str, table: str) -> list[tuple]:
    more = ", CAST(change AS DOUBLE PRECISION) AS change" if table == "indicator_trends" else ""
    rows = query(url, FIGURES.format(table=table, more=more))
    return sorted(tuple("" if v is None else v for v in r.values()) for r in rows)


def test_partitions_in_worker_processes_give_the_same_warehouse(tmp_path: Path,
                                                                warehouse_url: str, run):
    raw = _region(tmp_path / "raw")
    reference = f"duckdb:///{tmp_path / 'reference.duckdb'}"
    assert not run(raw, reference).failed                   # one process, one after the other
    summary = run(raw, warehouse_url, workers=2)
    assert not summary.failed, summary.failed
    assert {(o.structure, o.year) for o in summary.outcomes} == {
        ("TST", 2024), ("TST", 2025), ("AUT", 2025)}
    # a structure's years run in order in one worker: 2025's trends found 2024's figures
    years = [o.year for o in summary.outcomes if o.structure == "TST"]
    assert years == [2024, 2025]
    trends = _figures(warehouse_url, "indicator_trends")
    assert any(r[0] == "TST" and r[1] == 2025 for r in trends)
    for table in ("indicator_values", "indicator_trends"):
        assert _figures(warehouse_url, table) == _figures(reference, table), table
    assert summary.rows_read == run(raw, reference).rows_read  # the same rows accounted
    assert all(o.peak_mib and o.peak_mib > 0 for o in summary.outcomes)


# --- the staging rows handed to the conformed step in the same process --------------------

def test_staging_rows_kept_in_process_are_those_read_back(warehouse_url: str,
                                                          demo_warehouse: tuple[str, Path]):
    # The conformed step uses the rows the staging step just wrote instead of reading them
    # back (pipelines/publish.py): validation must see exactly what the warehouse holds.
    from pipelines import publish
    from pipelines.staging import stage_partition

    raw = demo_warehouse[1] / "raw"
    staged = stage_partition(raw / "MNO" / "2025", raw, "MNO", 2025,
                             pd.Timestamp("2026-01-06 10:00:00"))
    wh = Warehouse(warehouse_url)
    try:
        publish.prepare(wh)
        publish.write_staging(wh, staged, "MNO", 2025)
        kept, kept_sheets, kept_files = publish.read_staging(wh, "MNO", 2025)
        assert not publish._just_written  # handed over once, then forgotten
        read, read_sheets, read_files = publish.read_staging(wh, "MNO", 2025)
    finally:
        wh.dispose()
    assert sum(len(f) for f in read.values()) > 1000
    for name in read:
        pd.testing.assert_frame_equal(kept[name], read[name],
                                      obj=f"staging.{name}")
    pd.testing.assert_frame_equal(kept_sheets, read_sheets)
    pd.testing.assert_frame_equal(kept_files, read_files)


def test_staging_rows_are_read_back_when_the_warehouse_holds_another_load(duckdb_url: str,
                                                                         tmp_path: Path):
    from pipelines import publish
    from pipelines.staging import stage_partition

    raw = base_zone(tmp_path / "raw")
    first = stage_partition(raw / "TST" / "2025", raw, "TST", 2025,
                            pd.Timestamp("2026-01-06 10:00:00"))
    second = stage_partition(raw / "TST" / "2025", raw, "TST", 2025,
                             pd.Timestamp("2026-01-06 11:00:00"))
    second.tables["jeunes"] = second.tables["jeunes"].iloc[:1]
    wh = Warehouse(duckdb_url)
    try:
        publish.prepare(wh)
        publish.write_staging(wh, second, "TST", 2025)
        publish._just_written.clear()
        publish.write_staging(wh, first, "TST", 2025)
        # another process (or run) replaced the partition since: the kept rows are stale
        publish._just_written[(wh.url, "TST", 2025)] = second
        frames, _, _ = publish.read_staging(wh, "TST", 2025)
    finally:
        wh.dispose()
    assert len(frames["jeunes"]) == len(first.tables["jeunes"]) > 1


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
        return pd.DataFrame({
            "structure": structure, "year": 2025, "source_file": f"{structure}/ev.xlsx",
            "source_row": np.arange(rows), "event_id": [f"E{run}-{i}" for i in range(rows)],
            "young_id": rng.integers(0, 5000, rows).astype(str),
            "event_type": rng.choice(["Entretien individuel", "Atelier", "Mail"], rows)})

    def reload(structure: str, run: int) -> int:
        wh = Warehouse(url)
        try:
            wh.ensure_schema()
            with wh.transaction() as conn:
                wh.replace_rows(conn, table, partition(structure, run),
                                {"structure": structure, "year": 2025})
        finally:
            wh.dispose()
        return (tmp_path / "work" / "warehouse.duckdb").stat().st_size

    reload("AAA", 0)
    reload("BBB", 0)
    sizes = [reload(structure, run) for run in range(1, 7) for structure in ("AAA", "BBB")]
    assert max(sizes[-4:]) < 1.5 * sizes[0], sizes
    counts = query(working_url(url),
                   "SELECT structure, count(*) AS n FROM staging.evenements "
                   "GROUP BY structure ORDER BY structure")
    assert counts == [{"structure": "AAA", "n": rows}, {"structure": "BBB", "n": rows}]


def test_prepare_is_skipped_until_the_database_changes(warehouse_url: str,
                                                       tmp_path: Path) -> None:
    from pipelines.publish import prepare

    views = {"contact_events", "counted_situations", "granted_aids"}

    def views_present(wh: Warehouse) -> set[str]:
        with wh.transaction() as conn:
            return views & set(conn.execute(sa.text(
                "SELECT table_name FROM information_schema.tables")).scalars())

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


def test_duckdb_threads_are_shared_out_between_worker_processes(tmp_path: Path,
                                                                monkeypatch) -> None:
    from pipelines.runner import duckdb_threads_per_worker
    from pipelines.warehouse import THREADS_VARIABLE

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert [duckdb_threads_per_worker(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]

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


def test_postgresql_bulk_copy_writes_what_the_row_by_row_copy_wrote(postgres_url: str,
                                                                     monkeypatch) -> None:
    """The COPY block written by Arrow (CSV) and the row-by-row COPY store the same values,
    tricky texts included: an empty text is not a null, quotes, separators, new lines,
    backslashes, `\\N`, a 30 000-character cell, exact amounts, dates, times, booleans."""
    from datetime import date
    from decimal import Decimal

    import pipelines.warehouse as warehouse_module

    meta = sa.MetaData()
    table = sa.Table(
        "copy_check", meta, sa.Column("k", sa.Integer), sa.Column("text", sa.Text),
        sa.Column("amount", sa.Numeric(16, 2)), sa.Column("day", sa.Date),
        sa.Column("at", sa.DateTime), sa.Column("flag", sa.Boolean),
        sa.Column("n", sa.BigInteger), sa.Column("ratio", sa.Float))
    texts = ["", None, 'a "quoted", text', "line\nbreak\r\nand tab\t", "back\\slash",
             "\\N", "x" * 30_000, "Marcq-en-Barœul ; 12,5 €", " spaces "]
    n = len(texts)
    frame = pd.DataFrame({
        "k": range(n), "text": texts,
        "amount": [Decimal("1234.56"), None, Decimal("-0.01"), Decimal("99999999999999.99"),
                   *[Decimal(i) for i in range(n - 4)]],
        "day": [date(2025, 1, 1), None, *[date(2025, 12, 31)] * (n - 2)],
        "at": [pd.Timestamp("2026-11-28 22:00:01"), pd.NaT,
               *[pd.Timestamp("2025-03-04")] * (n - 2)],
        "flag": [True, None, False, *[True] * (n - 3)],
        "n": pd.array([1, None, *range(n - 2)], dtype="Int64"),
        "ratio": [1 / 3, None, *[0.1] * (n - 2)],
    })
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
    from pipelines.publish import prepare
    from pipelines.tables import metadata

    partitioned = {(t.schema or "public", t.name) for t in metadata.sorted_tables
                   if {"structure", "year"} <= set(t.c.keys())}
    wh = Warehouse(postgres_url)
    try:
        prepare(wh)
        with wh.transaction() as conn:
            indexed = {(schema, table) for schema, table, definition in conn.execute(sa.text(
                "SELECT schemaname, tablename, indexdef FROM pg_indexes"))
                if definition.endswith("(structure, year)")}
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # as on a large table
            plan = "\n".join(conn.execute(sa.text(
                "EXPLAIN DELETE FROM conformed.evenements "
                "WHERE structure = 'S01' AND year = 2025")).scalars())
    finally:
        wh.dispose()
    assert {"conformed", "staging", "marts", "public"} <= {s for s, _ in partitioned}
    assert partitioned <= indexed, partitioned - indexed
    assert "evenements_partition" in plan, plan


def test_preparing_again_takes_no_lock_a_writer_holds(postgres_url: str) -> None:
    """A worker preparing the warehouse while another writes a table must not wait for it:
    CREATE INDEX IF NOT EXISTS locks its table even when the index exists (found as a
    deadlock between two workers), so existing indexes are not asked for again."""
    from pipelines.publish import prepare

    first = Warehouse(postgres_url)
    prepare(first)
    writer = first.engine.connect()
    transaction = writer.begin()  # another worker, in the middle of writing a partition
    writer.execute(sa.text("DELETE FROM staging.evenements WHERE structure = 'S01'"))
    second = Warehouse(sa.make_url(postgres_url).update_query_dict(
        {"options": "-c lock_timeout=3000"}).render_as_string(hide_password=False))
    try:
        second.ensure_schema()  # would fail with "canceling statement due to lock timeout"
    finally:
        transaction.rollback()
        writer.close()
        second.dispose()
        first.dispose()
