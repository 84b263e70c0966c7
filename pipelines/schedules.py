"""The nightly schedule: refresh every partition whose files changed since they were loaded.

At $OBSERVATOIRE_NIGHTLY_CRON (default `0 2 * * *`, 2 a.m. Europe/Paris) it hashes the drop
zone's export files and compares them with the files behind the published figures
(`ingested_files`): a partition with a file new, changed or gone, or never loaded, gets a
run of `integrer_partition`, and the next year, when it exists, a run of its trends and
publication (the sensor's change detection, pipelines/sensors.py). It catches what the
sensor missed while it was off, and retries partitions whose load failed.
"""

from __future__ import annotations

import os

import dagster as dg

from pipelines.jobs import ingest_job
from pipelines.partitions import discover_partitions, register_partitions
from pipelines.plan import vanished_partitions
from pipelines.resources import DropZoneResource, WarehouseResource
from pipelines.sensors import (
    automation_on,
    changed_partitions,
    held_partitions,
    loaded_files,
    recorded_inputs,
    run_requests,
    scan_drop_zone,
    settle_seconds,
    stale_inputs,
)

CRON_VARIABLE = "OBSERVATOIRE_NIGHTLY_CRON"
DEFAULT_CRON = "0 2 * * *"
TIMEZONE = "Europe/Paris"
SCHEDULE_NAME = "observatoire_nightly"


@dg.schedule(
    name=SCHEDULE_NAME,
    cron_schedule=os.environ.get(CRON_VARIABLE) or DEFAULT_CRON,
    execution_timezone=TIMEZONE,
    job=ingest_job,
    default_status=dg.DefaultScheduleStatus.RUNNING
    if automation_on()
    else dg.DefaultScheduleStatus.STOPPED,
    description="Chaque nuit : recharge les partitions dont les fichiers ont changé (sha256) "
    "depuis leur dernier chargement, ou jamais chargées.",
)
def nightly_refresh(
    context: dg.ScheduleEvaluationContext, drop_zone: DropZoneResource, warehouse: WarehouseResource
) -> dg.SkipReason | list[dg.RunRequest]:
    root = drop_zone.root
    found = discover_partitions(root)
    current, unsettled = scan_drop_zone(root, found, settle_seconds=settle_seconds())
    changed = changed_partitions(
        {f: s.sha256 for f, s in current.items()},
        loaded_files(warehouse.url),
        set(found) - unsettled,
    )
    # structure.yaml or configuration changed, or rows dated after their run day that has come
    stale = stale_inputs(
        root, set(found) - unsettled, recorded_inputs(warehouse.url), drop_zone.today
    )
    changed = sorted(set(changed) | set(stale), key=lambda sy: (sy[1], sy[0]))
    vanished = vanished_partitions(held_partitions(warehouse.url), found) - unsettled
    if not changed and not vanished:
        return dg.SkipReason(
            "rien à recharger : chaque partition est chargée depuis ses "
            "fichiers actuels, son structure.yaml et la configuration, aucune "
            "date rejetée n'est arrivée, et chaque partition de l'entrepôt a "
            "encore son dossier (comparés : le sha256 des fichiers avec "
            "ingested_files, l'empreinte des entrées et le jour de reprise de "
            "chaque partition avec staging.partition_loads, les partitions de "
            "l'entrepôt avec raw/)"
        )
    # Schedules cannot return dynamic-partition requests: register the new ones here.
    register_partitions(context.instance, found)
    return run_requests(changed, found, "nightly", lambda p: f"{p[0]}-{p[1]}", vanished)
