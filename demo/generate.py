"""Seeded demo data: a synthetic i-milo drop zone whose figures are those of the 2025 report.

`write_demo(raw_dir)` writes `raw_dir/MNO/structure.yaml` and the 2024 and 2025 exports of a
fictitious population of young people. Applying the rules of `indicators.md` to the 2025
files gives every figure of `targets/report-2025-expected.csv` and every share of
`targets/report-2025-shares.csv`; the 2024 files give the figures of
`targets/targets-2024.yaml`, chosen so that the report's year-over-year statements hold.
No figure is written in this code: all come from the files under `targets/`.

The population is built constructively, not searched for. Each indicator family (CEJ,
employment, training, new arrivals, ...) has exact margins; people are created or reused
family by family, and a person is reused for another family only when their attributes fit
that family's remaining margins ("caps"). What no existing person can fill is filled by a
new person whose attributes are taken from the remaining margins, so every margin ends at
exactly zero. Dates come last, inside the windows each rule needs (a CEJ measure within the
CEJ period, an apprentice's follow-up event within the contract, ...).

Every personal value (names, phones, e-mails, addresses, advisers) is obviously fake.
The same seed writes the same bytes: every choice comes from seeded generators and the files
carry the extraction date, never the time they were written.

    python -m demo.generate --raw raw --seed 2025 [--notes]

`--notes` lists the rows written to be rejected (quarantine) or kept without counting, with
their file, sheet and row number as Excel shows it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from demo.build import build_demo
from demo.categories import STRUCTURE, TARGETS_DIR
from demo.cells import Writer
from demo.export_layout import export_files
from demo.population import YearData


def write_structure(raw_dir: Path) -> Path:
    """structure.yaml as exports.md shows it, declared synthetic: only this seeded data may
    be pseudonymised with the public demo key (pipelines/pseudonym.py)."""
    path = raw_dir / STRUCTURE / "structure.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (TARGETS_DIR / "structure.yaml").read_text(encoding="utf-8")
    path.write_text(
        text.rstrip("\n") + "\n# Données de démonstration générées : clé publique "
        "de démonstration admise.\nsynthetic: true\n",
        encoding="utf-8",
    )
    return path


_YEARS: Sequence[YearData] = ()  # what forked writer processes read (inherited, not pickled)


def _write_file(task: tuple[Path, int, int, int]) -> tuple[Path, list[tuple]]:
    raw_dir, seed, year_index, file_index = task
    data = _YEARS[year_index]
    spec = export_files(data.year, data.extraction)[file_index]
    writer = Writer(seed, data.year, spec.name)
    return writer.write(raw_dir / STRUCTURE / str(data.year), spec, data, raw_dir), writer.notes


def _write(raw_dir: Path, years: Sequence[YearData], seed: int) -> tuple[list[Path], list[tuple]]:
    """Write every file; openpyxl spends ~20 µs a cell, so files are written by two forked
    processes where the platform forks (each file has its own seeded rng: same bytes)."""
    global _YEARS
    _YEARS = years
    for data in years:
        (raw_dir / STRUCTURE / str(data.year)).mkdir(parents=True, exist_ok=True)
    tasks = [
        (raw_dir, seed, i, j)
        for i, data in enumerate(years)
        for j in range(len(export_files(data.year, data.extraction)))
    ]

    def cells(task: tuple[Path, int, int, int]) -> int:
        data = years[task[2]]
        spec = export_files(data.year, data.extraction)[task[3]]
        return sum(len(data.rows[s.kind]) * len(s.columns) for s in spec.sheets if s.kind)

    workers = min(2, os.cpu_count() or 1)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        order = sorted(tasks, key=cells, reverse=True)  # the biggest first: balanced workers
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            done = dict(zip(order, pool.map(_write_file, order), strict=True))
        results = [done[task] for task in tasks]
    else:
        results = [_write_file(task) for task in tasks]
    paths = [write_structure(raw_dir)] + [path for path, _ in results]
    return paths, [note for _, notes in results for note in notes]


def write_demo(raw_dir: Path, seed: int = 2025, today: dt.date | None = None) -> list[Path]:
    """Write the demo drop zone under raw_dir (structure.yaml, 2024 and 2025 exports)."""
    paths, _ = _write(Path(raw_dir), build_demo(seed, today), seed)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the seeded demo i-milo exports (MNO, 2024-2025)."
    )
    parser.add_argument(
        "--raw", type=Path, required=True, help="the drop zone to write into (raw/)"
    )
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--notes", action="store_true", help="list the rows written to be rejected or ignored"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths, notes = _write(args.raw, build_demo(args.seed), args.seed)
    for path in paths:
        print(path)
    if args.notes:
        for rel, sheet, row, note in notes:
            print(f"{rel}\t{sheet or '-'}\trow {row}\t{note}")
    print(f"{len(paths)} files in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
