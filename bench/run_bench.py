"""Scale benchmark: a region of N structures x 1 year through the real pipeline.

    .venv/bin/python bench/run_bench.py                 # 40 structures, ≈ 4 M rows
    .venv/bin/python bench/run_bench.py --structures 4  # a quick look

What it does (everything under bench/out/, git-ignored):
1. generates one structure's six exports (bench/generate.py, ≈ 100 k rows) and copies them
   under N structure codes, each with its own structure.yaml (`--reuse` keeps a region
   already generated with the same size);
2. parse only: fastexcel reads every file, every sheet, all columns as text; the limit of any
   pipeline reading these workbooks;
3. naive baseline, on a sample of files: pandas.read_excel (openpyxl) + DataFrame.to_sql into
   DuckDB through SQLAlchemy, extrapolated to rows/s;
4. the pipeline: `pipelines.runner.run_partitions` (the Dagster assets, `--workers`
   processes, as `observatoire run` does; default: one per CPU) into a fresh DuckDB
   warehouse. The stage functions the assets call are wrapped with timers in every process
   that runs partitions (so each stage's time is measured inside the real run, summed over
   the workers); "Dagster and the rest" is the partitions' time minus the timed stages
   (asset checks, metadata, events, waiting for the writer lock...). Peak memory (VmHWM) is
   read per partition by the runner (the high-water mark reset before each one), and for the
   whole run (getrusage, this process and its workers).

Rows are data rows of the exports (title and Total lines excluded): the rows/s of a stage is
the region's rows divided by the time that stage took over the whole run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import resource
import shutil
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
YEAR = 2025
BENCH_DATABASE = "observatoire_bench"
RUN_DATE = "2026-01-06"

# stage -> (asset module, function name) wrapped with a timer during the run
STAGES = {
    "read": [("assets.staging", "stage_partition")],
    "validate": [("assets.conformed", "validate_partition")],
    "conform": [
        ("assets.conformed", "conform_partition"),
        ("assets.conformed", "ingested_files_frame"),
        ("assets.conformed", "headers_by_sheet"),
    ],
    "indicators": [
        ("assets.marts", "compute_units"),
        ("assets.marts", "indicator_values"),
        ("assets.marts", "trends"),
    ],
    "write": [
        ("assets.staging", "prepare"),
        ("assets.staging", "write_staging"),
        ("assets.conformed", "write_conformed"),
        ("assets.marts", "write_values"),
        ("assets.marts", "write_trends"),
    ],
    "read back": [
        ("assets.conformed", "read_staging"),
        ("assets.marts", "read_units"),
        ("assets.marts", "read_values"),
        ("assets.marts", "territory_of"),
    ],
    "report": [("assets.report", "load_figures"), ("assets.report", "write_report")],
    "publish": [("assets.publication", "_publish")],
    "close (DuckDB checkpoint)": [("pipelines.warehouse", "Warehouse.dispose")],
}
TIMES: dict[str, float] = defaultdict(float)
DETAIL: dict[str, float] = defaultdict(float)
_WORKER_TIMES: list[Path] = []  # in a worker process: where its timers are written


def _timed(stage: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.perf_counter() - started
            TIMES[stage] += spent
            DETAIL[fn.__name__] += spent
            if _WORKER_TIMES:  # a few dozen small writes per partition: negligible
                _WORKER_TIMES[0].write_text(json.dumps({"stages": TIMES, "functions": DETAIL}))

    return wrapper


def instrument_worker() -> None:
    """Called by the runner in each worker process: the same timers, saved to a file the
    benchmark merges after the run."""
    _WORKER_TIMES.append(OUT / f"stages-{os.getpid()}.json")
    instrument()


def _merge_worker_times() -> None:
    for path in OUT.glob("stages-*.json"):
        saved = json.loads(path.read_text())
        for stage, seconds in saved["stages"].items():
            TIMES[stage] += seconds
        for name, seconds in saved["functions"].items():
            DETAIL[name] += seconds


def instrument() -> list[str]:
    """Wrap the stage functions as the asset modules see them; returns those not found."""
    import importlib

    missing = []
    for stage, targets in STAGES.items():
        for module_name, name in targets:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                module = None
            owner, _, attribute = name.rpartition(".")
            target = getattr(module, owner, None) if owner else module
            if target is not None and hasattr(target, attribute):
                setattr(target, attribute, _timed(stage, getattr(target, attribute)))
            else:
                missing.append(f"{module_name}.{name}")
    return missing


def _cpu() -> float:
    """CPU seconds of this process and its children (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def generate(raw: Path, structures: int, young: int, reuse: bool) -> dict[str, int]:
    from bench.generate import generate_region

    stamp = raw / "generated.json"
    wanted = {"structures": structures, "young": young, "year": YEAR}
    if reuse and stamp.exists():
        done = json.loads(stamp.read_text())
        if done["params"] == wanted:
            print(f"generation: reusing {raw}")
            return done["rows"]
    if raw.exists():
        shutil.rmtree(raw)
    started = time.perf_counter()
    rows = generate_region(raw, structures, YEAR, young)
    print(
        f"generation: {sum(rows.values()):,} rows in {time.perf_counter() - started:.1f} s "
        f"(one structure generated, copied under {structures} codes)"
    )
    stamp.write_text(json.dumps({"params": wanted, "rows": rows}))
    return rows


def parse_only(raw: Path) -> tuple[int, float]:
    """fastexcel, every sheet of every file, all columns as text (Arrow)."""
    import fastexcel

    rows, started = 0, time.perf_counter()
    for path in sorted(raw.glob("*/*/*.xlsx")):
        reader = fastexcel.read_excel(path)
        for name in reader.sheet_names:
            table = reader.load_sheet(name, header_row=None, dtypes="string").to_arrow()
            rows += table.num_rows
    return rows, time.perf_counter() - started


def naive(raw: Path, out: Path, sample_files: int) -> tuple[int, float, float]:
    """pandas.read_excel(engine="openpyxl") + DataFrame.to_sql into DuckDB (SQLAlchemy),
    on the files of one structure (every row, title lines skipped, no validation)."""
    import pandas as pd
    import sqlalchemy as sa

    files = sorted((raw / "S01" / str(YEAR)).glob("*.xlsx"), key=lambda p: p.stat().st_size)
    db = out / "naive.duckdb"
    db.unlink(missing_ok=True)
    engine = sa.create_engine(f"duckdb:///{db}")
    rows, read_s, write_s = 0, 0.0, 0.0
    try:
        for i, path in enumerate(files[:sample_files]):
            t0 = time.perf_counter()
            frame = pd.read_excel(path, engine="openpyxl", skiprows=3, dtype=str)
            t1 = time.perf_counter()
            frame.to_sql(f"t{i}", engine, index=False, if_exists="replace")
            t2 = time.perf_counter()
            rows += len(frame)
            read_s += t1 - t0
            write_s += t2 - t1
    finally:
        engine.dispose()
    return rows, read_s, write_s


def fresh_postgresql(admin_url: str) -> str:
    """A new, empty database `observatoire_bench` on the server of `admin_url` (dropped
    first if a previous benchmark left it); its URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {BENCH_DATABASE}"))
    finally:
        admin.dispose()
    return sa.make_url(admin_url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)


def pipeline(raw: Path, out: Path, url: str | None = None, stored: bool = False) -> dict:
    import dagster as dg

    from bench.instance import project_instance
    from pipelines.runner import run_partitions

    warnings.filterwarnings("ignore")
    missing = instrument()  # this process: the catalogue, trends refresh, publication
    for stale in [*out.glob("**/warehouse.duckdb*"), *out.glob("stages-*.json")]:
        stale.unlink()
    url = url or f"duckdb:///{out / 'warehouse.duckdb'}"

    def progress(message: str) -> None:
        if ": terminé" in message or "ÉCHEC" in message or "processes" in message:
            print("  " + message, flush=True)

    # the project's instance (SQLite on disk, as `observatoire run`), or one in memory
    instance = project_instance(out / "dagster_home") if stored else dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    cpu_started = _cpu()
    summary = run_partitions(
        raw_dir=raw,
        url=url,
        run_date=RUN_DATE,
        instance=instance,
        progress=progress,
    )
    wall = time.perf_counter() - started
    _merge_worker_times()
    return {"summary": summary, "wall": wall, "cpu": _cpu() - cpu_started, "missing": missing}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--structures", type=int, default=40)
    parser.add_argument(
        "--young", type=int, default=4400, help="young people per structure (≈ 23 export rows each)"
    )
    parser.add_argument("--reuse", action="store_true", help="keep a region already generated")
    parser.add_argument(
        "--naive-files",
        type=int,
        default=6,
        help="files of structure S01 (smallest first) for the naive baseline "
        "(default: all six, ≈ 100 k rows, 1/40 of the region)",
    )
    parser.add_argument(
        "--postgresql",
        metavar="ADMIN_URL",
        default=None,
        help="write the pipeline's warehouse to a fresh database "
        f"{BENCH_DATABASE} on this PostgreSQL server (e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test) instead of "
        "a DuckDB file; the server's own CPU is not counted",
    )
    parser.add_argument(
        "--project-instance",
        action="store_true",
        help="record the runs in a new instance configured like .dagster_home/dagster.yaml "
        "(SQLite files, as `observatoire run` does) instead of one in memory",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    raw = OUT / "raw"

    print(
        f"Observatoire scale benchmark — {dt.date.today()}, {os.cpu_count()} CPUs, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}"
    )
    generated = generate(raw, args.structures, args.young, args.reuse)
    total_rows = sum(generated.values())
    print(
        f"region: {args.structures} structures x 1 year, {total_rows:,} data rows "
        f"({', '.join(f'{k} {v:,}' for k, v in generated.items())})"
    )

    parsed_rows, parse_s = parse_only(raw)
    parse_rate = total_rows / parse_s
    print(
        f"parse only (fastexcel, all text): {parse_s:.1f} s, {parse_rate:,.0f} rows/s "
        f"({parsed_rows:,} sheet rows incl. title/header/Total lines)"
    )

    n_rows, read_s, write_s = naive(raw, OUT, args.naive_files)
    naive_rate = n_rows / (read_s + write_s)
    print(
        f"naive (read_excel openpyxl + to_sql DuckDB) on {n_rows:,} rows: read {read_s:.1f} s "
        f"+ to_sql {write_s:.1f} s = {naive_rate:,.0f} rows/s "
        f"(region extrapolated: {total_rows / naive_rate / 60:.0f} min)"
    )

    url = fresh_postgresql(args.postgresql) if args.postgresql else None
    print(
        f"pipeline: {args.structures} partitions, in one process (observatoire run), "
        f"warehouse {'PostgreSQL, database ' + BENCH_DATABASE if url else 'DuckDB'} …",
        flush=True,
    )
    result = pipeline(raw, OUT, url, args.project_instance)
    summary, wall = result["summary"], result["wall"]
    failed = summary.failed
    e2e_rate = total_rows / wall
    outcomes = summary.outcomes
    peaks = [o.peak_mib or 0.0 for o in outcomes]
    max_peak = max(peaks, default=0)
    first_peak = peaks[0] if peaks else 0
    # this process and its (finished) workers: the largest single process
    process_peak = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    partition_s = [o.seconds for o in outcomes]
    busy = sum(partition_s)
    waited = TIMES.pop("waiting for the writer lock", 0.0)
    held = TIMES.pop("holding the writer lock", 0.0)
    DETAIL.pop("acquire_and_note", None)
    timed = sum(TIMES.values())
    other = busy - timed - waited
    print()
    print(
        f"end to end: {wall:.1f} s for {len(outcomes)} partitions "
        f"({len(failed)} failed), {e2e_rate:,.0f} rows/s; rows read {summary.rows_read:,}, "
        f"loaded {summary.rows_loaded:,}; CPU {result['cpu']:.1f} s "
        f"({total_rows / result['cpu']:,.0f} rows per CPU second)"
    )
    print(
        f"partitions: {busy:.1f} s in all in one process "
        f"(a partition {min(partition_s, default=0):.1f} to {max(partition_s, default=0):.1f} s)"
    )
    print(f"{'stage':<28}{'seconds':>9}{'share':>8}{'rows/s':>14}")
    for stage in STAGES:
        sec = TIMES.get(stage, 0.0)
        print(
            f"{stage:<28}{sec:>9.1f}{sec / busy if busy else 0:>8.0%}"
            f"{total_rows / sec if sec else 0:>14,.0f}"
        )
    print(f"{'Dagster and the rest':<28}{other:>9.1f}{other / busy if busy else 0:>8.0%}")
    print(
        "  by function: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(DETAIL.items(), key=lambda kv: -kv[1]))
    )
    print(
        f"targets: end to end / parse only = {e2e_rate / parse_rate:.0%} (target >= 50 %); "
        f"end to end / naive = {e2e_rate / naive_rate:.1f}x (target >= 20x)"
    )
    print(
        f"memory: peak per partition {max_peak:,.0f} MiB (first partition {first_peak:,.0f} "
        f"MiB), largest process {process_peak:,.0f} MiB"
    )
    if result["missing"]:
        print(f"note: stage functions not found (not timed): {', '.join(result['missing'])}")
    for o in failed[:3]:
        print(f"FAILED {o.structure} {o.year}: {o.error}")
    (OUT / "results.json").write_text(
        json.dumps(
            {
                "date": str(dt.date.today()),
                "cpus": os.cpu_count(),
                "structures": args.structures,
                "rows": total_rows,
                "parse_only_s": parse_s,
                "parse_only_rate": parse_rate,
                "naive_rows": n_rows,
                "naive_read_s": read_s,
                "naive_write_s": write_s,
                "naive_rate": naive_rate,
                "workers": 1,
                "warehouse": "postgresql" if url else "duckdb",
                "wall_s": wall,
                "cpu_s": result["cpu"],
                "e2e_rate": e2e_rate,
                "stages_s": dict(TIMES),
                "functions_s": dict(DETAIL),
                "dagster_other_s": other,
                "lock_wait_s": waited,
                "lock_held_s": held,
                "failed": len(failed),
                "peak_partition_mib": max_peak,
                "first_partition_mib": first_peak,
                "process_peak_mib": process_peak,
                "partition_s": partition_s,
                "partition_peak_mib": [round(p) for p in peaks],
            },
            indent=1,
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
