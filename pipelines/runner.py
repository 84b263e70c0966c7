"""Materialise partitions with the Dagster assets (used by the command line).

`workers=1`: every partition in this process, one after the other: Dagster's fixed cost is
paid once (`dagster.materialize()` ≈0.15 s per call after the first, against ≈5 s per CLI
call). `workers=N`: N worker processes, each materialising whole structures (a structure's
years in order, since a year's trends read the year before); their reading and validation
run side by side, their warehouse steps take turns on a DuckDB file (pipelines/warehouse.py,
the writer lock). The catalogue before, the next years' trends and the publication after,
run here.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from pipelines.config import PROJECT_ROOT
from pipelines.jobs import NEXT_YEAR_ASSETS, PARTITIONED, PUBLISHED, UNPARTITIONED
from pipelines.partitions import (
    discover_partitions,
    drop_zone_warnings,
    partition_key,
    register_partitions,
)
from pipelines.recovery import PROCESS_TAG, pool_holders, reclaim_dead_runs, this_process
from pipelines.resources import default_resources
from pipelines.validate import generic_reason
from pipelines.warehouse import THREADS_VARIABLE, Warehouse

DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
# The analysts' copy is published once, after every partition of the run: publishing per
# partition copies the whole file each time (quadratic over a region's partitions).
PUBLICATION = dg.AssetSelection.assets(PUBLISHED)
PER_PARTITION = PARTITIONED - PUBLICATION


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
        return bool(self.outcomes) and not self.failed and not self.publication_error \
            and not self.interrupted


class RunInterrupted(Exception):
    """SIGINT or SIGTERM reached a run: the partitions after it are not started."""


def instance_for_run(ephemeral: bool = False) -> dg.DagsterInstance:
    """The project's persistent instance ($DAGSTER_HOME, default .dagster_home/)."""
    if ephemeral:
        return dg.DagsterInstance.ephemeral()
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DAGSTER_HOME)))
    home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


def _assets() -> list:
    from pipelines.definitions import defs  # late import: keeps `--help` fast

    return list(defs.assets or [])


_DISK_FULL = ("No space left on device", "Disk quota exceeded", "[Errno 28]", "[Errno 122]")


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    return any(event.is_step_failure and event.step_failure_data
               and event.step_failure_data.error is not None
               and "DagsterExecutionInterruptedError" in event.step_failure_data.error.cls_name
               for event in result.all_events)


def _error_of(result: dg.ExecuteInProcessResult) -> str:
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
    return "the run failed (see the Dagster logs)"


def disk_full_message(message: str) -> str:
    """An engine's "No space left on device" told as what it means and what to do."""
    if any(mark in message for mark in _DISK_FULL):
        return ("disque plein : l'écriture dans l'entrepôt de travail a échoué, rien n'a été "
                "publié et l'entrepôt publié garde son état précédent ; libérez de la place "
                f"(`df -h`) puis relancez [{message.splitlines()[0][:200]}]")
    return message


def _materialize(assets: list, instance: dg.DagsterInstance, progress: Callable[[str], None],
                 **kwargs) -> dg.ExecuteInProcessResult:
    """`dg.materialize` once the `warehouse` pool has a free slot, this process named on the
    run. Dagster's own wait for a slot (in-process executor) answers no signal and spins a
    core: the wait happens here instead, where SIGINT/SIGTERM stop it at once, and a run
    whose process died is given up instead of waited for."""
    _wait_for_pool(instance, progress)
    tags = {**kwargs.pop("tags", {}), PROCESS_TAG: this_process()}
    result = dg.materialize(assets, instance=instance, tags=tags, run_config=QUIET,
                            **kwargs)
    if not result.success and _interrupted(result):
        raise RunInterrupted
    return result


def _wait_for_pool(instance: dg.DagsterInstance, progress: Callable[[str], None],
                   poll_seconds: float = 1.0) -> None:
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
            progress("En attente de l'entrepôt, tenu par le(s) run(s) "
                     f"{', '.join(h[:8] for h in holders)} (en cours dans un autre processus, "
                     "voir l'interface Dagster) ; Ctrl+C pour abandonner.")
        time.sleep(poll_seconds)


# Dagster's own warnings about the steps a failure skipped: the failure says it all.
_CONSEQUENCES = ("Dependencies for step ",)


def _warnings_of(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The warnings the assets logged (skipped files, unknown values counted as Non
    renseigné...), in order, once each."""
    seen: dict[str, None] = {}
    for entry in instance.all_logs(run_id):
        if entry.dagster_event is None and entry.level >= logging.WARNING \
                and not entry.user_message.startswith(_CONSEQUENCES):
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


@dataclass
class _PartitionRunner:
    """What it takes to materialise one partition: built once per process."""

    assets: list
    resources: dict
    instance: dg.DagsterInstance
    progress: Callable[[str], None] = field(default=lambda _m: None)

    def run(self, structure: str, year: int) -> PartitionOutcome:
        reset = _reset_peak_memory()
        t0 = time.perf_counter()
        result = _materialize(self.assets, self.instance, self.progress,
                              selection=PER_PARTITION, resources=self.resources,
                              partition_key=partition_key(structure, year),
                              raise_on_error=False)
        return PartitionOutcome(structure, year, result.success, time.perf_counter() - t0,
                                None if result.success else _error_of(result),
                                _warnings_of(self.instance, result.run_id),
                                _peak_memory_mib() if reset else None)


_WORKER: _PartitionRunner | None = None


def duckdb_threads_per_worker(workers: int) -> int:
    """DuckDB threads for each of `workers` processes: the cores shared out between them."""
    return max(1, (os.cpu_count() or 1) // workers)


def _start_worker(ephemeral: bool, dagster_home: str | None, found: list[tuple[str, int]],
                  url: str | None, raw_dir: Path, run_date: str | None,
                  setup: Callable[[], None] | None, duckdb_threads: int) -> None:
    """A worker process's own Dagster instance (the same history as the parent's, or its own
    in-memory one), resources and assets, and its share of the cores for DuckDB."""
    global _WORKER
    os.environ.setdefault(THREADS_VARIABLE, str(duckdb_threads))
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    if dagster_home:
        os.environ["DAGSTER_HOME"] = dagster_home
    instance = dg.DagsterInstance.ephemeral() if ephemeral else dg.DagsterInstance.get()
    if ephemeral:
        register_partitions(instance, found)
    if setup is not None:
        setup()
    _WORKER = _PartitionRunner(_assets(), default_resources(url=url, raw_dir=raw_dir,
                                                            run_date=run_date), instance)


def _run_in_worker(structure: str, year: int) -> PartitionOutcome:
    assert _WORKER is not None, "worker not started"
    return _WORKER.run(structure, year)


def run_partitions(
    raw_dir: Path,
    url: str | None = None,
    structures: list[str] | None = None,
    years: list[int] | None = None,
    run_date: str | None = None,
    instance: dg.DagsterInstance | None = None,
    progress: Callable[[str], None] = print,
    workers: int = 1,
    worker_setup: Callable[[], None] | None = None,
    new_key: bool = False,
) -> RunSummary:
    """Materialise every discovered partition (or those named); a failing partition does not
    stop the others. `workers` > 1 runs structures in that many processes (`worker_setup`, a
    module-level function, is called in each one first: the benchmark's timers). `new_key`:
    the structures of the run are reloaded whole with the current pseudonymisation key."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    started = time.perf_counter()
    found = discover_partitions(raw_dir)
    chosen = [(s, y) for s, y in found
              if (not structures or s in structures) and (not years or y in years)]
    summary = RunSummary(notices=[f"Dépôt : {w}" for w in drop_zone_warnings(Path(raw_dir))])
    if not chosen:
        progress(f"No partition to run under {raw_dir} "
                 f"(expected folders raw/<STRUCTURE>/<YEAR>/).")
        return summary
    if new_key and years:
        raise ValueError("--new-key reloads every year of a structure: leave out --year")
    instance = instance or instance_for_run()
    for reclaimed in reclaim_dead_runs(instance):
        summary.notices.append(f"Reprise après un arrêt brutal : {reclaimed.describe()}")
        progress(summary.notices[-1])
    register_partitions(instance, found)
    resources = default_resources(
        url=url, raw_dir=raw_dir, run_date=run_date,
        new_key_structures=sorted({s for s, _ in chosen}) if new_key else None)
    assets = _assets()
    try:
        _run_chosen(summary, chosen, found, assets, resources, instance, url, Path(raw_dir),
                    run_date, progress, workers, worker_setup)
    except (RunInterrupted, KeyboardInterrupt):
        summary.interrupted = True
        progress("Interrompu (Ctrl+C ou SIGTERM) : les partitions suivantes ne sont pas "
                 "lancées, la publication n'a pas lieu ; relancez la même commande.")
    _fill_counts(summary, url, [(o.structure, o.year) for o in summary.outcomes if o.success])
    summary.seconds = time.perf_counter() - started
    return summary


def _run_chosen(summary: RunSummary, chosen: list[tuple[str, int]],
                found: list[tuple[str, int]], assets: list, resources: dict,
                instance: dg.DagsterInstance, url: str | None, raw_dir: Path,
                run_date: str | None, progress: Callable[[str], None], workers: int,
                worker_setup: Callable[[], None] | None) -> None:
    """The catalogue, the partitions, the next years' trends, then one publication."""
    catalogue = _materialize(assets, instance, progress, selection=UNPARTITIONED,
                             resources=resources, raise_on_error=False)
    if not catalogue.success:
        summary.publication_error = f"catalogue des indicateurs : {_error_of(catalogue)}"
        progress(f"FAILED: {summary.publication_error}")
        return
    # Refresh the next year's trends when its previous year changes.
    followers = [(s, y + 1) for s, y in chosen if (s, y + 1) in found and (s, y + 1) not in chosen]
    next_year = dg.AssetSelection.assets(*NEXT_YEAR_ASSETS) - PUBLICATION

    def done(outcome: PartitionOutcome) -> None:
        summary.outcomes.append(outcome)
        state = "done" if outcome.success else f"FAILED: {outcome.error}"
        memory = f", {outcome.peak_mib:,.0f} MiB" if outcome.peak_mib else ""
        progress(f"[{len(summary.outcomes)}/{len(chosen)}] {outcome.structure} {outcome.year}: "
                 f"{state} ({outcome.seconds:.1f} s{memory})")

    by_structure: dict[str, deque[int]] = {}
    for structure, year in chosen:
        by_structure.setdefault(structure, deque()).append(year)
    workers = max(1, min(workers, len(by_structure)))
    if workers == 1:
        runner = _PartitionRunner(assets, resources, instance, progress)
        for i, (structure, year) in enumerate(chosen, start=1):
            progress(f"[{i}/{len(chosen)}] {structure} {year}: reading, validating, counting…")
            done(runner.run(structure, year))
    else:
        progress(f"{len(chosen)} partitions of {len(by_structure)} structures in {workers} "
                 f"processes…")
        _run_in_pool(by_structure, workers, done, (
            instance.is_ephemeral, os.environ.get("DAGSTER_HOME"), found, url, raw_dir,
            run_date, worker_setup, duckdb_threads_per_worker(workers)))
    for structure, year in followers:
        _materialize(assets, instance, progress, selection=next_year, resources=resources,
                     partition_key=partition_key(structure, year), raise_on_error=False)
        progress(f"{structure} {year}: trends refreshed against {year - 1}")
    succeeded = [o for o in summary.outcomes if o.success]
    if succeeded:
        published = _materialize(assets, instance, progress, selection=PUBLICATION,
                                 resources=resources, raise_on_error=False,
                                 partition_key=partition_key(succeeded[-1].structure,
                                                             succeeded[-1].year))
        if published.success:
            progress("Published the warehouse analysts read.")
        else:
            summary.publication_error = f"publication : {_error_of(published)}"
            progress(f"FAILED: {summary.publication_error}")


def _run_in_pool(by_structure: dict[str, deque[int]], workers: int,
                 done: Callable[[PartitionOutcome], None], worker_args: tuple) -> None:
    """Each structure's years one after the other, structures side by side. Worker processes
    are started fresh (spawn): a fork would copy this process's DuckDB and Dagster threads."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=worker_args) as pool:
        pending: dict[Future, tuple[str, int]] = {}

        def submit(structure: str) -> None:
            if by_structure[structure]:
                year = by_structure[structure].popleft()
                pending[pool.submit(_run_in_worker, structure, year)] = (structure, year)

        for structure in by_structure:
            submit(structure)
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                structure, year = pending.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker process itself died
                    outcome = PartitionOutcome(structure, year, False, 0.0,
                                               f"worker process failed: {exc}")
                done(outcome)
                submit(structure)


def _fill_counts(summary: RunSummary, url: str | None, done: list[tuple[str, int]]) -> None:
    if not done:
        return
    wh = Warehouse(url)
    try:
        with wh.transaction() as conn:
            files = wh.read_frame(conn, "SELECT structure, year, rows_read, rows_loaded "
                                        "FROM ingested_files")
            rejects = wh.read_frame(conn, "SELECT structure, year, value, reason FROM quarantine")
    finally:
        wh.dispose()
    keys = set(done)

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        mask = [(s, int(y)) in keys for s, y in zip(frame["structure"], frame["year"],
                                                    strict=True)]
        return frame[mask]

    files, rejects = mine(files), mine(rejects)
    summary.rows_read = int(files["rows_read"].sum())
    summary.rows_loaded = int(files["rows_loaded"].sum())
    if not rejects.empty:
        generic = [generic_reason(r, v)
                   for v, r in zip(rejects["value"], rejects["reason"], strict=True)]
        summary.rejected_by_reason = pd.Series(generic).value_counts().to_dict()
        for reason, value in zip(generic, rejects["value"], strict=True):
            examples = summary.reason_examples.setdefault(reason, [])
            if isinstance(value, str) and value and value not in examples and len(examples) < 3:
                examples.append(value[:40])


def format_summary(summary: RunSummary) -> str:
    lines = ["", "Summary"]
    ok = [o for o in summary.outcomes if o.success]
    lines.append(f"  partitions: {len(ok)} done, {len(summary.failed)} failed "
                 f"({summary.seconds:.1f} s)")
    lines.append(f"  rows read: {summary.rows_read:,}, loaded: {summary.rows_loaded:,}"
                 .replace(",", " "))
    if summary.rejected_by_reason:
        total = sum(summary.rejected_by_reason.values())
        lines.append(f"  quarantined cells: {total} (table `quarantine`), by reason:")
        for reason, n in summary.rejected_by_reason.items():
            examples = summary.reason_examples.get(reason)
            seen = f" (e.g. {', '.join(repr(e) for e in examples)})" if examples else ""
            lines.append(f"    {n:>6}  {reason}{seen}")
    for notice in summary.notices:
        lines.append(f"  {notice}")
    warnings = [(o, w) for o in summary.outcomes for w in o.warnings]
    if warnings:
        lines.append(f"  warnings: {len(warnings)}")
        for o, w in warnings[:20]:
            lines.append(f"    {o.structure} {o.year}: {w}")
        if len(warnings) > 20:
            lines.append(f"    … and {len(warnings) - 20} more (Dagster run logs)")
    for o in summary.failed:
        lines.append(f"  FAILED {o.structure} {o.year}: {o.error}")
    if summary.publication_error:
        lines.append(f"  FAILED {summary.publication_error}")
    if summary.interrupted:
        lines.append("  INTERRUPTED: the run was stopped (Ctrl+C or SIGTERM) before its end; "
                     "run the same command again")
    return "\n".join(lines)
