"""Partitions: structure x year, discovered from the drop zone `raw/<STRUCTURE>/<YEAR>/`."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from pipelines.config import STRUCTURE_CODE

structure_partitions = dg.DynamicPartitionsDefinition(name="structure")
year_partitions = dg.DynamicPartitionsDefinition(name="year")
partitions_def = dg.MultiPartitionsDefinition(
    {"structure": structure_partitions, "year": year_partitions}
)

YEAR_FOLDER = re.compile(r"^(19|20)\d\d$")


def discover_partitions(raw_dir: Path) -> list[tuple[str, int]]:
    """(structure, year) for every `raw/<STRUCTURE>/<YEAR>/` folder, sorted (years ascending,
    so a year's trends can read the previous year's figures)."""
    found = []
    if not raw_dir.is_dir():
        return found
    for structure_dir in sorted(p for p in raw_dir.iterdir() if p.is_dir()):
        if structure_dir.name.startswith(".") or not STRUCTURE_CODE.match(structure_dir.name):
            continue
        for year_dir in sorted(p for p in structure_dir.iterdir() if p.is_dir()):
            if YEAR_FOLDER.match(year_dir.name):
                found.append((structure_dir.name, int(year_dir.name)))
    return sorted(found, key=lambda sy: (sy[1], sy[0]))


def partition_key(structure: str, year: int) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"structure": structure, "year": str(year)})


def partition_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext
                 ) -> tuple[str, int]:
    """(structure, year) of the partition being materialised."""
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):
        key = partitions_def.get_partition_key_from_str(key)
    keys = key.keys_by_dimension
    return keys["structure"], int(keys["year"])


def register_partitions(instance: dg.DagsterInstance,
                        partitions: list[tuple[str, int]]) -> None:
    """Add the discovered structures and years to the instance's dynamic partitions."""
    structures = sorted({s for s, _ in partitions})
    years = sorted({str(y) for _, y in partitions})
    known_s = set(instance.get_dynamic_partitions("structure"))
    known_y = set(instance.get_dynamic_partitions("year"))
    if new := [s for s in structures if s not in known_s]:
        instance.add_dynamic_partitions("structure", new)
    if new := [y for y in years if y not in known_y]:
        instance.add_dynamic_partitions("year", new)
