"""The Dagster code location loads, with the asset graph and partitions the brief names."""

from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.partitions import discover_partitions, partitions_def
from tests.builders import write_structure


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_flows_raw_to_marts():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw/exports",
        "staging/exports",
        "conformed/evenements",
        "quarantine",
        "ingested_files",
        "marts/indicator_units",
        "indicator_values",
        "indicator_trends",
        "indicator_catalogue",
    } <= keys
    values = graph.get(dg.AssetKey("indicator_values"))
    assert dg.AssetKey(["marts", "indicator_units"]) in values.parent_keys
    units = graph.get(dg.AssetKey(["marts", "indicator_units"]))
    assert dg.AssetKey(["conformed", "evenements"]) in units.parent_keys
    staged = graph.get(dg.AssetKey(["staging", "exports"]))
    assert staged.parent_keys == {dg.AssetKey(["raw", "exports"])}
    # the staging layer is one asset (its tables are one per export): Dagster's work per
    # partition grows with the asset keys of a run (bench/README.md)
    assert {k for k in keys if k.startswith("staging/")} == {"staging/exports"}
    conformed = graph.get(dg.AssetKey(["conformed", "evenements"]))
    assert conformed.parent_keys == {dg.AssetKey(["staging", "exports"])}
    assert values.partitions_def == partitions_def
    assert set(partitions_def.partition_dimension_names) == {"structure", "year"}


def test_partitions_are_discovered_from_the_drop_zone(tmp_path: Path):
    raw = tmp_path / "raw"
    write_structure(raw, "MNO")
    (raw / "MNO" / "2025").mkdir()
    (raw / "MNO" / "2024").mkdir()
    (raw / "MNO" / "archives").mkdir()  # not a year: ignored
    (raw / ".cache").mkdir()  # hidden: ignored
    write_structure(raw, "ML-2")
    (raw / "ML-2" / "2025").mkdir()
    assert discover_partitions(raw) == [("MNO", 2024), ("ML-2", 2025), ("MNO", 2025)]
