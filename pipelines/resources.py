"""Dagster resources: the warehouse and the drop zone, configured from the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.config import PROJECT_ROOT
from pipelines.recovery import record_process
from pipelines.warehouse import Warehouse, resolve_url

DEFAULT_RAW_DIR = PROJECT_ROOT / "raw"


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse, reached through one SQLAlchemy URL (default: the embedded DuckDB file,
    or $WAREHOUSE_URL)."""

    url: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Record the run's process once the run starts, wherever it was launched (command
        # line, UI, daemon), so a run whose process dies can be found (pipelines/recovery.py).
        record_process(context.instance, context.run.run_id if context.run else None)

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        """The warehouse for one step, its connections closed when the step is done."""
        wh = Warehouse(resolve_url(self.url))
        try:
            yield wh
        finally:
            wh.dispose()


class DropZoneResource(dg.ConfigurableResource):
    """The drop zone `raw/<STRUCTURE>/<YEAR>/` and the day of the run (dates after it are
    invalid; tests pin it)."""

    raw_dir: str | None = None
    run_date: str | None = None  # ISO date; default: today
    # Structures this run reloads with a new pseudonymisation key (every partition of each:
    # `observatoire run --new-key`); any other key change is refused.
    new_key_structures: list[str] = []

    @property
    def root(self) -> Path:
        return Path(self.raw_dir or os.environ.get("OBSERVATOIRE_RAW_DIR") or DEFAULT_RAW_DIR)

    @property
    def today(self) -> date:
        text = self.run_date or os.environ.get("OBSERVATOIRE_RUN_DATE")
        return date.fromisoformat(text) if text else date.today()


def default_resources(
    url: str | None = None,
    raw_dir: str | Path | None = None,
    run_date: str | None = None,
    new_key_structures: list[str] | None = None,
) -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(url=url),
        "drop_zone": DropZoneResource(
            raw_dir=str(raw_dir) if raw_dir else None,
            run_date=run_date,
            new_key_structures=new_key_structures or [],
        ),
    }
