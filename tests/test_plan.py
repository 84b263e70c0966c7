"""One way to say what runs (pipelines/plan.py), shared by the command line, the sensor and
the schedule."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import LOADING, NEXT_YEAR_ASSETS, PUBLISHED, keys_of
from pipelines.plan import Publication, plan_runs
from pipelines.sensors import run_requests

FOUND = [("TST", 2024), ("TST", 2025), ("AUT", 2025), ("AUT", 2026)]


def _shape(runs) -> list[tuple]:
    return [(r.job_name, r.partition, r.asset_selection, r.purpose) for r in runs]


def test_the_command_line_loads_then_refreshes_the_next_year_then_publishes_once() -> None:
    runs = plan_runs([("TST", 2024), ("AUT", 2025)], FOUND, Publication.ONCE)
    trends = tuple(k for k in NEXT_YEAR_ASSETS if k != PUBLISHED)
    loading = keys_of(LOADING)
    assert PUBLISHED not in loading and dg.AssetKey("indicator_values") in loading
    assert _shape(runs) == [
        ("integrer_partition", ("TST", 2024), loading, "ingest"),
        ("integrer_partition", ("AUT", 2025), loading, "ingest"),
        ("integrer_partition", ("TST", 2025), trends, "next-year"),
        ("integrer_partition", ("AUT", 2026), trends, "next-year"),
        ("integrer_partition", None, (PUBLISHED,), "publication"),
    ]


def test_a_changed_next_year_is_loaded_not_refreshed() -> None:
    runs = plan_runs([("TST", 2025), ("TST", 2024)], FOUND, Publication.EACH)
    assert _shape(runs) == [
        ("integrer_partition", ("TST", 2024), None, "ingest"),
        ("integrer_partition", ("TST", 2025), None, "ingest"),
    ]


def test_the_sensor_and_the_schedule_queue_the_same_plan_publishing_each_run() -> None:
    requests = run_requests([("TST", 2024)], FOUND, "drop_zone", lambda p: f"{p[0]}-{p[1]}")
    assert [(r.run_key, r.job_name, r.partition_key, r.asset_selection) for r in requests] == [
        ("TST-2024", "integrer_partition", "TST|2024", None),
        ("TST-2024-next", "integrer_partition", "TST|2025", list(NEXT_YEAR_ASSETS)),
    ]
    for request in requests:
        assert request.tags["observatoire/trigger"] == "drop_zone"
        assert request.tags["observatoire/purpose"] in ("ingest", "next-year")
    assert isinstance(requests[0], dg.RunRequest)
