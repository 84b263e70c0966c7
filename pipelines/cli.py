"""The `observatoire` command: run the pipeline, build the demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.resources import DEFAULT_RAW_DIR


def _run(args: argparse.Namespace) -> int:
    from pipelines.runner import format_summary, run_partitions

    summary = run_partitions(
        raw_dir=Path(args.raw), url=args.warehouse, structures=args.structure or None,
        years=args.year or None, run_date=args.run_date,
    )
    print(format_summary(summary))
    return 1 if summary.failed or not summary.outcomes else 0


def _demo(args: argparse.Namespace) -> int:
    from pipelines.demo.generate import write_demo

    raw = Path(args.raw)
    if not (raw / "MNO").exists():
        print(f"Generating the synthetic demo drop zone in {raw}/MNO …")
        write_demo(raw)
    else:
        print(f"Using the existing demo drop zone {raw}/MNO (delete it to regenerate).")
    args.structure, args.year = ["MNO"], None
    return _run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="observatoire",
        description="Observatoire des Missions Locales: exports i-milo -> entrepôt d'indicateurs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="materialise every partition found under raw/ (or those "
                                     "named)")
    for p in (run, sub.add_parser("demo", help="generate the synthetic demo drop zone (if "
                                                "absent) and run on it")):
        p.add_argument("--raw", default=str(DEFAULT_RAW_DIR),
                       help="the drop zone raw/<STRUCTURE>/<YEAR>/ (default: %(default)s)")
        p.add_argument("--warehouse", default=None,
                       help="SQLAlchemy URL (default: $WAREHOUSE_URL, else "
                            "duckdb:///warehouse/observatoire.duckdb)")
        p.add_argument("--run-date", default=None,
                       help="the day of the run, YYYY-MM-DD (dates after it are invalid; "
                            "default: today)")
    run.add_argument("--structure", action="append", help="only this structure (repeatable)")
    run.add_argument("--year", action="append", type=int, help="only this year (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "demo":
        return _demo(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
