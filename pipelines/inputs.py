"""What a partition's figures depend on besides its export files: a digest of it.

The figures of `raw/<S>/<Y>/` depend on its files (their sha256 are in `ingested_files`),
on its structure's `structure.yaml` (territory, name), on the configuration that reads and
counts (`config/exports.yaml`, `codes.yaml`, `indicators.yaml`, the counting SQL), and on
the day of the run where a row was rejected as dated after it. Each load records the digest
of the first two (`staging.partition_loads.inputs_digest`) and the day a rejected future
date is reached (`retry_on`); the sensor and the nightly rerun exactly the partitions whose
digest differs or whose day has come (docs/operations.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipelines.config import CONFIG_DIR, PROJECT_ROOT

# The configuration files that change figures (not the report's layout, not the dictionary).
FIGURE_CONFIG = ("exports.yaml", "codes.yaml", "indicators.yaml")
COUNTING_SQL = PROJECT_ROOT / "pipelines" / "sql"


def _figure_sources() -> list[Path]:
    return [CONFIG_DIR / name for name in FIGURE_CONFIG] + sorted(COUNTING_SQL.glob("*.sql"))


def configuration_digest() -> str:
    """The digest of the configuration that changes every partition's figures."""
    digest = hashlib.sha256()
    for path in _figure_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def inputs_digest(structure_dir: Path, configuration: str | None = None) -> str:
    """The digest of what a partition of this structure depends on besides its files: its
    structure.yaml and the figure configuration (`configuration`, when already computed)."""
    digest = hashlib.sha256((configuration or configuration_digest()).encode())
    try:
        digest.update((structure_dir / "structure.yaml").read_bytes())
    except OSError:
        digest.update(b"no structure.yaml")
    return digest.hexdigest()[:16]
