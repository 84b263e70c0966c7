"""Operations: the drop-zone sensor, the nightly schedule, the code location in the UI, the
published warehouse (analysts never blocked, never half-written), the data dictionary."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

import assets.marts
from pipelines import dictionary
from pipelines import tables as t
from pipelines.asset_metadata import table_of
from pipelines.config import PROJECT_ROOT
from pipelines.definitions import defs
from pipelines.jobs import NEXT_YEAR_ASSETS
from pipelines.partitions import partitions_def
from pipelines.resources import DropZoneResource, WarehouseResource
from pipelines.schedules import DEFAULT_CRON, TIMEZONE, nightly_refresh
from pipelines.sensors import SETTLE_VARIABLE, drop_zone_sensor
from pipelines.warehouse import Warehouse, published_path, working_url
from tests.builders import EVENT_HEADERS, drop_zone, write_xlsx
from tests.conftest import query

# Dagster's own multi-partition run tags (dagster/partition/<dimension>) trip its deprecation.
pytestmark = pytest.mark.filterwarnings("ignore:Non-compliant tag keys:DeprecationWarning")

TOTALS = (
    "SELECT indicator, value FROM indicator_values WHERE commune_insee IS NULL "
    "AND dimension_1 IS NULL ORDER BY indicator"
)


# --- the drop-zone sensor -------------------------------------------------------------------


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture(autouse=True)
def _no_settling(monkeypatch):
    monkeypatch.setenv(SETTLE_VARIABLE, "0")


def _drop(raw: Path, relative: str, content: str) -> Path:
    path = raw / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def _resources(raw: Path, url: str) -> dict:
    return {
        "drop_zone": DropZoneResource(raw_dir=str(raw)),
        "warehouse": WarehouseResource(url=url),
    }


class Sensor:
    """Evaluates the sensor tick after tick as the daemon does: run requests resolved against
    the definitions (jobs, partitions), cursor carried, partition requests applied."""

    def __init__(self, instance: dg.DagsterInstance, raw: Path, url: str) -> None:
        self.instance, self.raw, self.url, self.cursor = instance, raw, url, None

    def tick(self):
        with dg.build_sensor_context(
            instance=self.instance,
            instance_ref=self.instance.get_ref(),
            cursor=self.cursor,
            definitions=defs,
            resources=_resources(self.raw, self.url),
        ) as context:
            result = drop_zone_sensor.evaluate_tick(context)
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        return result


def _ingests(result) -> list[tuple[str, str, tuple | None]]:
    """(structure, year, asset selection) of each run request of `integrer_partition`."""
    out = []
    for r in result.run_requests or []:
        if r.job_name == "integrer_partition":
            keys = partitions_def.get_partition_key_from_str(r.partition_key).keys_by_dimension
            out.append(
                (
                    keys["structure"],
                    keys["year"],
                    tuple(r.asset_selection) if r.asset_selection else None,
                )
            )
    return out


def _partition_requests(result) -> dict[str, list[str]]:
    return {
        r.partitions_def_name: list(r.partition_keys)
        for r in result.dynamic_partitions_requests or []
    }


def test_sensor_runs_new_changed_and_next_year_partitions_only(tmp_path, duckdb_url, instance):
    raw = tmp_path / "raw"
    jeunes = _drop(raw, "TST/2025/jeunes.csv", "v1")
    sensor = Sensor(instance, raw, duckdb_url)

    first = sensor.tick()  # a new file: its partition registered and run, the catalogue too
    assert _ingests(first) == [("TST", "2025", None)]
    assert _partition_requests(first) == {"structure": ["TST"], "year": ["2025"]}
    assert [r.job_name for r in first.run_requests if not r.partition_key] == ["publier_catalogue"]
    assert all(r.run_key for r in first.run_requests)
    assert len(json.loads(sensor.cursor)["files"]) == 1
    assert " " not in sensor.cursor  # compact JSON

    unchanged = sensor.tick()
    assert not unchanged.run_requests and unchanged.skip_message
    assert not unchanged.dynamic_partitions_requests

    os.utime(jeunes, ns=(time.time_ns(), time.time_ns() - 10**9))  # touched, same bytes
    assert not sensor.tick().run_requests

    jeunes.write_text("v2", encoding="utf-8")  # changed content
    changed = sensor.tick()
    assert _ingests(changed) == [("TST", "2025", None)]
    assert changed.run_requests[0].run_key != first.run_requests[-1].run_key

    # The year before appears: it runs, and so do the next year's trends (and publication).
    _drop(raw, "TST/2024/jeunes.csv", "old")
    earlier = sensor.tick()
    assert _ingests(earlier) == [("TST", "2024", None), ("TST", "2025", tuple(NEXT_YEAR_ASSETS))]
    assert _partition_requests(earlier) == {"year": ["2024"]}

    # A new structure folder is a new partition, no code change.
    _drop(raw, "NEW/2025/evenements.xlsx", "x")
    (raw / "NEW" / "2025" / "~$evenements.xlsx").write_text("lock")  # Excel's lock: ignored
    (raw / "NEW" / "notes.txt").write_text("not a partition")
    new = sensor.tick()
    assert _ingests(new) == [("NEW", "2025", None)]
    assert _partition_requests(new) == {"structure": ["NEW"]}
    assert set(instance.get_dynamic_partitions("structure")) == {"TST", "NEW"}

    # A removed file changes its partition too; its key names the new state.
    (raw / "NEW" / "2025" / "evenements.xlsx").unlink()
    _drop(raw, "NEW/2025/evenements-v2.xlsx", "y")
    assert _ingests(sensor.tick()) == [("NEW", "2025", None)]
    assert not sensor.tick().run_requests


def test_sensor_run_keys_differ_when_a_file_is_put_back(tmp_path, duckdb_url, instance):
    raw = tmp_path / "raw"
    path = _drop(raw, "TST/2025/a.csv", "A")
    sensor = Sensor(instance, raw, duckdb_url)
    keys = [[r.run_key for r in sensor.tick().run_requests if r.partition_key][0]]
    for content in ("B", "A"):
        path.write_text(content)
        os.utime(path, ns=(time.time_ns(), time.time_ns() - len(keys) * 10**9))
        keys.append(sensor.tick().run_requests[0].run_key)
    assert len(set(keys)) == 3


def test_sensor_waits_for_a_file_being_copied(tmp_path, duckdb_url, instance, monkeypatch):
    raw = tmp_path / "raw"
    _drop(raw, "TST/2025/a.csv", "A")
    monkeypatch.setenv(SETTLE_VARIABLE, "60")
    sensor = Sensor(instance, raw, duckdb_url)
    assert not _ingests(sensor.tick())  # modified a moment ago: next tick
    monkeypatch.setenv(SETTLE_VARIABLE, "0")
    assert _ingests(sensor.tick()) == [("TST", "2025", None)]


def _publish_ingested(url: str, rows: list[tuple[str, int, str, str]]) -> None:
    """A published warehouse whose ingested_files holds just (structure, year, file, sha256)
    rows."""
    wh = Warehouse(url)
    try:
        wh.ensure_schema()
        frame = pd.DataFrame(
            [
                {
                    "structure": s,
                    "year": y,
                    "file": f,
                    "sha256": sha,
                    "export_type": "jeunes",
                    "rows_read": 1,
                    "rows_loaded": 1,
                    "rows_rejected": 0,
                    "loaded_at": pd.Timestamp("2026-01-05"),
                }
                for s, y, f, sha in rows
            ]
        )
        with wh.transaction() as conn:
            conn.execute(t.ingested_files.delete())
            wh.insert_frame(conn, t.ingested_files, frame)
        wh.publish()
    finally:
        wh.dispose()


def test_sensor_first_tick_starts_from_the_published_warehouse(tmp_path, duckdb_url, instance):
    from pipelines.staging import sha256_of

    raw = tmp_path / "raw"
    loaded = _drop(raw, "TST/2025/jeunes.csv", "loaded")
    _drop(raw, "TST/2025/aides.csv", "new")
    old = _drop(raw, "OLD/2023/jeunes.csv", "same")
    _publish_ingested(
        duckdb_url,
        [
            ("TST", 2025, "TST/2025/jeunes.csv", sha256_of(loaded)),
            ("OLD", 2023, "OLD/2023/jeunes.csv", sha256_of(old)),
        ],
    )
    result = Sensor(instance, raw, duckdb_url).tick()
    assert _ingests(result) == [("TST", "2025", None)]  # OLD 2023 is loaded as it is


# --- the nightly schedule --------------------------------------------------------------------


def test_schedule_requests_changed_and_never_loaded_partitions(tmp_path, duckdb_url, instance):
    from pipelines.staging import sha256_of

    raw = tmp_path / "raw"
    same = _drop(raw, "TST/2025/jeunes.csv", "same")
    _drop(raw, "TST/2024/jeunes.csv", "edited since")
    _drop(raw, "ABC/2025/jeunes.csv", "never loaded")
    _publish_ingested(
        duckdb_url,
        [
            ("TST", 2025, "TST/2025/jeunes.csv", sha256_of(same)),
            ("TST", 2024, "TST/2024/jeunes.csv", "0" * 64),
        ],
    )

    def evaluate():
        with dg.build_schedule_context(
            instance=instance,
            instance_ref=instance.get_ref(),
            repository_def=defs.get_repository_def(),
            resources=_resources(raw, duckdb_url),
            scheduled_execution_time=datetime(2026, 1, 6, 2, 0),
        ) as context:
            return nightly_refresh.evaluate_tick(context)

    tick = evaluate()
    assert _ingests(tick) == [
        ("TST", "2024", None),
        ("ABC", "2025", None),
        ("TST", "2025", tuple(NEXT_YEAR_ASSETS)),
    ]
    requests = tick.run_requests
    assert len({r.run_key for r in requests}) == 3
    assert all(r.tags["observatoire/trigger"] == "nightly" for r in requests)
    # the partitions the runs need are registered
    assert set(instance.get_dynamic_partitions("structure")) == {"TST", "ABC"}
    assert set(instance.get_dynamic_partitions("year")) == {"2024", "2025"}

    _publish_ingested(
        duckdb_url,
        [
            ("TST", 2025, "TST/2025/jeunes.csv", sha256_of(same)),
            ("TST", 2024, "TST/2024/jeunes.csv", sha256_of(raw / "TST/2024/jeunes.csv")),
            ("ABC", 2025, "ABC/2025/jeunes.csv", sha256_of(raw / "ABC/2025/jeunes.csv")),
        ],
    )
    tick = evaluate()
    assert not tick.run_requests and tick.skip_message


def test_schedule_runs_at_night_in_paris_and_takes_its_hour_from_the_environment(monkeypatch):
    import importlib

    import pipelines.schedules as schedules

    assert nightly_refresh.cron_schedule == DEFAULT_CRON == "0 2 * * *"
    assert nightly_refresh.execution_timezone == TIMEZONE == "Europe/Paris"
    monkeypatch.setenv("OBSERVATOIRE_NIGHTLY_CRON", "30 23 * * 1-5")
    try:
        assert importlib.reload(schedules).nightly_refresh.cron_schedule == "30 23 * * 1-5"
    finally:
        monkeypatch.delenv("OBSERVATOIRE_NIGHTLY_CRON")
        importlib.reload(schedules)


# --- the code location -----------------------------------------------------------------------


def test_definitions_load_with_groups_automation_and_pools():
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"raw", "staging", "conformed", "marts"} <= groups
    assert graph.get(dg.AssetKey("published_warehouse")).group_name == "marts"
    published = graph.get(dg.AssetKey("published_warehouse"))
    assert {
        dg.AssetKey("indicator_values"),
        dg.AssetKey("indicator_trends"),
    } <= published.parent_keys
    # off until turned on (docs/operations.md)
    assert [s.name for s in defs.sensors] == ["observatoire_drop_zone"]
    assert [s.name for s in defs.schedules] == ["observatoire_nightly"]
    assert drop_zone_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert nightly_refresh.default_status == dg.DefaultScheduleStatus.STOPPED
    # every asset that writes the warehouse waits for the one "warehouse" slot
    writers = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition)
        and a.is_executable
        and (
            any(table_of(k) is not None for k in a.keys)
            or a.keys & {dg.AssetKey("published_warehouse")}
        )
    ]
    assert {
        dg.AssetKey("published_warehouse"),
        dg.AssetKey("indicator_catalogue"),
        dg.AssetKey("data_dictionary"),
    } <= {k for a in writers for k in a.keys}
    assert all(a.op.pool == "warehouse" for a in writers), [a.keys for a in writers]
    # table schemas, from pipelines/tables.py, with the dictionary's meanings
    values = graph.get(dg.AssetKey("indicator_values")).metadata["dagster/column_schema"]
    assert [c.name for c in values.columns] == [c.name for c in t.indicator_values.columns]
    assert all(c.description for c in values.columns)


def test_the_instance_admits_one_warehouse_writer_at_a_time(tmp_path):
    shutil.copy(PROJECT_ROOT / ".dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    finally:
        instance.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query_text: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query_text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _default_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """End a Dagster process and its children (started in a session of their own)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_webserver_serves_the_asset_graph(tmp_path):
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    webserver = Path(sys.executable).parent / "dagster-webserver"
    log = (tmp_path / "webserver.log").open("w")
    process = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_default_signals,
    )  # SIGTERM may be ignored where pytest runs
    try:
        deadline, nodes, last_error = time.monotonic() + 60, None, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = _graphql(port, "{ assetNodes { assetKey { path } groupName } }")
                nodes = answer.get("data", {}).get("assetNodes")
                if nodes:
                    break
            except OSError as exc:  # not listening yet
                last_error = exc
            time.sleep(1)
        assert nodes, f"no asset nodes within 60 s ({last_error}); see {log.name}"
        by_key = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
        assert by_key["indicator_values"] == "marts"
        assert by_key["published_warehouse"] == "marts"
        assert {"raw", "staging", "conformed", "marts"} <= set(by_key.values())
        errors = _graphql(
            port,
            "{ workspaceOrError { ... on Workspace { locationEntries { "
            "locationOrLoadError { __typename } } } } }",
        )
        entries = errors["data"]["workspaceOrError"]["locationEntries"]
        assert [e["locationOrLoadError"]["__typename"] for e in entries] == ["RepositoryLocation"]
    finally:
        _stop(process)
        log.close()


# --- the published warehouse -----------------------------------------------------------------


def test_working_and_published_databases():
    assert (
        working_url("duckdb:///tmp/x/observatoire.duckdb")
        == "duckdb:///tmp/x/work/observatoire.duckdb"
    )
    assert working_url("duckdb:////srv/wh/o.duckdb") == "duckdb:////srv/wh/work/o.duckdb"
    assert published_path("duckdb:////srv/wh/o.duckdb") == Path("/srv/wh/o.duckdb")
    pg = "postgresql+psycopg://analyst@db:5432/observatoire"
    assert working_url(pg) == pg and published_path(pg) is None
    assert working_url("duckdb:///:memory:") == "duckdb:///:memory:"


def test_a_warehouse_published_before_the_split_becomes_the_working_base(tmp_path):
    old = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(old)) as conn:
        conn.execute("CREATE TABLE kept AS SELECT 42 AS answer")
    wh = Warehouse(f"duckdb:///{old}")
    try:
        with wh.transaction() as conn:
            assert wh.read_frame(conn, "SELECT answer FROM kept")["answer"].tolist() == [42]
    finally:
        wh.dispose()
    assert (tmp_path / "work" / "warehouse.duckdb").exists()


def test_postgresql_needs_no_copy(postgres_url):
    wh = Warehouse(postgres_url)
    try:
        assert wh.url == postgres_url and wh.publish() is None
    finally:
        wh.dispose()


def _in_another_process(path: Path, sql: str) -> list:
    """What an analyst opening the file now reads (a new process: a new connection)."""
    code = (
        "import duckdb, json, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(json.dumps([[str(v) for v in r] for r in c.execute(sys.argv[2]).fetchall()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), sql], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def test_an_analyst_holding_the_warehouse_open_never_blocks_a_run(tmp_path, duckdb_url, run):
    raw = drop_zone(tmp_path / "raw")
    assert not run(raw, duckdb_url).failed
    path = published_path(duckdb_url)
    analyst = duckdb.connect(str(path), read_only=True)
    try:
        before = analyst.execute(TOTALS).fetchall()
        write_xlsx(
            raw / "TST" / "2025" / "evenements.xlsx",
            EVENT_HEADERS,
            [["1001", "02/02/2025", "SMS", None, "x"]],
        )
        summary = run(raw, duckdb_url)
        assert not summary.failed, summary.failed
        # the open connection keeps the figures it opened ...
        assert analyst.execute(TOTALS).fetchall() == before
    finally:
        analyst.close()
    # ... the next one sees the new figures
    after = dict(_in_another_process(path, TOTALS))
    assert dict((k, str(v)) for k, v in before)["contacts"] != after["contacts"]
    assert float(after["contacts"]) == 1
    assert not list(path.parent.glob(".*.tmp"))


def test_a_failing_blocking_check_leaves_the_published_figures(
    tmp_path, duckdb_url, run, monkeypatch
):
    raw = drop_zone(tmp_path / "raw")
    assert not run(raw, duckdb_url).failed
    before = query(duckdb_url, TOTALS)
    events = "SELECT count(*) AS n FROM conformed.evenements"
    events_before = query(duckdb_url, events)
    real = assets.marts.indicator_values

    def tampered(*args, **kwargs):
        values = real(*args, **kwargs)
        total = (
            values["commune_insee"].isna()
            & values["dimension_1"].isna()
            & (values["indicator"] == "contacts")
        )
        values.loc[total, "value"] = values.loc[total, "value"].map(lambda v: v + 7)
        return values

    monkeypatch.setattr(assets.marts, "indicator_values", tampered)
    write_xlsx(
        raw / "TST" / "2025" / "evenements.xlsx",
        EVENT_HEADERS,
        [["1001", "02/02/2025", "SMS", None, "x"]],
    )
    summary = run(raw, duckdb_url)
    assert len(summary.failed) == 1 and "blocking asset checks failed" in summary.failed[0].error
    assert query(duckdb_url, TOTALS) == before  # the published figures stay
    assert query(duckdb_url, events) == events_before  # nor its other layers
    # nor do the working ones: a later publication cannot carry the failing figures
    assert query(working_url(duckdb_url), TOTALS) == before


def test_a_run_publishes_the_data_dictionary(tmp_path, duckdb_url, run):
    raw = drop_zone(tmp_path / "raw")
    assert not run(raw, duckdb_url).failed
    rows = query(duckdb_url, "SELECT table_name, column_name, meaning FROM data_dictionary")
    assert len(rows) == len(dictionary.entries())
    assert {(r["table_name"], r["column_name"]) for r in rows} >= {
        ("indicator_values", "value"),
        ("conformed.jeunes", "young_id"),
    }


# --- the data dictionary ---------------------------------------------------------------------


def test_every_column_of_every_table_is_documented():
    entries = dictionary.entries()  # raises, naming what config/dictionary.yaml lacks
    documented = {(e.table_name, e.column_name) for e in entries if e.meaning.strip()}
    for table in t.metadata.sorted_tables:
        for column in table.columns:
            assert (table.fullname, column.name) in documented
    assert all(e.example for e in entries)


def test_the_data_dictionary_page_is_up_to_date():
    page = (PROJECT_ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert page == dictionary.render_markdown(), (
        "docs/data-dictionary.md is stale: run `python -m pipelines.dictionary`"
    )


def test_an_undocumented_column_is_named(monkeypatch):
    real = dictionary.meanings()
    config = dataclasses.replace(
        real, columns={k: v for k, v in real.columns.items() if k != "sha256"}
    )
    monkeypatch.setattr(dictionary, "meanings", lambda: config)
    with pytest.raises(dictionary.UndocumentedError, match="ingested_files.sha256"):
        dictionary.entries()


# --- queued runs under the daemon -------------------------------------------------------------


def test_the_daemon_runs_queued_partitions_a_structures_years_in_order(tmp_path, warehouse_url):
    """The real daemon starts runs queued as the sensor queues them. DuckDB: the project's
    settings, one run at a time in queue order. PostgreSQL: both limits raised to 2, as
    docs/scaling.md says: two structures side by side, a structure's years still in order."""
    import yaml

    from pipelines.partitions import discover_partitions, partition_key, register_partitions
    from pipelines.plan import CATALOGUE
    from pipelines.resources import default_resources
    from pipelines.runner import definitions_for, execute
    from tests.conftest import RUN_DATE
    from tests.test_scale import _region

    raw = _region(tmp_path / "raw")
    home = tmp_path / "dagster_home"
    home.mkdir()
    settings = yaml.safe_load((PROJECT_ROOT / ".dagster_home" / "dagster.yaml").read_text())
    side_by_side = warehouse_url.startswith("postgresql")
    if side_by_side:
        settings["concurrency"]["runs"]["max_concurrent_runs"] = 2
        settings["concurrency"]["pools"]["default_limit"] = 2
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "WAREHOUSE_URL": warehouse_url,
        "OBSERVATOIRE_RAW_DIR": str(raw),
        "OBSERVATOIRE_RUN_DATE": RUN_DATE,
    }
    instance = dg.DagsterInstance.from_config(str(home))
    bin_dir = Path(sys.executable).parent
    daemon = None
    log = (tmp_path / "daemon.log").open("w")
    queued = [("TST", 2024), ("TST", 2025), ("AUT", 2025)]
    try:
        register_partitions(instance, discover_partitions(raw))
        execute(
            CATALOGUE,
            instance,
            definitions_for(default_resources(url=warehouse_url, raw_dir=raw, run_date=RUN_DATE)),
            lambda _m: None,
        )
        for structure, year in queued:  # with the tags of a sensor's run request
            tags = {
                **partitions_def.get_tags_for_partition_key(str(partition_key(structure, year))),
                "test": "queue",
            }
            subprocess.run(
                [
                    str(bin_dir / "dagster"),
                    "job",
                    "launch",
                    "-w",
                    "workspace.yaml",
                    "-j",
                    "integrer_partition",
                    "--tags",
                    json.dumps(tags),
                ],
                cwd=PROJECT_ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        runs = instance.get_run_records(dg.RunsFilter(tags={"test": "queue"}))
        assert {r.dagster_run.status for r in runs} == {dg.DagsterRunStatus.QUEUED}
        daemon = subprocess.Popen(
            [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            runs = instance.get_run_records(dg.RunsFilter(tags={"test": "queue"}))
            if all(r.dagster_run.is_finished for r in runs):
                break
            assert daemon.poll() is None, f"the daemon stopped; see {log.name}"
            time.sleep(1)
        by_partition = {r.dagster_run.tags["dagster/partition"]: r for r in runs}
        assert {k: r.dagster_run.status for k, r in by_partition.items()} == {
            str(partition_key(s, y)): dg.DagsterRunStatus.SUCCESS for s, y in queued
        }, f"see {log.name}"
        tst_2024, tst_2025, aut = (by_partition[str(partition_key(s, y))] for s, y in queued)
        assert tst_2024.end_time <= tst_2025.start_time  # TST's years in order
        if side_by_side:
            assert aut.start_time < tst_2024.end_time  # AUT beside TST 2024
        else:
            assert tst_2025.end_time <= aut.start_time  # one at a time, queue order
    finally:
        if daemon is not None:
            _stop(daemon)
        log.close()
        instance.dispose()
    assert (
        query(
            warehouse_url,
            "SELECT count(*) AS n FROM indicator_trends WHERE structure = 'TST' AND year = 2025",
        )[0]["n"]
        > 0
    )
    assert {
        (r["structure"], r["year"])
        for r in query(warehouse_url, "SELECT DISTINCT structure, year FROM indicator_values")
    } == set(queued)
