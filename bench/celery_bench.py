"""The benchmark region through two Celery workers, against the embedded in-process run.

    .venv/bin/python bench/celery_bench.py                    # 6 structures x 2025, 3 rounds
    .venv/bin/python bench/celery_bench.py --structures 4 --rounds 1

Needs the machine's RabbitMQ (config/celery.yaml) and PostgreSQL (`--postgresql`, an admin
URL: fresh databases are made for each measurement, then dropped). Everything else goes to
bench/out/celery/ (git-ignored). Each round measures, on a fresh warehouse database:

- embedded: `run_partitions` in this process (the in-process executor, every step of a run
  in the process that starts it), the warehouse in PostgreSQL;
- celery, 1 launcher: the same partitions, one run after the other, each step a Celery task
  on two workers (scripts/celery-worker.sh, one pool process each), Dagster's instance in
  PostgreSQL (deploy/celery/dagster.yaml);
- celery, 2 launchers: two processes each running half of the structures, so that two runs
  (of different structures) have steps on the two workers at once.

Wall time covers the partitions' runs (the catalogue runs before, apart). Per step, from
Dagster's events: the step's own time (STEP_START to STEP_SUCCESS, in the worker) and what a
run costs beyond its steps (the run's time minus its steps', per step: submission, the
broker, the executor's one-second poll, a worker's step start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "celery"
YEAR = 2025
RUN_DATE = "2026-01-06"
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

_LAUNCH = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from pathlib import Path
import dagster as dg
from pipelines.distributed import run_partition_on_celery
home, raw, url, structures = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
instance = dg.DagsterInstance.from_config(home)
out = []
for structure in structures.split(","):
    t0 = time.perf_counter()
    ok, run_id, error = run_partition_on_celery(structure, 2025, instance=instance,
                                                raw_dir=raw, url=url, run_date="2026-01-06")
    out.append({"structure": structure, "ok": ok, "run_id": run_id, "error": error,
                "seconds": time.perf_counter() - t0})
print(json.dumps(out))
"""


@contextmanager
def database(admin: str):
    import sqlalchemy as sa

    name = f"observatoire_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def step_times(instance, run_ids: list[str]) -> tuple[list[float], list[float]]:
    """(each step's own seconds, each run's seconds beyond its steps divided by its steps)."""
    from dagster import DagsterEventType as E

    steps, overheads = [], []
    for run_id in run_ids:
        started: dict[str, float] = {}
        own = []
        run_start = run_end = None
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind is E.RUN_START:
                run_start = entry.timestamp
            elif kind in (E.RUN_SUCCESS, E.RUN_FAILURE):
                run_end = entry.timestamp
            elif kind is E.STEP_START:
                started[event.step_key] = entry.timestamp
            elif kind is E.STEP_SUCCESS and event.step_key in started:
                own.append(entry.timestamp - started[event.step_key])
        steps += own
        if run_start is not None and run_end is not None and own:
            overheads.append((run_end - run_start - sum(own)) / len(own))
    return steps, overheads


def embedded(raw: Path, admin: str) -> dict:
    import dagster as dg

    from pipelines.runner import run_partitions

    with database(admin) as url:
        instance = dg.DagsterInstance.ephemeral()
        t0 = time.perf_counter()
        summary = run_partitions(
            raw, url=url, run_date=RUN_DATE, instance=instance, progress=lambda _m: None
        )
        wall = time.perf_counter() - t0
        assert not summary.failed, summary.failed
        runs = [r.run_id for r in instance.get_runs()]
        steps, overheads = step_times(instance, runs)
    return {
        "wall": wall,
        "partitions": sum(o.seconds for o in summary.outcomes),
        "steps": steps,
        "overheads": overheads,
    }


def _worker(name: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "celery-worker.sh"), name, "--concurrency=1"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def celery(raw: Path, admin: str, structures: list[str], launchers: int) -> dict:
    import dagster as dg
    import sqlalchemy as sa

    from pipelines.distributed import run_catalogue_on_celery

    with database(admin) as dagster_db, database(admin) as url:
        home = OUT / f"dagster_home_{launchers}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        shutil.copy(ROOT / "deploy" / "celery" / "dagster.yaml", home)
        parsed = sa.make_url(dagster_db)
        pg = {
            "DAGSTER_PG_USER": parsed.username or "postgres",
            "DAGSTER_PG_PASSWORD": parsed.password or "",
            "DAGSTER_PG_HOST": parsed.host or "127.0.0.1",
            "DAGSTER_PG_DB": parsed.database or "",
        }
        os.environ.update(pg)
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "WAREHOUSE_URL": url,
            "OBSERVATOIRE_RAW_DIR": str(raw),
        }
        workers = [_worker(f"bench{i}", env, OUT / f"worker{i}.log") for i in (1, 2)]
        try:
            deadline = time.monotonic() + 90
            while not all(" ready." in (OUT / f"worker{i}.log").read_text() for i in (1, 2)):
                if time.monotonic() > deadline:
                    raise SystemExit("workers not ready after 90 s (see bench/out/celery/)")
                time.sleep(0.5)
            instance = dg.DagsterInstance.from_config(str(home))
            ok, _run, error = run_catalogue_on_celery(
                instance=instance, raw_dir=raw, url=url, run_date=RUN_DATE
            )
            assert ok, error
            shares = [structures[i::launchers] for i in range(launchers)]
            t0 = time.perf_counter()
            processes = [
                subprocess.Popen(
                    [sys.executable, "-c", _LAUNCH, str(home), str(raw), url, ",".join(share)],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                for share in shares
            ]
            results = []
            for process in processes:
                stdout, _ = process.communicate()
                results += json.loads(stdout.strip().splitlines()[-1])
            wall = time.perf_counter() - t0
            failed = [r for r in results if not r["ok"]]
            assert not failed, failed
            steps, overheads = step_times(instance, [r["run_id"] for r in results])
            instance.dispose()
        finally:
            for process in workers:
                _stop(process)
    return {
        "wall": wall,
        "partitions": sum(r["seconds"] for r in results),
        "steps": steps,
        "overheads": overheads,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--structures", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgresql", default=ADMIN)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("WAREHOUSE_PSEUDONYM_KEY", f"cle-du-banc-{uuid.uuid4().hex}")

    from bench.generate import generate_region

    raw = OUT / "raw"
    if (
        not (raw / f"S{args.structures:02d}").exists()
        or (raw / f"S{args.structures + 1:02d}").exists()
    ):
        shutil.rmtree(raw, ignore_errors=True)
        rows = generate_region(raw, args.structures, YEAR)
        print(f"region: {args.structures} structures x {YEAR}, {sum(rows.values()):,} rows")
    structures = [f"S{i:02d}" for i in range(1, args.structures + 1)]
    results: dict[str, list[dict]] = {
        "embedded": [],
        "celery, 1 launcher": [],
        "celery, 2 launchers": [],
    }
    for round_ in range(1, args.rounds + 1):
        for mode in results:
            if mode == "embedded":
                result = embedded(raw, args.postgresql)
            else:
                result = celery(raw, args.postgresql, structures, int(mode.split(", ")[1][0]))
            results[mode].append(result)
            print(
                f"round {round_} {mode}: wall {result['wall']:.1f} s, "
                f"step median {statistics.median(result['steps']):.2f} s, "
                f"beyond the steps {statistics.median(result['overheads']):.2f} s a step",
                flush=True,
            )
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    print("\nmode | wall (s) | a partition's run (s) | a step (s) | beyond the steps, a step (s)")
    for mode, rounds in results.items():
        walls = ", ".join(f"{r['wall']:.1f}" for r in rounds)
        runs = statistics.median(r["partitions"] / args.structures for r in rounds)
        steps = statistics.median(s for r in rounds for s in r["steps"])
        beyond = statistics.median(o for r in rounds for o in r["overheads"])
        print(f"{mode} | {walls} | {runs:.1f} | {steps:.2f} | {beyond:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
