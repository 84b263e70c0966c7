"""The Dagster UI as a guide: the job a person picks is the one the command line runs, the
published warehouse's status is true after a command-line run, constant counts are not
plotted. Through `observatoire run` itself, with a real instance in a temporary
DAGSTER_HOME."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import main
from pipelines.jobs import catalogue_job, ingest_job
from pipelines.partitions import partition_key, partitions_def
from tests.conftest import RUN_DATE
from tests.test_indicators import edge_cases

README = Path(__file__).resolve().parents[1] / "README.md"
PUBLISHED = dg.AssetKey("published_warehouse")
PARTITIONS = [("AUT", 2025), ("TST", 2025)]
# counts nearly always the same from one materialisation (or check) to the next
CONSTANT = {
    "materialisation": {"cellules masquées", "seuil de masquage", "tableaux", "indicateurs"},
    "check": {"cellules en échec", "lignes rejetées"},
}


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    """Two partitions loaded by `observatoire run` (history kept in a temporary
    DAGSTER_HOME); the instance as the UI would open it."""
    raw = edge_cases(tmp_path / "raw")
    shutil.copytree(raw / "TST", raw / "AUT")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    status = main(
        [
            "run",
            "--raw",
            str(raw),
            "--run-date",
            RUN_DATE,
            "--warehouse",
            f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        ]
    )
    assert status == 0
    opened = dg.DagsterInstance.get()
    try:
        yield opened
    finally:
        opened.dispose()


def test_the_published_warehouse_is_materialised_for_every_partition_published(
    instance: dg.DagsterInstance,
) -> None:
    keys = [str(partition_key(s, y)) for s, y in PARTITIONS]
    status = instance.get_status_by_partition(PUBLISHED, keys, partitions_def)
    assert status == {k: dg.AssetPartitionStatus.MATERIALIZED for k in keys}, status
    # one publication for the two partitions (the command line publishes once, at the end)
    publications = [
        r for r in instance.get_runs() if r.tags.get("observatoire/purpose") == "publication"
    ]
    assert len(publications) == 1
    for key in keys:
        record = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=PUBLISHED, asset_partitions=[key]), limit=1
        ).records[0]
        assert record.run_id == publications[0].run_id


def test_the_command_line_runs_the_job_the_readme_names(instance: dg.DagsterInstance) -> None:
    runs = instance.get_runs()
    assert {r.job_name for r in runs} == {ingest_job.name, catalogue_job.name}
    loads = sorted(
        r.tags["dagster/partition"] for r in runs if r.tags.get("observatoire/purpose") == "ingest"
    )
    assert loads == sorted(str(partition_key(s, y)) for s, y in PARTITIONS)
    assert ingest_job.name == "integrer_partition"
    ui = README.read_text(encoding="utf-8").split("### L'interface Dagster")[1].split("\n## ")[0]
    assert f"`{ingest_job.name}`" in ui and f"`{catalogue_job.name}`" in ui
    from pipelines.definitions import defs

    for job in (ingest_job.name, catalogue_job.name):
        description = defs.resolve_job_def(job).description or ""
        assert re.search(r"\b(les|des|une|et)\b", description), description  # French


def _metadata(instance: dg.DagsterInstance) -> dict[tuple[str, str], list[dg.MetadataValue]]:
    """Every metadata entry of the instance's materialisations and check evaluations, by
    (kind of event, name)."""
    found: dict[tuple[str, str], list[dg.MetadataValue]] = defaultdict(list)
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.is_step_materialization:
                kind = "materialisation"
                metadata = event.step_materialization_data.materialization.metadata
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                kind = "check"
                metadata = event.event_specific_data.metadata
            else:
                continue
            for name, value in metadata.items():
                found[(kind, name)].append(value)
    return found


def test_metadata_labels_are_french(instance: dg.DagsterInstance) -> None:
    """What the UI shows as a label is French words, not a code's snake_case name (Dagster's
    own `dagster/…` entries aside)."""
    labels = {name for _, name in _metadata(instance) if not name.startswith("dagster/")}
    assert {"lignes rejetées", "cellules en échec", "avertissements"} <= labels, labels
    assert not [name for name in labels if "_" in name], labels


def test_constant_counts_are_shown_as_text_not_plotted(instance: dg.DagsterInstance) -> None:
    found = _metadata(instance)
    constant = {(kind, name) for kind, names in CONSTANT.items() for name in names}
    assert constant <= set(found), constant - set(found)
    for entry in constant:
        assert all(isinstance(v, dg.TextMetadataValue) for v in found[entry]), (
            entry,
            found[entry][:3],
        )
    assert found[("materialisation", "cellules masquées")][0].value == "0"
    # counts that measure a partition are still plotted
    rows = found[("materialisation", "dagster/row_count")]
    assert rows and all(isinstance(v, dg.IntMetadataValue) for v in rows)
