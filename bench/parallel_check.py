"""Partitions in parallel on one machine: several Dagster runs of `ingest_partition` at once.

    .venv/bin/python bench/parallel_check.py                      # DuckDB, pool limit 1
    .venv/bin/python bench/parallel_check.py --url postgresql+psycopg://... --pool-limit 3

    .venv/bin/python bench/parallel_check.py --queue --partitions 6   # as the daemon runs them
    .venv/bin/python bench/parallel_check.py --queue --max-runs 1      # the same, one at a time

Each partition is one run (the job's in-process executor: one process per run, its steps in
order), all against one Dagster instance (a DAGSTER_HOME under bench/out/) whose
`concurrency.pools.default_limit` is `--pool-limit`. Every asset that writes the warehouse
declares `pool="warehouse"`, so on DuckDB (one writer process at a time) the limit is 1 and
the runs' warehouse steps take turns; on PostgreSQL the limit can be raised and steps of
different partitions overlap. By default every run is started at once with `dagster job
execute`; with `--queue` the runs are queued with `dagster job launch` and the daemon
starts them under the project's own `.dagster_home/dagster.yaml` (one run at a time, or
`--max-runs` at once; a structure's runs always one at a time, in queue order), as the
sensor's and the schedule's runs are.

Uses the region of bench/run_bench.py (bench/out/raw; run it first, e.g. `--structures 4`).
Prints each run's outcome and each step's start and end, so the overlap (or the taking of
turns) can be seen, then the wall time against the sum of the runs' times.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
RUN_DATE = "2026-01-06"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--pool-limit", type=int, default=1)
    parser.add_argument("--url", default=f"duckdb:///{OUT / 'parallel' / 'warehouse.duckdb'}")
    parser.add_argument("--queue", action="store_true",
                        help="queue the runs and let the daemon start them (the project's "
                             "instance settings)")
    parser.add_argument("--max-runs", type=int, default=None,
                        help="with --queue: runs at once (default: the project's setting)")
    args = parser.parse_args()

    import dagster as dg

    from pipelines.partitions import discover_partitions, register_partitions
    from pipelines.resources import default_resources
    from pipelines.runner import QUIET, _assets

    raw = OUT / "raw"
    found = discover_partitions(raw)[: args.partitions]
    if len(found) < args.partitions:
        sys.exit(f"{raw}: fewer than {args.partitions} partitions; run bench/run_bench.py first")
    home = OUT / "parallel" / "dagster_home"
    if home.exists():
        import shutil
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(_instance_settings(args.queue, args.pool_limit,
                                                         args.max_runs))
    env = {**os.environ, "DAGSTER_HOME": str(home), "WAREHOUSE_URL": args.url,
           "OBSERVATOIRE_RAW_DIR": str(raw), "OBSERVATOIRE_RUN_DATE": RUN_DATE,
           "PYTHONPATH": str(ROOT)}
    os.environ.update(env)
    for stale in (OUT / "parallel").glob("**/warehouse.duckdb*"):
        stale.unlink()

    instance = dg.DagsterInstance.get()
    register_partitions(instance, found)
    dg.materialize(_assets(), selection=dg.AssetSelection.assets("indicator_catalogue")
                   | dg.AssetSelection.assets("data_dictionary"),
                   resources=default_resources(url=args.url, raw_dir=raw, run_date=RUN_DATE),
                   instance=instance, run_config=QUIET)

    if args.queue:
        wall, seconds = _queued(found, env, instance)
    else:
        wall, seconds = _at_once(found, env)

    how = "queued for the daemon" if args.queue else "at once"
    print(f"{len(found)} runs {how}, pool 'warehouse' limited to {args.pool_limit}, "
          f"{args.url.split(':')[0]}")
    instance = dg.DagsterInstance.get()
    t_origin = None
    rows = []
    for record in instance.get_run_records(dg.RunsFilter(tags={"bench": "parallel"})):
        run = record.dagster_run
        stats = instance.get_run_step_stats(run.run_id)
        for s in stats:
            rows.append((s.start_time or 0, s.end_time or 0, run.tags["dagster/partition"],
                         s.step_key, s.status.value if s.status else "?"))
        print(f"  run {run.tags['dagster/partition']}: {run.status.value}, "
              f"{seconds.get(run.tags['dagster/partition'], 0):.1f} s")
    rows.sort()
    t_origin = rows[0][0] if rows else 0
    print("  steps (seconds from the first step's start):")
    for start, end, key, step, status in rows:
        print(f"    {start - t_origin:6.1f} → {end - t_origin:6.1f}  {key:10} {step:32} {status}")
    overlaps = sum(1 for a in rows for b in rows if a[2] < b[2] and a[0] < b[1] and b[0] < a[1])
    print(f"wall {wall:.1f} s for {len(found)} runs (sum of the runs' times "
          f"{sum(seconds.values()):.1f} s); pairs of steps of different partitions that "
          f"overlapped in time: {overlaps}")
    failed = [r for r in instance.get_run_records(dg.RunsFilter(tags={"bench": "parallel"}))
              if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS]
    return 1 if failed else 0


def _instance_settings(queue: bool, pool_limit: int, max_runs: int | None) -> str:
    """The project's instance settings (--queue) or only the pool limit, as YAML."""
    import yaml

    settings = {"telemetry": {"enabled": False}}
    if queue:
        settings = yaml.safe_load((ROOT / ".dagster_home" / "dagster.yaml").read_text())
        if max_runs is not None:
            settings["concurrency"]["runs"]["max_concurrent_runs"] = max_runs
    settings.setdefault("concurrency", {}).setdefault("pools", {})["default_limit"] = pool_limit
    return yaml.safe_dump(settings)


def _tags(key: str) -> str:
    from pipelines.partitions import partitions_def

    # what the sensor's run requests carry: the partition and one tag per dimension
    return json.dumps({**partitions_def.get_tags_for_partition_key(key), "bench": "parallel"})


def _at_once(found: list[tuple[str, int]], env: dict) -> tuple[float, dict[str, float]]:
    """Every run started at once, each its own `dagster job execute` process."""
    from pipelines.partitions import partition_key

    dagster = str(Path(sys.executable).parent / "dagster")
    started = time.perf_counter()
    procs = {}
    for structure, year in found:
        key = str(partition_key(structure, year))
        procs[key] = (time.perf_counter(), subprocess.Popen(
            [dagster, "job", "execute", "-m", "pipelines.definitions", "-j", "ingest_partition",
             "--tags", _tags(key)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    seconds = {}
    for key, (t0, proc) in procs.items():
        output, _ = proc.communicate()
        seconds[key] = time.perf_counter() - t0
        if proc.returncode:
            print(f"{key}: FAILED (exit {proc.returncode})\n{output[-3000:]}")
    return time.perf_counter() - started, seconds


def _queued(found: list[tuple[str, int]], env: dict,
            instance) -> tuple[float, dict[str, float]]:
    """Runs queued in order, then started by the daemon; wall time from the first run's start
    to the last run's end (the queueing and the daemon's own start-up left out)."""
    import dagster as dg

    from pipelines.partitions import partition_key

    bin_dir = Path(sys.executable).parent
    for structure, year in found:
        subprocess.run([str(bin_dir / "dagster"), "job", "launch", "-w", "workspace.yaml",
                        "-j", "ingest_partition", "--tags",
                        _tags(str(partition_key(structure, year)))],
                       cwd=ROOT, env=env, check=True, capture_output=True)
    log = (OUT / "parallel" / "daemon.log").open("w")
    daemon = subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    deadline = time.monotonic() + 1800
    try:
        while True:
            records = instance.get_run_records(dg.RunsFilter(tags={"bench": "parallel"}))
            if all(r.dagster_run.is_finished for r in records):
                break
            if daemon.poll() is not None:
                sys.exit(f"the daemon stopped: see {log.name}")
            if time.monotonic() > deadline:
                sys.exit(f"runs still unfinished after 30 min: see {log.name} and the UI")
            time.sleep(1)
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait()
        log.close()
    seconds = {r.dagster_run.tags["dagster/partition"]: r.end_time - r.start_time
               for r in records}
    wall = max(r.end_time for r in records) - min(r.start_time for r in records)
    return wall, seconds


if __name__ == "__main__":
    sys.exit(main())
