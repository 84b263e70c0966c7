"""The drop-zone sensor: a file dropped, replaced or removed under `raw/<STRUCTURE>/<YEAR>/`
runs its partition, and nothing else does.

Change detection (shared with the nightly schedule, pipelines/schedules.py): the export
files of every partition folder (those the reader reads: pipelines/read.py
`list_export_files`) and their sha256, compared with what is already known. A partition
whose set of (file, sha256) differs (a file new, changed or gone) gets a run of the
`integrer_partition` job, and the next year's partition, when it exists, a run of its trends
(`indicator_trends` compares a year with the one before) and of its publication.

The sensor's cursor is compact JSON:
`{"n": <ticks that requested runs>, "catalogue": <digest>, "files": {"<S>/<Y>/<file>":
[sha256, size, mtime_ns]}}`. A file whose size and modification time are those of the cursor
is not hashed again. On its first evaluation (no cursor) the sensor starts from the files the
published warehouse already holds (`ingested_files`), so turning it on reloads only what
changed. A file modified less than $OBSERVATOIRE_SETTLE_SECONDS ago (default 10) may still
be being copied: its partition waits for the next tick.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pipelines.config import CONFIG_DIR
from pipelines.inputs import configuration_digest, inputs_digest
from pipelines.jobs import catalogue_job, ingest_job
from pipelines.partitions import discover_partitions
from pipelines.plan import CATALOGUE, Publication, plan_runs, vanished_partitions
from pipelines.read import list_export_files
from pipelines.resources import DropZoneResource, WarehouseResource
from pipelines.staging import NotARegularFileError, sha256_of
from pipelines.warehouse import read_published

AUTOMATION_VARIABLE = "OBSERVATOIRE_AUTOMATION"
SETTLE_VARIABLE = "OBSERVATOIRE_SETTLE_SECONDS"
DEFAULT_SETTLE_SECONDS = 10.0
SENSOR_NAME = "observatoire_drop_zone"

# What the catalogue run publishes depends on these files only.
CATALOGUE_SOURCES = ("indicators.yaml", "dictionary.yaml", "exports.yaml")

Partition = tuple[str, int]


def automation_on() -> bool:
    """$OBSERVATOIRE_AUTOMATION=on starts the sensor and the schedule with the instance
    (their default status); otherwise they are off until turned on (UI or CLI)."""
    return os.environ.get(AUTOMATION_VARIABLE, "").strip().lower() in {"on", "1", "true", "yes"}


@dataclass(frozen=True)
class FileState:
    sha256: str
    size: int = -1
    mtime_ns: int = -1


def partition_of_file(relative: str) -> Partition | None:
    """`S/Y/name` -> (S, Y)."""
    parts = relative.split("/")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def scan_drop_zone(
    root: Path,
    partitions: Iterable[Partition],
    known: Mapping[str, FileState] | None = None,
    settle_seconds: float = 0.0,
    now: float | None = None,
) -> tuple[dict[str, FileState], set[Partition]]:
    """The export files of the partitions' folders (`S/Y/name` -> state), hashing only those
    whose size or modification time differ from `known`; and the partitions holding a file
    modified less than `settle_seconds` ago (their files are left out)."""
    known = known or {}
    now = time.time() if now is None else now
    files: dict[str, FileState] = {}
    unsettled: set[Partition] = set()
    for structure, year in partitions:
        found: dict[str, FileState] = {}
        try:
            # FIFOs, sockets, devices and links out of raw/ are left out (never opened)
            paths, _warnings = list_export_files(root / structure / str(year), root)
            for path in paths:
                relative = f"{structure}/{year}/{path.name}"
                stat = path.stat()
                if settle_seconds > 0 and now - stat.st_mtime < settle_seconds:
                    raise _Unsettled
                old = known.get(relative)
                if old and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                    found[relative] = old
                    continue
                try:
                    sha = sha256_of(path)
                except (FileNotFoundError, NotARegularFileError):
                    raise  # moved away, or swapped for a FIFO: look again next tick
                except OSError as exc:  # unreadable: run it, its run says why
                    sha = f"unreadable: {exc.strerror}"
                found[relative] = FileState(sha, stat.st_size, stat.st_mtime_ns)
        except (_Unsettled, FileNotFoundError, NotARegularFileError):
            unsettled.add((structure, year))  # being written, or moved away meanwhile
            continue
        files.update(found)
    return files, unsettled


class _Unsettled(Exception):
    pass


def _by_partition(files: Mapping[str, str]) -> dict[Partition, dict[str, str]]:
    grouped: dict[Partition, dict[str, str]] = {}
    for relative, sha in files.items():
        if (partition := partition_of_file(relative)) is not None:
            grouped.setdefault(partition, {})[relative] = sha
    return grouped


def changed_partitions(
    current: Mapping[str, str], known: Mapping[str, str], partitions: Iterable[Partition]
) -> list[Partition]:
    """The partitions whose files (`S/Y/name` -> sha256) differ from `known`: a file new,
    changed or gone, or a partition never loaded. Years ascending (a year's trends read the
    year before)."""
    now, before = _by_partition(current), _by_partition(known)
    return sorted(
        (p for p in set(partitions) if now.get(p, {}) != before.get(p, {})),
        key=lambda sy: (sy[1], sy[0]),
    )


def partition_digest(files: Mapping[str, str]) -> str:
    """A short digest of a partition's files (`S/Y/name` -> sha256): names its state in run
    keys."""
    lines = sorted(f"{f}:{sha}" for f, sha in files.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


def run_requests(
    changed: list[Partition],
    found: Iterable[Partition],
    trigger: str,
    run_key: Callable[[Partition], str],
    vanished: Iterable[Partition] = (),
) -> list[dg.RunRequest]:
    """The runs `plan_runs` calls for, as run requests queued in that order (each publishes:
    `Publication.EACH`). `run_key` names a changed partition's run; a next year's run adds
    `-next` to the key of the year before it, a removal is `remove-` and the key of each
    partition it removes."""
    requests = []
    for run in plan_runs(changed, found, Publication.EACH, vanished):
        assert run.partition is not None
        if run.purpose == "removal":
            requests.append(run.request(f"remove-{run_key(run.partition)}", trigger))
            continue
        structure, year = run.partition
        key = (
            run_key(run.partition)
            if run.purpose == "ingest"
            else f"{run_key((structure, year - 1))}-next"
        )
        requests.append(run.request(key, trigger))
    return requests


def new_partitions_requests(
    instance: dg.DagsterInstance, partitions: Iterable[Partition]
) -> list[dg.AddDynamicPartitionsRequest]:
    """Requests adding the structures and years not yet known to the instance."""
    partitions = list(partitions)
    requests = []
    for name, keys in (
        ("structure", {s for s, _ in partitions}),
        ("year", {str(y) for _, y in partitions}),
    ):
        new = sorted(keys - set(instance.get_dynamic_partitions(name)))
        if new:
            requests.append(dg.AddDynamicPartitionsRequest(name, new))
    return requests


def held_partitions(url: str | None) -> set[Partition]:
    """The partitions the published warehouse holds rows of, in any layer."""
    from pipelines.store import held_partitions_sql

    frame = read_published(url, "ingested_files", held_partitions_sql())
    if frame is None:
        return set()
    return {(s, int(y)) for s, y in zip(frame["structure"], frame["year"], strict=True)}


def recorded_inputs(url: str | None) -> dict[Partition, tuple[str, date | None]]:
    """Per loaded partition: the digest of its inputs besides its files, and the day its
    rows dated after the run become valid (staging.partition_loads, published)."""
    try:
        frame = read_published(
            url,
            "ingested_files",
            "SELECT structure, year, inputs_digest, retry_on FROM staging.partition_loads",
        )
    except sa.exc.SQLAlchemyError:  # a warehouse made before the table existed
        return {}
    if frame is None:
        return {}
    return {
        (s, int(y)): (d, None if r is None or pd.isna(r) else pd.Timestamp(r).date())
        for s, y, d, r in frame.itertuples(index=False, name=None)
    }


def stale_inputs(
    root: Path,
    found: Iterable[Partition],
    recorded: Mapping[Partition, tuple[str, date | None]],
    today: date | None = None,
) -> dict[Partition, str]:
    """The loaded partitions whose structure.yaml or figure configuration changed since
    (`inputs_digest` differs), and, given `today`, those with rows dated after their run
    day that has now come: partition -> its current inputs digest."""
    configuration = configuration_digest()
    digests: dict[str, str] = {}
    stale = {}
    for partition in found:
        if partition not in recorded:
            continue  # never loaded: its files say so already
        structure = partition[0]
        if structure not in digests:
            digests[structure] = inputs_digest(root / structure, configuration)
        digest, retry = recorded[partition]
        if digest != digests[structure] or (
            today is not None and retry is not None and retry <= today
        ):
            stale[partition] = digests[structure]
    return stale


def loaded_files(url: str | None) -> dict[str, str]:
    """`S/Y/name` -> sha256 of the files behind the published figures (`ingested_files`)."""
    frame = read_published(
        url, "ingested_files", "SELECT DISTINCT file, sha256 FROM ingested_files"
    )
    if frame is None:
        return {}
    return dict(zip(frame["file"], frame["sha256"], strict=True))


def catalogue_digest() -> str:
    digest = hashlib.sha256()
    for name in CATALOGUE_SOURCES:
        digest.update((CONFIG_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def settle_seconds() -> float:
    return float(os.environ.get(SETTLE_VARIABLE, DEFAULT_SETTLE_SECONDS))


def _load_cursor(cursor: str | None) -> dict | None:
    return json.loads(cursor) if cursor else None


def _partition_of_key(key: str) -> Partition:
    structure, year = key.split("|")
    return structure, int(year)


def _dump_cursor(
    seq: int,
    catalogue: str,
    files: Mapping[str, FileState],
    removing: Iterable[Partition] = (),
    inputs: Mapping[str, str] | None = None,
) -> str:
    state = {
        "n": seq,
        "catalogue": catalogue,
        "files": {f: [s.sha256, s.size, s.mtime_ns] for f, s in sorted(files.items())},
        "removing": [f"{s}|{y}" for s, y in sorted(removing)],
        "inputs": dict(sorted((inputs or {}).items())),
    }
    return json.dumps(state, separators=(",", ":"))


@dg.sensor(
    name=SENSOR_NAME,
    jobs=[ingest_job, catalogue_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING
    if automation_on()
    else dg.DefaultSensorStatus.STOPPED,
    description="Surveille la zone de dépôt raw/<STRUCTURE>/<ANNÉE>/ : un fichier nouveau, "
    "modifié (sha256) ou retiré relance sa partition (et les évolutions de "
    "l'année suivante) ; une nouvelle structure ou année devient une partition.",
)
def drop_zone_sensor(
    context: dg.SensorEvaluationContext, drop_zone: DropZoneResource, warehouse: WarehouseResource
) -> dg.SensorResult:
    root = drop_zone.root
    state = _load_cursor(context.cursor)
    if state is None:  # first tick: what the warehouse already holds is not news
        known = {f: FileState(sha) for f, sha in loaded_files(warehouse.url).items()}
        seq, catalogue = 0, ""
    else:
        known = {f: FileState(*v) for f, v in state["files"].items()}
        seq, catalogue = state["n"], state["catalogue"]
    found = discover_partitions(root)
    current, unsettled = scan_drop_zone(root, found, known, settle_seconds())
    # A partition still being written keeps its known files until the next tick.
    files = {**current, **{f: s for f, s in known.items() if partition_of_file(f) in unsettled}}
    shas = {f: s.sha256 for f, s in files.items()}
    changed = changed_partitions(
        shas, {f: s.sha256 for f, s in known.items()}, set(found) - unsettled
    )
    # structure.yaml or the figure configuration changed: asked once per new digest
    asked = state.get("inputs", {}) if state else {}
    stale = {
        p: d
        for p, d in stale_inputs(
            root, set(found) - unsettled, recorded_inputs(warehouse.url)
        ).items()
        if asked.get(f"{p[0]}|{p[1]}") != d
    }
    changed = sorted(set(changed) | set(stale), key=lambda sy: (sy[1], sy[0]))
    asked = {**asked, **{f"{s}|{y}": d for (s, y), d in stale.items()}}

    # partitions the warehouse holds whose folder is gone, asked to leave once
    removing = set(map(_partition_of_key, state.get("removing", []))) if state else set()
    vanished = vanished_partitions(held_partitions(warehouse.url), found) - unsettled
    requests: list[dg.RunRequest] = []
    if (digest := catalogue_digest()) != catalogue:
        requests.append(CATALOGUE.request(f"catalogue-{digest}", "drop_zone"))
    if changed or vanished - removing:
        seq += 1  # in the run keys: a file put back as it was is still a change
        by_partition = _by_partition(shas)

        def run_key(p: Partition) -> str:
            return f"{seq}-{p[0]}-{p[1]}-{partition_digest(by_partition.get(p, {}))}"

        requests += run_requests(changed, found, "drop_zone", run_key, vanished - removing)
        context.log.info("changed partitions: " + ", ".join(f"{s} {y}" for s, y in changed))
        if stale:
            context.log.info(
                "structure.yaml or configuration changed: "
                + ", ".join(f"{s} {y}" for s, y in sorted(stale))
            )
        if vanished - removing:
            context.log.info(
                "folders gone, partitions removed: "
                + ", ".join(f"{s} {y}" for s, y in sorted(vanished - removing))
            )
    if unsettled:
        context.log.info(
            "still being written, next tick: " + ", ".join(f"{s} {y}" for s, y in sorted(unsettled))
        )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=new_partitions_requests(context.instance, found),
        cursor=_dump_cursor(seq, digest, files, vanished, asked),
        skip_reason=None
        if requests
        else "no file new, changed or removed, no folder gone, "
        "no structure.yaml or configuration changed "
        "(compared: the export files' sha256 with the "
        "sensor's last tick, each partition's inputs "
        "digest with the warehouse's, the warehouse's "
        "partitions "
        "with the folders of raw/)",
    )
