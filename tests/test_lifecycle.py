"""The warehouse equals a rebuild from raw/ after folders leave (issue 16, point 1): a year
folder deleted and a structure folder renamed, on every path (a full run, a named run with
--remove, a sensor tick, the nightly) and both engines, compared table by table with a
rebuild from scratch of the same raw/."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from pipelines import tables as t
from pipelines.cli import main
from pipelines.definitions import defs
from pipelines.resources import default_resources
from pipelines.runner import definitions_for, run_partitions
from pipelines.schedules import nightly_refresh
from pipelines.sensors import SETTLE_VARIABLE
from tests.conftest import RUN_DATE, query
from tests.test_operations import Sensor
from tests.test_scale import _region

# when a row was written: differs between any two runs
_TIMES = {"loaded_at", "seen_at", "recorded_at"}


def _snapshot(url: str) -> dict[str, list[tuple]]:
    """Every table of the warehouse, time columns aside, rows sorted."""
    out = {}
    for table in t.metadata.sorted_tables:
        name = f"{table.schema}.{table.name}" if table.schema else table.name
        columns = [c.name for c in table.columns if c.name not in _TIMES]
        rows = query(url, f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)} "
                          f"FROM {name}")
        out[name] = sorted(tuple(_plain(v) for v in r.values()) for r in rows)
    return out


def _plain(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    return str(value)


def _change(raw: Path) -> None:
    """A year folder deleted, a structure folder renamed."""
    shutil.rmtree(raw / "TST" / "2024")
    (raw / "AUT").rename(raw / "NEW")


def _rebuild(raw: Path, tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'rebuild' / 'observatoire.duckdb'}"
    summary = run_partitions(raw, url=url, run_date=RUN_DATE,
                             instance=dg.DagsterInstance.ephemeral(), progress=lambda _m: None)
    assert not summary.failed, summary.failed
    return url


def _execute(requests: list[dg.RunRequest], instance: dg.DagsterInstance, raw: Path,
             url: str) -> None:
    """Run requests as the daemon would, in their order."""
    definitions = definitions_for(default_resources(url=url, raw_dir=raw, run_date=RUN_DATE))
    for request in requests:
        result = definitions.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, partition_key=request.partition_key,
            asset_selection=request.asset_selection, run_config=request.run_config or None,
            tags=request.tags, raise_on_error=False)
        assert result.success, request


@pytest.mark.parametrize("path", ["full", "named", "sensor", "nightly"])
def test_vanished_partitions_leave_every_layer(tmp_path: Path, warehouse_url: str, path: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTLE_VARIABLE, "0")  # files just written count as settled
    raw = _region(tmp_path / "raw")
    with dg.instance_for_test() as instance:
        _vanish(tmp_path, raw, instance, warehouse_url, path)


def _vanish(tmp_path: Path, raw: Path, instance: dg.DagsterInstance, warehouse_url: str,
            path: str) -> None:
    first = run_partitions(raw, url=warehouse_url, run_date=RUN_DATE, instance=instance,
                           progress=lambda _m: None)
    assert not first.failed
    sensor = Sensor(instance, raw, warehouse_url)
    if path == "sensor":
        sensor.tick()  # the sensor's first tick: what the warehouse holds is not news
    _change(raw)

    if path == "full":
        summary = run_partitions(raw, url=warehouse_url, run_date=RUN_DATE, instance=instance,
                                 progress=lambda _m: None)
        assert sorted(summary.removed) == [("AUT", 2025), ("TST", 2024)]
        assert {(o.structure, o.year) for o in summary.outcomes} == {("NEW", 2025),
                                                                    ("TST", 2025)}
    elif path == "named":
        argv = ["run", "--raw", str(raw), "--warehouse", warehouse_url, "--run-date", RUN_DATE,
                "--no-history"]
        assert main([*argv, "--structure", "TST", "--year", "2024"]) == 1  # said, not done
        assert ("TST", 2024) in {(r["structure"], r["year"]) for r in query(
            warehouse_url, "SELECT DISTINCT structure, year FROM indicator_values")}
        assert main([*argv, "--structure", "TST", "--year", "2024", "--remove"]) == 0
        assert main([*argv, "--structure", "AUT", "--remove"]) == 0
        assert main([*argv, "--structure", "NEW"]) == 0
    elif path == "sensor":
        result = sensor.tick()
        keys = sorted(r.run_key.split("-")[0] for r in result.run_requests or [])
        assert keys.count("remove") == 2, keys
        _execute(list(result.run_requests or []), instance, raw, warehouse_url)
        again = sensor.tick()  # the removal is not asked twice
        assert not again.run_requests, again.run_requests
    else:
        with dg.build_schedule_context(
                instance=instance, instance_ref=instance.get_ref(),
                repository_def=defs.get_repository_def(),
                resources=default_resources(url=warehouse_url, raw_dir=raw)) as context:
            requests = nightly_refresh.evaluate_tick(context).run_requests or []
        assert sum(r.run_key.startswith("remove-") for r in requests) == 2
        _execute(list(requests), instance, raw, warehouse_url)

    rebuilt = _snapshot(_rebuild(raw, tmp_path))
    now = _snapshot(warehouse_url)
    for table in rebuilt:
        assert now[table] == rebuilt[table], table
    assert not any(r["structure"] == "AUT" for r in query(
        warehouse_url, "SELECT DISTINCT structure FROM conformed.communes"))


def test_a_folder_differing_only_by_case_is_another_structure_and_said(
        tmp_path: Path, duckdb_url: str) -> None:
    raw = _region(tmp_path / "raw")
    run_partitions(raw, url=duckdb_url, run_date=RUN_DATE,
                   instance=dg.DagsterInstance.ephemeral(), progress=lambda _m: None)
    (raw / "AUT").rename(raw / "aut")
    summary = run_partitions(raw, url=duckdb_url, run_date=RUN_DATE,
                             instance=dg.DagsterInstance.ephemeral(), progress=lambda _m: None)
    assert ("AUT", 2025) in summary.removed
    assert any("raw/aut/ ne diffère de AUT que par les majuscules" in n
               for n in summary.notices)
    assert {r["structure"] for r in query(
        duckdb_url, "SELECT DISTINCT structure FROM indicator_values")} == {"TST", "aut"}


def test_an_empty_drop_zone_removes_nothing(tmp_path: Path, duckdb_url: str) -> None:
    """raw/ unmounted or emptied by mistake is not the deletion of every partition."""
    raw = _region(tmp_path / "raw")
    run_partitions(raw, url=duckdb_url, run_date=RUN_DATE,
                   instance=dg.DagsterInstance.ephemeral(), progress=lambda _m: None)
    before = _snapshot(duckdb_url)
    for child in list(raw.iterdir()):
        shutil.rmtree(child)
    summary = run_partitions(raw, url=duckdb_url, run_date=RUN_DATE,
                             instance=dg.DagsterInstance.ephemeral(), progress=lambda _m: None)
    assert not summary.removed
    assert _snapshot(duckdb_url) == before
