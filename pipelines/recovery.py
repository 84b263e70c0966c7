"""Runs whose process died: found, marked failed, what they held given back.

A run killed with SIGKILL (or a machine that lost power) stays STARTED in Dagster's history
and keeps its claim on the `warehouse` pool: the next run would wait for that slot forever,
and the daemon would count it as in progress and start no queued run. So every run records
which process executes it (`PROCESS_TAG`: host, boot, pid and the pid's start time, so a
recycled pid is not taken for the dead process), and:

- the daemon's run monitoring asks `ObservatoireRunLauncher.check_run_worker_health`, which
  answers FAILED for a run whose process is gone (the instance's `run_launcher`, see
  `.dagster_home/dagster.yaml`); Dagster then marks it failed and frees its slots
  (`free_slots_after_run_end_seconds`);
- the command line, which needs no daemon, calls `reclaim_dead_runs` before it starts.

A process on another machine cannot be checked from here: such runs are left to Dagster
(its `max_runtime_seconds`, or an operator in the UI).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

PROCESS_TAG = "observatoire/process"
STEP_WORKER_VARIABLE = "OBSERVATOIRE_STEP_WORKER"  # set by scripts/celery-worker.sh
WAREHOUSE_POOL = "warehouse"
# Statuses of a run that holds, or may hold, a process.
_ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "?"


def _start_ticks(pid: int) -> str | None:
    """The process's start time since boot (field 22 of /proc/PID/stat), None when no such
    process. The command name (field 2) may hold spaces and parentheses: split after it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> str:
    """The identity recorded on a run: `host|boot id|pid|start ticks`."""
    pid = os.getpid()
    return f"{socket.gethostname()}|{_boot_id()}|{pid}|{_start_ticks(pid) or '?'}"


class ProcessState(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"  # another machine, or no identity recorded


def process_state(identity: str | None) -> ProcessState:
    if not identity:
        return ProcessState.UNKNOWN
    try:
        host, boot, pid, ticks = identity.split("|")
    except ValueError:
        return ProcessState.UNKNOWN
    if host != socket.gethostname():
        return ProcessState.UNKNOWN
    if boot != _boot_id():  # the machine restarted since: every process of then is gone
        return ProcessState.DEAD
    if not pid.isdigit() or _start_ticks(int(pid)) != ticks:
        return ProcessState.DEAD
    return ProcessState.ALIVE


def run_state(run: dg.DagsterRun) -> ProcessState:
    return process_state(run.tags.get(PROCESS_TAG))


def record_process(instance: dg.DagsterInstance | None, run_id: str | None) -> None:
    """Tag a run with the process executing it (called at a run's start, in its process)."""
    if instance is None or run_id is None or instance.is_ephemeral:
        return
    if os.environ.get(STEP_WORKER_VARIABLE):
        # a Celery worker runs only steps: the run's process is the one that launched it
        return
    run = instance.get_run_by_id(run_id)
    identity = this_process()
    if run is not None and run.tags.get(PROCESS_TAG) != identity:
        instance.add_run_tags(run_id, {PROCESS_TAG: identity})


@dataclass(frozen=True)
class Reclaimed:
    run_id: str
    job_name: str
    partition: str | None
    held_slots: bool

    def describe(self) -> str:
        where = f" ({self.partition.replace('|', ' ')})" if self.partition else ""
        freed = " ; sa place dans l'entrepôt est libérée" if self.held_slots else ""
        return (
            f"le run {self.run_id[:8]}{where}, dont le processus a disparu (arrêté de "
            f"force, ou machine redémarrée), est marqué en échec{freed}. Relancez sa "
            f"partition si ce run ne la recharge pas."
        )


def reclaim_dead_runs(instance: dg.DagsterInstance) -> list[Reclaimed]:
    """Mark failed every run of this machine whose process is gone, and free the pool slots
    of every finished run that still holds some (a run killed before Dagster could)."""
    if instance.is_ephemeral:
        return []
    out: list[Reclaimed] = []
    storage = instance.event_log_storage
    pools = storage.supports_global_concurrency_limits
    holders = set(storage.get_concurrency_run_ids()) if pools else set()
    for record in instance.get_run_records(dg.RunsFilter(statuses=_ACTIVE)):
        run = record.dagster_run
        if run_state(run) is not ProcessState.DEAD:
            continue
        instance.report_run_failed(
            run,
            "Processus du run disparu (arrêté de force, ou machine redémarrée) : "
            "run marqué en échec par Observatoire, ses places libérées.",
        )
        out.append(
            Reclaimed(
                run.run_id, run.job_name, run.tags.get("dagster/partition"), run.run_id in holders
            )
        )
    if holders:
        # finished runs (the ones just marked failed among them) give their slots back;
        # a run unknown to the history (deleted) holds nothing either
        known = {
            r.dagster_run.run_id: r.dagster_run
            for r in instance.get_run_records(dg.RunsFilter(run_ids=sorted(holders)))
        }
        for run_id in holders:
            holder = known.get(run_id)
            if holder is None or holder.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
    return out


def pool_holders(instance: dg.DagsterInstance, pool: str = WAREHOUSE_POOL) -> tuple[int, list[str]]:
    """(free slots, run ids holding the others) of a Dagster pool."""
    storage = instance.event_log_storage
    if instance.is_ephemeral or not storage.supports_global_concurrency_limits:
        return 1, []
    info = storage.get_concurrency_info(pool)
    holders = sorted(info.active_run_ids)
    if info.limit is None:  # no limit on this pool
        return 1, holders
    return max(0, info.limit - len(info.claimed_slots)), holders


PAUSE_VARIABLE = "OBSERVATOIRE_PAUSE_AT"


def pause_point(name: str) -> None:
    """Fault-injection for the crash tests (as Dagster's own DebugCrashFlags): with
    $OBSERVATOIRE_PAUSE_AT=`name`:`file`, write `file` and wait there, so that a test kills
    the process at that exact point. Does nothing otherwise."""
    wanted = os.environ.get(PAUSE_VARIABLE, "")
    if not wanted.startswith(f"{name}:"):
        return
    Path(wanted.split(":", 1)[1]).write_text(str(os.getpid()))
    time.sleep(120)


class ObservatoireRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher, plus a health check its run monitoring can ask: a run
    whose recorded process is gone has failed."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        state = run_state(run)
        if state is ProcessState.DEAD:
            return CheckRunHealthResult(WorkerStatus.FAILED, "le processus du run a disparu")
        # alive, another machine, or not yet tagged (a run just starting): never fail it
        return CheckRunHealthResult(WorkerStatus.RUNNING)
