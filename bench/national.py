"""A national network's shape: many structures x 3 years of small partitions, registered and
run in one `observatoire run`; does a partition's cost stay flat as the warehouse fills?

    .venv/bin/python bench/national.py                    # 430 structures x 3 years (long)
    .venv/bin/python bench/national.py --structures 40    # a quick look

Each structure's three years are generated once (--young young people a year) and copied
under every code. Every partition's wall time and CPU time (this process, DuckDB's threads
included) are recorded; CPU time is what to compare on a machine shared with other work.
Writes bench/out/national/results.json. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import generate_structure, structure_yaml  # noqa: E402

OUT = ROOT / "bench" / "out" / "national"
YEARS = (2023, 2024, 2025)
RUN_DATE = "2026-01-15"


def drop_zone(raw: Path, structures: int, young: int) -> None:
    """S0001.. x YEARS: one structure's years generated, copied under the other codes."""
    codes = [f"N{i:04d}" for i in range(1, structures + 1)]
    first = raw / codes[0]
    for year in YEARS:
        generate_structure(first / str(year), codes[0], year, young, seed=year)
    structure_yaml(first, codes[0], 0)
    for i, code in enumerate(codes[1:], start=1):
        for year in YEARS:
            shutil.copytree(first / str(year), raw / code / str(year), dirs_exist_ok=True)
        structure_yaml(raw / code, code, i)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=430)
    parser.add_argument("--young", type=int, default=30, help="young people a year")
    parser.add_argument(
        "--project-instance",
        action="store_true",
        help="record the runs in a new instance configured like .dagster_home/dagster.yaml "
        "(SQLite files, as `observatoire run` does) instead of one in memory",
    )
    args = parser.parse_args()
    if OUT.exists():
        shutil.rmtree(OUT)
    raw = OUT / "raw"
    started = time.perf_counter()
    drop_zone(raw, args.structures, args.young)
    print(
        f"drop zone: {args.structures} structures x {len(YEARS)} years in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )

    import dagster as dg

    from pipelines.runner import run_partitions

    marks: dict[str, list[float]] = {}
    order: list[str] = []

    def progress(message: str) -> None:
        if not message.startswith("["):
            return
        name = message.split("]", 1)[1].split(":", 1)[0].strip()
        now = (time.perf_counter(), time.process_time())
        if "lecture" in message:
            marks[name] = [*now]
            order.append(name)
        elif name in marks and len(marks[name]) == 2:
            marks[name] += [now[0] - marks[name][0], now[1] - marks[name][1]]
            n = len(order)
            if n % 50 == 0 or n <= 3:
                print(
                    f"  {n:5d} partitions, last {name}: {marks[name][2]:.2f} s wall, "
                    f"{marks[name][3]:.2f} s CPU",
                    flush=True,
                )

    if args.project_instance:
        from bench.instance import project_instance

        instance = project_instance(OUT / "dagster_home")
    else:
        instance = dg.DagsterInstance.ephemeral()
    run_started = time.perf_counter()
    summary = run_partitions(
        raw_dir=raw,
        url=f"duckdb:///{OUT / 'warehouse.duckdb'}",
        run_date=RUN_DATE,
        instance=instance,
        progress=progress,
    )
    wall = time.perf_counter() - run_started
    done = [marks[n] for n in order if len(marks[n]) == 4]
    first, last = done[:20], done[-20:]

    def mean(rows: list[list[float]], i: int) -> float:
        return statistics.fmean(r[i] for r in rows)

    result = {
        "structures": args.structures,
        "years": list(YEARS),
        "young_per_year": args.young,
        "partitions": len(done),
        "failed": len(summary.failed),
        "wall_s": round(wall, 1),
        "first_20_wall_s": round(mean(first, 2), 3),
        "last_20_wall_s": round(mean(last, 2), 3),
        "first_20_cpu_s": round(mean(first, 3), 3),
        "last_20_cpu_s": round(mean(last, 3), 3),
        "median_cpu_s": round(statistics.median(r[3] for r in done), 3),
        # the same year at the start and at the end of its turn: later years also compute
        # trends against the year before, so first-vs-last across years mixes two costs
        "by_year_first_last_10_cpu_s": {
            str(year): [round(mean(rows[:10], 3), 3), round(mean(rows[-10:], 3), 3)]
            for year in YEARS
            if (rows := [marks[n] for n in order if n.endswith(str(year)) and len(marks[n]) == 4])
        },
        "instance": "project (SQLite)" if args.project_instance else "in memory",
        "cpus": os.cpu_count(),
    }
    (OUT / "results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if not summary.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
