"""The Dagster instance the benchmarks record runs in when asked to measure what
`observatoire run` does: a new home configured like the project's."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def project_instance(home: Path) -> Any:
    """A new instance in `home` (emptied first) with the project's dagster.yaml: SQLite files,
    the warehouse pool, run monitoring — where `observatoire run` records its runs."""
    import dagster as dg

    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copyfile(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))
