"""Run the pipeline from the command line: the runs `plan_runs` calls for, executed by
Dagster in this process, one after the other.

Each run is a named job of the code location (`integrer_partition`: for each partition all
but the publication, then on subsets for the next year's trends and the one publication;
`publier_catalogue` first), tagged with its
structure and year, in the instance's history unless `--no-history`. Parallel work is
Dagster's: the daemon's run queue (sensor, schedule, UI) or Celery workers
(docs/scaling.md); this module keeps no process pool, queue or lock of its own.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from pipelines.config import PROJECT_ROOT
from pipelines.partitions import (
    discover_partitions,
    drop_zone_warnings,
    register_partitions,
)
from pipelines.plan import (
    CATALOGUE,
    PlannedRun,
    Publication,
    plan_runs,
    vanished_partitions,
)
from pipelines.recovery import PROCESS_TAG, pool_holders, reclaim_dead_runs, this_process
from pipelines.resources import default_resources
from pipelines.sensors import recorded_inputs, stale_inputs
from pipelines.store import catalogue_is_current, partitions_held
from pipelines.validate import generic_reason
from pipelines.warehouse import Warehouse

DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class PartitionOutcome:
    structure: str
    year: int
    success: bool
    seconds: float
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    peak_mib: float | None = None  # the process's peak resident memory during the partition


@dataclass
class RunSummary:
    outcomes: list[PartitionOutcome] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # about the run, not one partition
    removed: list[tuple[str, int]] = field(default_factory=list)  # folder gone: rows removed
    publication_error: str | None = None
    interrupted: bool = False
    rows_loaded: int = 0
    rows_read: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    reason_examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> list[PartitionOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def ok(self) -> bool:
        return (
            bool(self.outcomes or self.removed)
            and not self.failed
            and not self.publication_error
            and not self.interrupted
        )


class RunInterrupted(Exception):
    """SIGINT or SIGTERM reached a run: the partitions after it are not started."""


def instance_for_run(ephemeral: bool = False) -> dg.DagsterInstance:
    """The project's persistent instance ($DAGSTER_HOME, default .dagster_home/)."""
    if ephemeral:
        return dg.DagsterInstance.ephemeral()
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DAGSTER_HOME)))
    home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


def definitions_for(resources: dict) -> dg.Definitions:
    """The code location's assets and jobs, bound to this run's resources (warehouse URL,
    drop zone, day of the run) instead of the environment's."""
    from pipelines.definitions import defs  # late import: keeps `--help` fast

    return dg.Definitions(
        assets=defs.assets, jobs=defs.jobs, resources=resources, executor=defs.executor
    )


_DISK_FULL = ("No space left on device", "Disk quota exceeded", "[Errno 28]", "[Errno 122]")


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    return any(
        event.is_step_failure
        and event.step_failure_data
        and event.step_failure_data.error is not None
        and "DagsterExecutionInterruptedError" in (event.step_failure_data.error.cls_name or "")
        for event in result.all_events
    )


@dataclass(frozen=True)
class Executed:
    """What a run came to, however it was executed."""

    success: bool
    run_id: str
    error: str | None = None


@dataclass(frozen=True)
class CeleryTarget:
    """Run on Celery workers (`--executor celery`, pipelines/distributed.py): what the
    workers need to know of this run."""

    raw_dir: Path
    url: str | None
    run_date: str | None
    new_key_structures: list[str] | None = None


def _error_of(result: Executed) -> str:
    return result.error or "le run a échoué (voir les journaux Dagster)"


def _failure_of(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            error = event.step_failure_data.error
            if error is None:
                continue
            user = event.step_failure_data.user_failure_data
            if user and user.description:
                return user.description
            cause = error.cause or error
            return disk_full_message(cause.message.strip())
    return "le run a échoué (voir les journaux Dagster)"


def disk_full_message(message: str) -> str:
    """An engine's "No space left on device" (or a DuckDB file taken by another process)
    told as what it means and what to do."""
    if "Could not set lock on file" in message:
        return (
            "l'entrepôt de travail est ouvert par un autre processus (un autre run lancé "
            "sans historique, ou quelqu'un qui a ouvert le fichier de travail "
            "warehouse/work/…) : attendez la fin de ce run ou fermez le fichier, puis "
            f"relancez ; les analystes ouvrent warehouse/observatoire.duckdb "
            f"[{message.splitlines()[0][:200]}]"
        )
    if any(mark in message for mark in _DISK_FULL):
        return (
            "disque plein : l'écriture dans l'entrepôt de travail a échoué, rien n'a été "
            "publié et l'entrepôt publié garde son état précédent ; libérez de la place "
            f"(`df -h`) puis relancez [{message.splitlines()[0][:200]}]"
        )
    return message


def execute(
    run: PlannedRun,
    instance: dg.DagsterInstance,
    target: dg.Definitions | CeleryTarget,
    progress: Callable[[str], None],
    trigger: str = "command_line",
    partition: tuple[str, int] | None = None,
) -> Executed:
    """One planned run: in this process (`target`: the definitions bound to this run's
    resources), or its steps on Celery workers. In this process, it starts once the
    `warehouse` pool has a free slot, this process named on the run: Dagster's own wait for
    a slot (in-process executor) answers no signal and spins a core, so the wait happens
    here instead, where SIGINT/SIGTERM stop it at once, and a run whose process died is given
    up instead of waited for. `partition`: the publication's, chosen when it comes."""
    if partition is not None:
        run = PlannedRun(run.job_name, partition, run.asset_selection, run.purpose)
    selection = list(run.asset_selection) if run.asset_selection else None
    if isinstance(target, CeleryTarget):
        from pipelines.distributed import run_on_celery

        success, run_id, error = run_on_celery(
            run.job_name,
            run.partition,
            instance=instance,
            raw_dir=target.raw_dir,
            url=target.url,
            run_date=target.run_date,
            asset_selection=selection,
            tags=run.tags(trigger),
            new_key_structures=target.new_key_structures,
        )
        return Executed(success, run_id, error)
    _wait_for_pool(instance, progress)
    result = target.resolve_job_def(run.job_name).execute_in_process(
        run_config=QUIET,
        instance=instance,
        raise_on_error=False,
        partition_key=None if run.partition_key is None else str(run.partition_key),
        asset_selection=selection,
        tags={**run.tags(trigger), PROCESS_TAG: this_process()},
    )
    if not result.success and _interrupted(result):
        raise RunInterrupted
    return Executed(result.success, result.run_id, None if result.success else _failure_of(result))


def _wait_for_pool(
    instance: dg.DagsterInstance, progress: Callable[[str], None], poll_seconds: float = 1.0
) -> None:
    told: set[str] = set()
    while True:
        free, holders = pool_holders(instance)
        if free > 0:
            return
        for reclaimed in reclaim_dead_runs(instance):
            progress(f"Reprise : {reclaimed.describe()}")
        free, holders = pool_holders(instance)
        if free > 0:
            return
        if not told.issuperset(holders):
            told.update(holders)
            progress(
                "En attente de l'entrepôt, tenu par le(s) run(s) "
                f"{', '.join(h[:8] for h in holders)} (en cours dans un autre processus, "
                "voir l'interface Dagster) ; Ctrl+C pour abandonner."
            )
        time.sleep(poll_seconds)


# Dagster's own warnings about the steps a failure skipped: the failure says it all.
_CONSEQUENCES = ("Dependencies for step ",)


def _level(level: str | int) -> int:
    """A log entry's level as a number (Dagster may keep its name)."""
    return level if isinstance(level, int) else logging.getLevelName(level.upper())


def _warnings_of(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The warnings the assets logged (skipped files, unknown values counted as Non
    renseigné...), in order, once each."""
    seen: dict[str, None] = {}
    for entry in instance.all_logs(run_id):
        if (
            entry.dagster_event is None
            and _level(entry.level) >= logging.WARNING
            and not entry.user_message.startswith(_CONSEQUENCES)
        ):
            seen.setdefault(entry.user_message, None)
    return list(seen)


def _reset_peak_memory() -> bool:
    """Reset the process's resident-memory high-water mark (Linux), so each partition's own
    peak can be read."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_memory_mib() -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _load(
    run: PlannedRun,
    instance: dg.DagsterInstance,
    definitions: dg.Definitions | CeleryTarget,
    progress: Callable[[str], None],
) -> PartitionOutcome:
    assert run.partition is not None
    reset = _reset_peak_memory()
    t0 = time.perf_counter()
    result = execute(run, instance, definitions, progress)
    return PartitionOutcome(
        *run.partition,
        result.success,
        time.perf_counter() - t0,
        None if result.success else _error_of(result),
        _warnings_of(instance, result.run_id),
        _peak_memory_mib() if reset else None,
    )


def run_partitions(
    raw_dir: Path,
    url: str | None = None,
    structures: list[str] | None = None,
    years: list[int] | None = None,
    run_date: str | None = None,
    instance: dg.DagsterInstance | None = None,
    progress: Callable[[str], None] = print,
    new_key: bool = False,
    remove: bool = False,
    executor: str = "in_process",
) -> RunSummary:
    """Run every discovered partition (or those named) and what follows from them
    (`plan_runs`); a failing partition does not stop the others. A full run (nothing named)
    removes from the warehouse the partitions whose folder is gone; named ones are removed
    with `remove`. `new_key`: the structures of the run are reloaded whole with the current
    pseudonymisation key. `executor="celery"`: each run's steps on Celery workers
    (docs/scaling.md; the instance and the warehouse in PostgreSQL)."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    started = time.perf_counter()
    found = discover_partitions(raw_dir)
    chosen = [
        (s, y)
        for s, y in found
        if (not structures or s in structures) and (not years or y in years)
    ]
    summary = RunSummary(notices=[f"Dépôt : {w}" for w in drop_zone_warnings(Path(raw_dir))])
    held, catalogue_current = _warehouse_state(url)

    def named(p: tuple[str, int]) -> bool:
        return (not structures or p[0] in structures) and (not years or p[1] in years)

    gone = sorted(
        (p for p in vanished_partitions(held, found) if named(p)), key=lambda sy: (sy[1], sy[0])
    )
    full = not structures and not years
    vanished = gone if full or remove else []
    for structure, year in gone:
        if not vanished:
            summary.notices.append(
                f"{structure} {year} : le dossier raw/{structure}/{year}/ a disparu mais "
                f"l'entrepôt garde ses lignes ; relancez avec --remove pour les retirer (une "
                f"exécution complète, sans --structure ni --year, le fait d'elle-même)"
            )
        summary.notices.extend(_case_twin(structure, found))
    # a structure's other years loaded with another structure.yaml or configuration join the
    # run: a year's figures and its report never mix two territories
    named_structures = {s for s, _ in chosen}
    stale = [
        p
        for p in stale_inputs(Path(raw_dir), found, recorded_inputs(url))
        if p[0] in named_structures and p not in chosen
    ]
    for structure, year in stale:
        summary.notices.append(
            f"{structure} {year} : rechargé aussi, son structure.yaml ou "
            f"la configuration ont changé depuis son chargement"
        )
    chosen = sorted({*chosen, *stale}, key=lambda sy: (sy[1], sy[0]))
    if not chosen and not vanished:
        for notice in summary.notices:
            progress(notice)
        progress(
            f"Aucune partition à exécuter sous {raw_dir} "
            f"(dossiers attendus : raw/<STRUCTURE>/<ANNÉE>/)."
        )
        return summary
    if new_key and years:
        raise ValueError("--new-key recharge toutes les années d'une structure : retirez --year")
    instance = instance or instance_for_run()
    for reclaimed in reclaim_dead_runs(instance):
        summary.notices.append(f"Reprise après un arrêt brutal : {reclaimed.describe()}")
        progress(summary.notices[-1])
    register_partitions(instance, [*found, *vanished])
    resources = default_resources(
        url=url,
        raw_dir=raw_dir,
        run_date=run_date,
        new_key_structures=sorted({s for s, _ in chosen}) if new_key else None,
    )
    try:
        target: dg.Definitions | CeleryTarget = definitions_for(resources)
        if executor == "celery":
            from pipelines.distributed import setup_problems

            problems = setup_problems(instance, url)
            if problems:
                summary.publication_error = "exécution sur Celery impossible : " + " ; ".join(
                    problems
                )
                progress(f"ÉCHEC : {summary.publication_error}")
                return summary
            target = CeleryTarget(
                Path(raw_dir), url, run_date, sorted({s for s, _ in chosen}) if new_key else None
            )
        _run_planned(
            summary,
            plan_runs(chosen, found, Publication.ONCE, vanished),
            instance,
            target,
            progress,
            catalogue_current,
        )
    except (RunInterrupted, KeyboardInterrupt):
        summary.interrupted = True
        progress(
            "Interrompu (Ctrl+C ou SIGTERM) : les partitions suivantes ne sont pas "
            "lancées, la publication n'a pas lieu ; relancez la même commande."
        )
    _fill_counts(summary, url, [(o.structure, o.year) for o in summary.outcomes if o.success])
    summary.seconds = time.perf_counter() - started
    return summary


def _run_planned(
    summary: RunSummary,
    runs: list[PlannedRun],
    instance: dg.DagsterInstance,
    definitions: dg.Definitions | CeleryTarget,
    progress: Callable[[str], None],
    catalogue_current: bool = False,
) -> None:
    """The catalogue (unless the warehouse already holds it as it is now), then the planned
    runs in order: the partitions, the next years' trends, the publication (of the last
    partition that succeeded)."""
    if catalogue_current:
        catalogue = None
    else:
        catalogue = execute(CATALOGUE, instance, definitions, progress)
    if catalogue is not None and not catalogue.success:
        summary.publication_error = f"catalogue des indicateurs : {_error_of(catalogue)}"
        progress(f"ÉCHEC : {summary.publication_error}")
        return
    loads = [r for r in runs if r.purpose == "ingest"]
    for run in runs:
        if run.purpose == "removal":
            assert run.partition is not None
            structure, year = run.partition
            removed = execute(run, instance, definitions, progress)
            if removed.success:
                summary.removed.append(run.partition)
                progress(
                    f"{structure} {year} : retiré de l'entrepôt (son dossier "
                    f"raw/{structure}/{year}/ a disparu)"
                )
            else:
                summary.outcomes.append(
                    PartitionOutcome(structure, year, False, 0.0, _error_of(removed))
                )
                progress(f"{structure} {year} : ÉCHEC du retrait : {_error_of(removed)}")
        elif run.purpose == "ingest":
            assert run.partition is not None
            structure, year = run.partition
            n = len(summary.outcomes) + 1
            progress(f"[{n}/{len(loads)}] {structure} {year} : lecture, validation, calcul…")
            outcome = _load(run, instance, definitions, progress)
            summary.outcomes.append(outcome)
            state = "terminé" if outcome.success else f"ÉCHEC : {outcome.error}"
            memory = f", {outcome.peak_mib:,.0f} Mio" if outcome.peak_mib else ""
            progress(
                f"[{n}/{len(loads)}] {structure} {year} : {state} ({outcome.seconds:.1f} s{memory})"
            )
        elif run.purpose == "next-year":
            assert run.partition is not None
            structure, year = run.partition
            refreshed = execute(run, instance, definitions, progress)
            progress(
                f"{structure} {year} : évolutions recalculées par rapport à {year - 1}"
                if refreshed.success
                else f"{structure} {year} : ÉCHEC du recalcul des évolutions : "
                f"{_error_of(refreshed)}"
            )
        else:  # the publication, once
            succeeded = [(o.structure, o.year) for o in summary.outcomes if o.success]
            # nothing new to publish when every load failed (a failing partition's layers
            # stay in the working file, for investigation) and nothing was removed
            last = (
                succeeded[-1] if succeeded else (summary.removed[-1] if summary.removed else None)
            )
            if last is None:
                continue
            published = execute(run, instance, definitions, progress, partition=last)
            if published.success:
                progress("Entrepôt des analystes publié.")
            else:
                summary.publication_error = f"publication : {_error_of(published)}"
                progress(f"ÉCHEC : {summary.publication_error}")


def _warehouse_state(url: str | None) -> tuple[set[tuple[str, int]], bool]:
    """The partitions the working warehouse holds rows of (none before its first run), and
    whether its catalogue and dictionary are current (one opening of the warehouse)."""
    wh = Warehouse(url)
    try:
        try:
            held = partitions_held(wh)
        except sa.exc.SQLAlchemyError:  # no table yet
            return set(), False
        return held, catalogue_is_current(wh)
    finally:
        wh.dispose()


def _case_twin(structure: str, found: list[tuple[str, int]]) -> list[str]:
    """Codes are compared exactly: a folder spelt with other capitals is another structure."""
    twins = sorted({s for s, _ in found if s != structure and s.lower() == structure.lower()})
    return [
        f"raw/{twin}/ ne diffère de {structure} que par les majuscules : les codes de "
        f"structure sont comparés exactement, {structure} est retiré de l'entrepôt et "
        f"{twin} chargé comme une autre structure ; renommez le dossier en {structure} "
        f"si c'est la même"
        for twin in twins
    ]


def _fill_counts(summary: RunSummary, url: str | None, done: list[tuple[str, int]]) -> None:
    if not done:
        return
    wh = Warehouse(url)
    try:
        with wh.transaction() as conn:
            files = wh.read_frame(
                conn, "SELECT structure, year, rows_read, rows_loaded FROM ingested_files"
            )
            rejects = wh.read_frame(conn, "SELECT structure, year, value, reason FROM quarantine")
    finally:
        wh.dispose()
    keys = set(done)

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        mask = [(s, int(y)) in keys for s, y in zip(frame["structure"], frame["year"], strict=True)]
        return frame[mask]

    files, rejects = mine(files), mine(rejects)
    summary.rows_read = int(files["rows_read"].sum())
    summary.rows_loaded = int(files["rows_loaded"].sum())
    if not rejects.empty:
        generic = [
            generic_reason(r, v) for v, r in zip(rejects["value"], rejects["reason"], strict=True)
        ]
        summary.rejected_by_reason = {
            str(reason): int(n) for reason, n in pd.Series(generic).value_counts().items()
        }
        for reason, value in zip(generic, rejects["value"], strict=True):
            examples = summary.reason_examples.setdefault(reason, [])
            if isinstance(value, str) and value and value not in examples and len(examples) < 3:
                examples.append(value[:40])


def format_summary(summary: RunSummary) -> str:
    lines = ["", "Résumé"]
    ok = [o for o in summary.outcomes if o.success]
    lines.append(
        f"  partitions : {len(ok)} terminée(s), {len(summary.failed)} en échec "
        f"({summary.seconds:.1f} s)"
    )
    lines.append(
        f"  lignes lues : {summary.rows_read:,} ; chargées : {summary.rows_loaded:,}".replace(
            ",", " "
        )
    )
    if summary.rejected_by_reason:
        total = sum(summary.rejected_by_reason.values())
        lines.append(f"  cellules en quarantaine : {total} (table `quarantine`), par motif :")
        for reason, n in summary.rejected_by_reason.items():
            examples = summary.reason_examples.get(reason)
            seen = f" (exemple de valeur refusée : « {examples[0]} »)" if examples else ""
            lines.append(f"    {n:>6} ligne{'s' if n > 1 else ''} : {reason}{seen}")
    for structure, year in summary.removed:
        lines.append(
            f"  retiré {structure} {year} : son dossier raw/{structure}/{year}/ a disparu "
            f"(supprimé ou renommé) ; ses lignes ont quitté toutes les couches de "
            f"l'entrepôt"
        )
    for notice in summary.notices:
        lines.append(f"  {notice}")
    warnings = [(o, w) for o in summary.outcomes for w in o.warnings]
    if warnings:
        lines.append(f"  avertissements : {len(warnings)}")
        for o, w in warnings[:20]:
            lines.append(f"    {o.structure} {o.year} : {w}")
        if len(warnings) > 20:
            lines.append(f"    … et {len(warnings) - 20} autres (journaux des runs Dagster)")
    for o in summary.failed:
        lines.append(f"  ÉCHEC {o.structure} {o.year} : {o.error}")
    if summary.publication_error:
        lines.append(f"  ÉCHEC {summary.publication_error}")
    if summary.interrupted:
        lines.append(
            "  INTERROMPU : le run a été arrêté (Ctrl+C ou SIGTERM) avant sa fin ; "
            "relancez la même commande"
        )
    return "\n".join(lines)
