"""Partitions in parallel on one machine: several Dagster runs of `ingest_partition` at once.

    .venv/bin/python bench/parallel_check.py                      # DuckDB, pool limit 1
    .venv/bin/python bench/parallel_check.py --url postgresql+psycopg://... --pool-limit 3

Each partition is one run, started as its own process with `dagster job execute` (the job's
default executor: multiprocess, one process per step), all against one Dagster instance
(a DAGSTER_HOME under bench/out/) whose `concurrency.pools.default_limit` is `--pool-limit`.
Every asset that writes the warehouse declares `pool="warehouse"`, so on DuckDB (one writer
process at a time) the limit is 1 and the runs' warehouse steps take turns; on PostgreSQL the
limit can be raised and steps of different partitions overlap.

Uses the region of bench/run_bench.py (bench/out/raw; run it first, e.g. `--structures 4`).
Prints each run's outcome and each step's start and end, so the overlap (or the taking of
turns) can be seen, then the wall time against the sum of the runs' times.
"""

from __future__ import annotations

import argparse
import json
import os
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
    args = parser.parse_args()

    import dagster as dg

    from pipelines.partitions import discover_partitions, partition_key, register_partitions
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
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        f"concurrency:\n  pools:\n    default_limit: {args.pool_limit}\n")
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

    dagster = str(Path(sys.executable).parent / "dagster")
    started = time.perf_counter()
    procs = {}
    for structure, year in found:
        key = str(partition_key(structure, year))
        tags = json.dumps({"dagster/partition": key, "bench": "parallel"})
        procs[key] = (time.perf_counter(), subprocess.Popen(
            [dagster, "job", "execute", "-m", "pipelines.definitions", "-j", "ingest_partition",
             "--tags", tags], cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    seconds = {}
    for key, (t0, proc) in procs.items():
        output, _ = proc.communicate()
        seconds[key] = time.perf_counter() - t0
        if proc.returncode:
            print(f"{key}: FAILED (exit {proc.returncode})\n{output[-3000:]}")
    wall = time.perf_counter() - started

    print(f"{len(found)} runs at once, pool 'warehouse' limited to {args.pool_limit}, "
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


if __name__ == "__main__":
    sys.exit(main())
