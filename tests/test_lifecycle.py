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
        rows = query(
            url, f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)} FROM {name}"
        )
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


def _rebuild(raw: Path, tmp_path: Path, run_date: str = RUN_DATE) -> str:
    url = f"duckdb:///{tmp_path / 'rebuild' / 'observatoire.duckdb'}"
    summary = run_partitions(
        raw,
        url=url,
        run_date=run_date,
        instance=dg.DagsterInstance.ephemeral(),
        progress=lambda _m: None,
    )
    assert not summary.failed, summary.failed
    return url


def _execute(
    requests: list[dg.RunRequest],
    instance: dg.DagsterInstance,
    raw: Path,
    url: str,
    run_date: str = RUN_DATE,
) -> None:
    """Run requests as the daemon would, in their order."""
    definitions = definitions_for(default_resources(url=url, raw_dir=raw, run_date=run_date))
    for request in requests:
        result = definitions.resolve_job_def(request.job_name).execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            asset_selection=request.asset_selection,
            tags=request.tags,
            raise_on_error=False,
        )
        assert result.success, request


@pytest.mark.parametrize("path", ["full", "named", "sensor", "nightly"])
def test_vanished_partitions_leave_every_layer(
    tmp_path: Path, warehouse_url: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SETTLE_VARIABLE, "0")  # files just written count as settled
    raw = _region(tmp_path / "raw")
    with dg.instance_for_test() as instance:
        _vanish(tmp_path, raw, instance, warehouse_url, path)


def _vanish(
    tmp_path: Path, raw: Path, instance: dg.DagsterInstance, warehouse_url: str, path: str
) -> None:
    first = run_partitions(
        raw, url=warehouse_url, run_date=RUN_DATE, instance=instance, progress=lambda _m: None
    )
    assert not first.failed
    sensor = Sensor(instance, raw, warehouse_url)
    if path == "sensor":
        sensor.tick()  # the sensor's first tick: what the warehouse holds is not news
    _change(raw)

    if path == "full":
        summary = run_partitions(
            raw, url=warehouse_url, run_date=RUN_DATE, instance=instance, progress=lambda _m: None
        )
        assert sorted(summary.removed) == [("AUT", 2025), ("TST", 2024)]
        assert {(o.structure, o.year) for o in summary.outcomes} == {("NEW", 2025), ("TST", 2025)}
    elif path == "named":
        argv = [
            "run",
            "--raw",
            str(raw),
            "--warehouse",
            warehouse_url,
            "--run-date",
            RUN_DATE,
            "--no-history",
        ]
        assert main([*argv, "--structure", "TST", "--year", "2024"]) == 1  # said, not done
        assert ("TST", 2024) in {
            (r["structure"], r["year"])
            for r in query(warehouse_url, "SELECT DISTINCT structure, year FROM indicator_values")
        }
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
        requests = _nightly(instance, raw, warehouse_url, RUN_DATE)
        assert sum(r.run_key.startswith("remove-") for r in requests) == 2
        _execute(list(requests), instance, raw, warehouse_url)

    rebuilt = _snapshot(_rebuild(raw, tmp_path))
    now = _snapshot(warehouse_url)
    for table in rebuilt:
        assert now[table] == rebuilt[table], table
    assert not any(
        r["structure"] == "AUT"
        for r in query(warehouse_url, "SELECT DISTINCT structure FROM conformed.communes")
    )


def test_a_folder_differing_only_by_case_is_another_structure_and_said(
    tmp_path: Path, duckdb_url: str
) -> None:
    raw = _region(tmp_path / "raw")
    run_partitions(
        raw,
        url=duckdb_url,
        run_date=RUN_DATE,
        instance=dg.DagsterInstance.ephemeral(),
        progress=lambda _m: None,
    )
    (raw / "AUT").rename(raw / "aut")
    summary = run_partitions(
        raw,
        url=duckdb_url,
        run_date=RUN_DATE,
        instance=dg.DagsterInstance.ephemeral(),
        progress=lambda _m: None,
    )
    assert ("AUT", 2025) in summary.removed
    assert any("raw/aut/ ne diffère de AUT que par les majuscules" in n for n in summary.notices)
    assert {
        r["structure"] for r in query(duckdb_url, "SELECT DISTINCT structure FROM indicator_values")
    } == {"TST", "aut"}


def test_an_empty_drop_zone_removes_nothing(tmp_path: Path, duckdb_url: str) -> None:
    """raw/ unmounted or emptied by mistake is not the deletion of every partition."""
    raw = _region(tmp_path / "raw")
    run_partitions(
        raw,
        url=duckdb_url,
        run_date=RUN_DATE,
        instance=dg.DagsterInstance.ephemeral(),
        progress=lambda _m: None,
    )
    before = _snapshot(duckdb_url)
    for child in list(raw.iterdir()):
        shutil.rmtree(child)
    summary = run_partitions(
        raw,
        url=duckdb_url,
        run_date=RUN_DATE,
        instance=dg.DagsterInstance.ephemeral(),
        progress=lambda _m: None,
    )
    assert not summary.removed
    assert _snapshot(duckdb_url) == before


# --- inputs besides the files: structure.yaml, configuration, the run day ------------------


def _rename_a_commune(raw: Path) -> None:
    import yaml

    path = raw / "TST" / "structure.yaml"
    structure = yaml.safe_load(path.read_text())
    structure["territory"][1]["name"] = "Lambersart-Centre"  # how the report names it
    structure["territory"].append({"insee": "59350", "name": "Lille"})
    path.write_text(yaml.safe_dump(structure, allow_unicode=True, sort_keys=False))


@pytest.mark.parametrize("path", ["named", "sensor", "nightly"])
def test_a_territory_change_reloads_every_year_of_the_structure(
    tmp_path: Path, warehouse_url: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SETTLE_VARIABLE, "0")
    raw = _region(tmp_path / "raw")
    with dg.instance_for_test() as instance:
        assert not run_partitions(
            raw, url=warehouse_url, run_date=RUN_DATE, instance=instance, progress=lambda _m: None
        ).failed
        sensor = Sensor(instance, raw, warehouse_url)
        sensor.tick()
        _rename_a_commune(raw)
        if path == "named":
            summary = run_partitions(
                raw,
                url=warehouse_url,
                run_date=RUN_DATE,
                instance=instance,
                structures=["TST"],
                years=[2025],
                progress=lambda _m: None,
            )
            assert {(o.structure, o.year) for o in summary.outcomes} == {
                ("TST", 2024),
                ("TST", 2025),
            }
        elif path == "sensor":
            result = sensor.tick()
            assert _partitions(result.run_requests) == [("TST", 2024), ("TST", 2025)]
            _execute(list(result.run_requests or []), instance, raw, warehouse_url)
            assert not sensor.tick().run_requests  # asked once
        else:
            requests = _nightly(instance, raw, warehouse_url, RUN_DATE)
            assert _partitions(requests) == [("TST", 2024), ("TST", 2025)]
            _execute(requests, instance, raw, warehouse_url)
            assert not _nightly(instance, raw, warehouse_url, RUN_DATE)
    rebuilt = _snapshot(_rebuild(raw, tmp_path))
    now = _snapshot(warehouse_url)
    for table in rebuilt:
        assert now[table] == rebuilt[table], table
    assert {
        r["commune"]
        for r in query(
            warehouse_url, "SELECT DISTINCT commune FROM conformed.communes WHERE structure = 'TST'"
        )
    } >= {"Lambersart-Centre", "Lille"}


def test_rows_dated_after_the_run_day_are_retried_when_it_comes(
    tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.builders import write_xlsx
    from tests.test_bad_inputs import BASE_EVENTS, EVENT_HEADERS

    monkeypatch.setenv(SETTLE_VARIABLE, "0")  # files just written count as settled
    raw = _region(tmp_path / "raw")
    write_xlsx(
        raw / "TST" / "2025" / "evenements.xlsx",
        EVENT_HEADERS,
        [*BASE_EVENTS, ["E9", "1001", "20/12/2025", "Entretien individuel", None, None, None]],
    )
    early = "2025-12-01"
    with dg.instance_for_test() as instance:
        assert not run_partitions(
            raw, url=warehouse_url, run_date=early, instance=instance, progress=lambda _m: None
        ).failed
        reasons = [
            r["reason"]
            for r in query(warehouse_url, "SELECT reason FROM quarantine WHERE structure = 'TST'")
        ]
        assert any(
            "le run de nuit chargera la ligne de lui-même ce jour-là" in r for r in reasons
        ), reasons
        assert (
            str(
                query(
                    warehouse_url,
                    "SELECT retry_on FROM staging.partition_loads WHERE "
                    "structure = 'TST' AND year = 2025",
                )[0]["retry_on"]
            )
            == "2025-12-20"
        )
        assert not _nightly(instance, raw, warehouse_url, "2025-12-19")
        requests = _nightly(instance, raw, warehouse_url, "2025-12-20")
        assert _partitions(requests) == [("TST", 2025)]
        _execute(requests, instance, raw, warehouse_url, run_date="2025-12-20")
    assert not query(
        warehouse_url, "SELECT * FROM quarantine WHERE structure = 'TST' AND year = 2025"
    )
    rebuilt = _snapshot(_rebuild(raw, tmp_path, run_date="2025-12-20"))
    now = _snapshot(warehouse_url)
    for table in rebuilt:
        assert now[table] == rebuilt[table], table


def _partitions(requests) -> list[tuple[str, int]]:
    """The partitions that requests load (not their next years' trends)."""
    out = []
    for r in requests or []:
        if r.asset_selection is None and r.partition_key:
            structure, year = r.partition_key.split("|")
            out.append((structure, int(year)))
    return sorted(out, key=lambda sy: (sy[1], sy[0]))


def _nightly(instance: dg.DagsterInstance, raw: Path, url: str, today: str) -> list[dg.RunRequest]:
    with dg.build_schedule_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        repository_def=defs.get_repository_def(),
        resources=default_resources(url=url, raw_dir=raw, run_date=today),
    ) as context:
        result = nightly_refresh.evaluate_tick(context)
    return list(result.run_requests or [])


@pytest.mark.parametrize("path", ["sensor", "nightly"])
def test_a_configuration_change_reruns_every_loaded_partition(
    tmp_path: Path, warehouse_url: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alias added to config/codes.yaml (or exports.yaml, indicators.yaml, the SQL)
    changes the configuration's digest: every loaded partition is asked again, once. The
    digest is changed here rather than the project's shared config/ files."""
    import pipelines.sensors as sensors

    monkeypatch.setenv(SETTLE_VARIABLE, "0")
    raw = _region(tmp_path / "raw")
    with dg.instance_for_test() as instance:
        assert not run_partitions(
            raw, url=warehouse_url, run_date=RUN_DATE, instance=instance, progress=lambda _m: None
        ).failed
        sensor = Sensor(instance, raw, warehouse_url)
        assert not _partitions(sensor.tick().run_requests)  # the first tick: the catalogue
        assert not _nightly(instance, raw, warehouse_url, RUN_DATE)
        edited = sensors.configuration_digest() + "-alias-added"
        monkeypatch.setattr(sensors, "configuration_digest", lambda: edited)
        every = [("TST", 2024), ("AUT", 2025), ("TST", 2025)]
        if path == "sensor":
            result = sensor.tick()
            assert _partitions(result.run_requests) == sorted(every, key=lambda p: (p[1], p[0]))
            assert not _partitions(sensor.tick().run_requests)  # asked once per digest
        else:
            assert _partitions(_nightly(instance, raw, warehouse_url, RUN_DATE)) == sorted(
                every, key=lambda p: (p[1], p[0])
            )
