"""Fixed costs: `observatoire run`'s start-up before its first partition, and a partition of
three young people (Dagster's steps included) in a process already warm.

    .venv/bin/python bench/fixed_cost.py            # 5 small structures, 3 rounds

Start-up is timed from the command's launch (a new interpreter: imports, the Dagster
instance, the drop zone, the warehouse's state) to its first progress line about a
partition, on a warehouse already holding the catalogue. The small partitions are the 2nd to
last of one run (the first pays the imports the steps make). A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.builders import (  # noqa: E402
    EVENTS,
    JEUNES_HEADERS,
    write_structure,
    write_xlsx,
    young,
)

OUT = ROOT / "bench" / "out" / "fixed_cost"
HOME = ROOT / "bench" / "out" / "fixed_cost_dagster_home"  # kept: a deployment's is not new
RUN_DATE = "2026-01-15"

_STARTUP = """
import sys, time
started = float(sys.argv[3])
from pathlib import Path
from pipelines.runner import run_partitions
class First(Exception):
    pass
def progress(message):
    if message.startswith("[1/"):
        print(f"{time.time() - started:.3f}", flush=True)
        raise First
try:
    run_partitions(Path(sys.argv[1]), url=sys.argv[2], run_date="2026-01-15", progress=progress)
except First:
    pass
"""


def small_zone(raw: Path, structures: int) -> None:
    for k in range(structures):
        folder = write_structure(raw, f"P{k:02d}") / "2025"
        (folder.parent / "structure.yaml").write_text(
            (folder.parent / "structure.yaml").read_text(encoding="utf-8") + "synthetic: true\n",
            encoding="utf-8",
        )
        folder.mkdir(parents=True, exist_ok=True)
        write_xlsx(folder / "jeunes.xlsx", JEUNES_HEADERS, [young(str(i)) for i in range(1, 4)])
        write_xlsx(
            folder / "evenements.xlsx",
            EVENTS,
            [[str(i), "12/03/2025", "Entretien individuel", "Réalisé"] for i in range(1, 4)],
        )


def small_partitions(structures: int, instance: Any) -> tuple[Path, str, list[list[float]]]:
    """A fresh zone of small partitions run in this process; (raw, url, the [wall, CPU] of
    each partition after the first)."""
    from pipelines.runner import run_partitions

    if OUT.exists():
        shutil.rmtree(OUT)
    raw = OUT / "raw"
    small_zone(raw, structures)
    url = f"duckdb:///{OUT / 'warehouse.duckdb'}"
    marks: dict[str, list[float]] = {}

    def progress(message: str) -> None:
        if not message.startswith("["):
            return
        name = message.split("]", 1)[1].split(":", 1)[0].strip()
        now = [time.perf_counter(), time.process_time()]
        if "lecture" in message:
            marks[name] = now
        else:
            marks[name] = [now[0] - marks[name][0], now[1] - marks[name][1]]

    summary = run_partitions(
        raw,
        url=url,
        run_date=RUN_DATE,
        instance=instance,
        progress=progress,
    )
    assert summary.ok, summary.failed
    return raw, url, list(marks.values())[1:]


def one_round(structures: int) -> dict[str, object]:
    import dagster as dg

    from bench.instance import project_instance

    home = OUT.parent / "fixed_cost_project_home"
    _, _, stored = small_partitions(structures, project_instance(home))
    raw, url, warm = small_partitions(structures, dg.DagsterInstance.ephemeral())
    # start-up: a new interpreter, one partition's files changed so that it has work to do
    target = raw / "P00" / "2025" / "evenements.xlsx"
    os.utime(target, None)
    write_xlsx(target, EVENTS, [["1", "13/03/2025", "Entretien individuel", "Réalisé"]])
    started = time.time()
    shown = subprocess.run(
        [sys.executable, "-c", _STARTUP, str(raw), url, str(started)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DAGSTER_HOME": str(HOME)},
    )
    return {
        "startup_s": float(shown.stdout.strip().splitlines()[-1]),
        "small_partition_wall_s": round(statistics.median(w for w, _ in warm), 3),
        "small_partition_cpu_s": round(statistics.median(c for _, c in warm), 3),
        # the same partitions recorded in a project-like instance (SQLite files on disk)
        "small_partition_project_instance_wall_s": round(
            statistics.median(w for w, _ in stored), 3
        ),
        "small_partition_project_instance_cpu_s": round(statistics.median(c for _, c in stored), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    HOME.mkdir(parents=True, exist_ok=True)
    rounds = []
    for i in range(args.rounds):
        rounds.append(one_round(args.structures))
        print(f"round {i + 1}: {json.dumps(rounds[-1])}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT.parent / "fixed_cost.json").write_text(json.dumps(rounds, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
