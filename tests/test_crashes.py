"""Crash-safe runs (issue 13, point 1): real `observatoire run` processes killed with SIGKILL
at several points, with run history on and the project's instance settings; the next run,
from the command line or queued under the real daemon, finishes in normal time with the
figures of a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.config import PROJECT_ROOT
from pipelines.partitions import partitions_def
from tests.conftest import RUN_DATE, query
from tests.test_operations import _default_signals, _stop
from tests.test_scale import _figures, _region

BIN = Path(sys.executable).parent
OBSERVATOIRE = BIN / "observatoire"


def _home(tmp_path: Path) -> Path:
    """A Dagster home with the project's own instance settings (pools, queue, monitoring)."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(
        (PROJECT_ROOT / ".dagster_home" / "dagster.yaml").read_text()
    )
    return home


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DAGSTER_HOME": str(home), **extra}
    env.pop("OBSERVATOIRE_PAUSE_AT", None)
    env.update(extra)
    return env


def _command(raw: Path, url: str, *more: str) -> list[str]:
    return [
        str(OBSERVATOIRE),
        "run",
        "--raw",
        str(raw),
        "--warehouse",
        url,
        "--run-date",
        RUN_DATE,
        *more,
    ]


def _start(raw: Path, url: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        _command(raw, url),
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_default_signals,
    )


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def clean_figures(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, list]:
    """The figures and trends of the region run once, cleanly, without history."""
    root = tmp_path_factory.mktemp("clean")
    raw = _region(root / "raw")
    url = f"duckdb:///{root / 'wh' / 'observatoire.duckdb'}"
    subprocess.run(_command(raw, url, "--no-history"), check=True, capture_output=True, timeout=300)
    return _figures(url, "indicator_values"), _figures(url, "indicator_trends")


@pytest.mark.parametrize("point", ["start", "staging-written", "publication"])
def test_a_killed_run_is_recovered_by_the_next(
    tmp_path: Path, point: str, clean_figures: tuple[list, list]
) -> None:
    raw = _region(tmp_path / "raw")
    url = f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}"
    home = _home(tmp_path)
    marker = tmp_path / "paused"
    log = tmp_path / "killed.log"
    pause = {} if point == "start" else {"OBSERVATOIRE_PAUSE_AT": f"{point}:{marker}"}
    if point == "publication":  # a first clean run, so that a published copy exists
        subprocess.run(
            _command(raw, url), env=_env(home), check=True, capture_output=True, timeout=300
        )
        (raw / "TST" / "2025" / "evenements.xlsx").touch()
    killed = _start(raw, url, _env(home, **pause), log)
    if point == "start":
        _wait_for(lambda: log.read_text().strip(), 120, "the first progress line")
    else:
        _wait_for(marker.exists, 120, f"the pause point {point}")
    _kill(killed)

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        stuck = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if point != "start":
            assert stuck, "the kill should leave a STARTED run, as a real crash does"
        work = tmp_path / "wh"
        if point == "publication":
            assert list(work.glob(".observatoire.duckdb.*.tmp")), "a half-published copy"

        started = time.monotonic()
        again = subprocess.run(
            _command(raw, url), env=_env(home), capture_output=True, text=True, timeout=300
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert time.monotonic() - started < 120
        if stuck:
            assert "Reprise après un arrêt brutal" in again.stdout
        assert not list(work.glob(".observatoire.duckdb.*.tmp"))
        statuses = {r.dagster_run.run_id: r.dagster_run.status for r in instance.get_run_records()}
        assert dg.DagsterRunStatus.STARTED not in statuses.values()
        for record in stuck:
            assert statuses[record.dagster_run.run_id] == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots
    finally:
        instance.dispose()
    assert (_figures(url, "indicator_values"), _figures(url, "indicator_trends")) == clean_figures


def test_a_run_waiting_for_the_warehouse_answers_sigterm(tmp_path: Path) -> None:
    """A live run holds the warehouse slot (paused inside a step); a second run waits for it,
    saying so, and stops at once on SIGTERM with its summary; once the first is killed, the
    next run goes through."""
    raw = _region(tmp_path / "raw")
    url = f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}"
    home = _home(tmp_path)
    marker = tmp_path / "paused"
    holder = _start(
        raw,
        url,
        _env(home, OBSERVATOIRE_PAUSE_AT=f"staging-written:{marker}"),
        tmp_path / "holder.log",
    )
    waiter = None
    try:
        _wait_for(marker.exists, 120, "the first run inside its step")
        waiting_log = tmp_path / "waiter.log"
        waiter = _start(raw, url, _env(home), waiting_log)
        _wait_for(
            lambda: "En attente de l'entrepôt" in waiting_log.read_text(),
            60,
            "the second run to say it waits",
        )
        assert waiter.poll() is None
        sent = time.monotonic()
        waiter.send_signal(signal.SIGTERM)
        assert waiter.wait(timeout=10) == 130
        assert time.monotonic() - sent < 5
        out = waiting_log.read_text()
        assert "INTERROMPU" in out and "Résumé" in out
    finally:
        for process in (holder, waiter):
            if process is not None and process.poll() is None:
                _kill(process)
    again = subprocess.run(
        _command(raw, url), env=_env(home), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Reprise après un arrêt brutal" in again.stdout


def test_the_daemon_starts_queued_runs_after_a_crashed_run(tmp_path: Path) -> None:
    """A command-line run killed inside a step leaves a STARTED run holding the slot; the real
    daemon's run monitoring marks it failed and frees the slot, and then starts the runs
    queued meanwhile, which succeed."""
    from pipelines.partitions import discover_partitions, partition_key, register_partitions

    raw = _region(tmp_path / "raw")
    url = f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}"
    home = _home(tmp_path)
    marker = tmp_path / "paused"
    killed = _start(
        raw,
        url,
        _env(home, OBSERVATOIRE_PAUSE_AT=f"staging-written:{marker}"),
        tmp_path / "killed.log",
    )
    _wait_for(marker.exists, 120, "the run inside its step")
    _kill(killed)
    env = _env(
        home, WAREHOUSE_URL=url, OBSERVATOIRE_RAW_DIR=str(raw), OBSERVATOIRE_RUN_DATE=RUN_DATE
    )
    instance = dg.DagsterInstance.from_config(str(home))
    log = (tmp_path / "daemon.log").open("w")
    daemon = None
    try:
        dead = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert len(dead) == 1
        register_partitions(instance, discover_partitions(raw))
        queued = [("TST", 2024), ("AUT", 2025)]
        for structure, year in queued:
            tags = {
                **partitions_def.get_tags_for_partition_key(str(partition_key(structure, year))),
                "test": "after-crash",
            }
            subprocess.run(
                [
                    str(BIN / "dagster"),
                    "job",
                    "launch",
                    "-w",
                    "workspace.yaml",
                    "-j",
                    "integrer_partition",
                    "--tags",
                    json.dumps(tags),
                ],
                cwd=PROJECT_ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )

        def finished() -> bool:
            assert daemon is not None and daemon.poll() is None, f"daemon stopped: {log.name}"
            runs = instance.get_run_records(dg.RunsFilter(tags={"test": "after-crash"}))
            return all(r.dagster_run.is_finished for r in runs)

        _wait_for(finished, 240, "the queued runs to finish")
        runs = instance.get_run_records(dg.RunsFilter(tags={"test": "after-crash"}))
        assert {r.dagster_run.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}, log.name
        dead_now = instance.get_run_by_id(dead[0].dagster_run.run_id)
        assert dead_now is not None and dead_now.status == dg.DagsterRunStatus.FAILURE
    finally:
        if daemon is not None:
            _stop(daemon)
        log.close()
        instance.dispose()
    assert {
        (r["structure"], r["year"])
        for r in query(url, "SELECT DISTINCT structure, year FROM indicator_values")
    } >= {("TST", 2024), ("AUT", 2025)}


def test_the_dead_process_is_told_from_a_live_one_and_a_recycled_pid() -> None:
    from pipelines.recovery import ProcessState, process_state, this_process

    me = this_process()
    assert process_state(me) is ProcessState.ALIVE
    host, boot, pid, ticks = me.split("|")
    assert process_state(f"{host}|{boot}|{pid}|{int(ticks) + 1}") is ProcessState.DEAD
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_state(f"{host}|{boot}|{child.pid}|{ticks}") is ProcessState.DEAD
    assert process_state(f"{host}|another-boot|{pid}|{ticks}") is ProcessState.DEAD
    assert process_state(f"another-host|{boot}|{pid}|{ticks}") is ProcessState.UNKNOWN
    assert process_state(None) is ProcessState.UNKNOWN


def test_the_project_instance_monitors_runs_with_the_health_check() -> None:
    settings = yaml.safe_load((PROJECT_ROOT / ".dagster_home" / "dagster.yaml").read_text())
    assert settings["run_launcher"]["class"] == "ObservatoireRunLauncher"
    assert settings["run_monitoring"]["enabled"] is True
