"""The project's jobs on real Celery workers (pipelines/distributed.py, docs/scaling.md).

Two worker processes (scripts/celery-worker.sh) on the machine's RabbitMQ, Dagster's instance
storage in one PostgreSQL database, the warehouse in another: every figure must equal the
embedded run's (in-process, DuckDB). A worker killed during a step: its step is re-delivered
to the other worker (acks-late), no partition is half-written, the next run proceeds.
Skipped, saying why, only when the broker or PostgreSQL cannot be reached. The workers
listen on the broker's `dagster` queue: two of these tests (or a benchmark) at once on one
broker would take each other's steps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
import sqlalchemy as sa

from pipelines.config import PROJECT_ROOT
from pipelines.distributed import executor_config
from tests.builders import write_xlsx
from tests.conftest import PG_ADMIN_URL, PG_SKIP, RUN_DATE
from tests.test_bad_inputs import BASE_EVENTS, EVENT_HEADERS
from tests.test_operations import _default_signals, _stop
from tests.test_scale import _figures, _region

TABLES = ("indicator_values", "indicator_trends")


def _broker_reason() -> str | None:
    """None when the broker of config/celery.yaml accepts a connection, else why not."""
    broker = urlsplit(executor_config()["broker"])
    host, port = broker.hostname or "127.0.0.1", broker.port or 5672
    try:
        socket.create_connection((host, port), timeout=3).close()
        return None
    except OSError as exc:
        return f"Celery broker not reachable at {host}:{port}: {exc}"


SKIP = PG_SKIP or _broker_reason()
pytestmark = [
    pytest.mark.skipif(bool(SKIP), reason=SKIP or ""),
    # dagster-celery registers its task on the app at every step submission: harmless
    pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning"),
]


@contextmanager
def _database() -> Iterator[str]:
    """A fresh PostgreSQL database (psycopg 3 URL), dropped afterwards."""
    name = f"observatoire_celery_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Cluster:
    """Dagster's instance (PostgreSQL), the warehouse (PostgreSQL), and the workers."""

    root: Path
    instance: dg.DagsterInstance
    warehouse: str
    env: dict[str, str]
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start_worker(self, name: str, **extra_env: str) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("w")
        process = subprocess.Popen(
            ["bash", str(PROJECT_ROOT / "scripts" / "celery-worker.sh"), name, "--concurrency=1"],
            cwd=PROJECT_ROOT,
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
        self.workers[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def wait_ready(self, *names: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name in names:
                if self.workers[name].poll() is not None:
                    raise AssertionError(f"worker {name} exited:\n{self.log(name)[-3000:]}")
            if all(f"{name}@" in self.log(name) and " ready." in self.log(name) for name in names):
                return
            time.sleep(0.5)
        raise AssertionError(f"workers {names} not ready after {seconds} s")


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    """The instance of deploy/celery/dagster.yaml on one fresh database, the warehouse on
    another; the workers started by the test are stopped at the end, whatever happens."""
    with _database() as dagster_db:
        home = tmp_path / "dagster_home"
        home.mkdir()
        # the deployment's own instance file, pointed at this test's database
        shutil.copy(PROJECT_ROOT / "deploy" / "celery" / "dagster.yaml", home)
        url = sa.make_url(dagster_db)
        pg = {
            "DAGSTER_PG_USER": url.username or "postgres",
            "DAGSTER_PG_PASSWORD": url.password or "",
            "DAGSTER_PG_HOST": url.host or "127.0.0.1",
            "DAGSTER_PG_DB": url.database or "",
        }
        for key, value in pg.items():
            monkeypatch.setenv(key, value)
        env = {
            **os.environ,
            **pg,
            "DAGSTER_HOME": str(home),
            "WAREHOUSE_URL": postgres_url,
            "OBSERVATOIRE_RAW_DIR": str(tmp_path / "raw"),
        }
        env.pop("OBSERVATOIRE_PAUSE_AT", None)
        instance = dg.DagsterInstance.from_config(str(home))
        cluster = Cluster(tmp_path, instance, postgres_url, env)
        try:
            yield cluster
        finally:
            for process in cluster.workers.values():
                _stop(process)
            instance.dispose()


def _run_on_workers(
    cluster: Cluster, raw: Path, structure: str, year: int
) -> tuple[bool, str, str | None]:
    from pipelines.distributed import run_partition_on_celery

    return run_partition_on_celery(
        structure,
        year,
        instance=cluster.instance,
        raw_dir=raw,
        url=cluster.warehouse,
        run_date=RUN_DATE,
        tags={"observatoire/trigger": "test"},
    )


def _workers_of(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """step key -> the Celery worker that executed it (its engine event)."""
    out = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.is_engine_event or event.step_key is None:
            continue
        worker = event.engine_event_data.metadata.get("Celery worker")
        if worker is not None:
            out[event.step_key] = str(worker.value)
    return out


def _four_partitions(raw: Path) -> Path:
    """TST and AUT, 2024 and 2025 (tests/test_scale.py's region, plus AUT 2024)."""
    _region(raw)
    shutil.copytree(raw / "TST" / "2024", raw / "AUT" / "2024")
    return raw


def test_celery_workers_give_the_embedded_figures(cluster: Cluster, tmp_path: Path, run):
    from pipelines.distributed import answering_workers, setup_problems
    from pipelines.runner import run_partitions

    raw = _four_partitions(tmp_path / "raw")
    reference = f"duckdb:///{tmp_path / 'reference.duckdb'}"
    assert not run(raw, reference).failed
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.wait_ready("w1", "w2")
    assert setup_problems(cluster.instance, cluster.warehouse) == []
    assert {"w1", "w2"} <= {name.split("@")[0] for name in answering_workers()}

    # the command line's own path: `observatoire run --executor celery`, the plan of
    # pipelines/plan.py (catalogue, partitions years ascending, publication), each run's
    # steps on the workers
    summary = run_partitions(
        raw,
        url=cluster.warehouse,
        run_date=RUN_DATE,
        instance=cluster.instance,
        executor="celery",
        progress=lambda _m: None,
    )
    assert not summary.failed and not summary.publication_error, summary
    assert [(o.structure, o.year) for o in summary.outcomes] == [
        ("AUT", 2024),
        ("TST", 2024),
        ("AUT", 2025),
        ("TST", 2025),
    ]
    executed: dict[str, str] = {}
    loads = [
        r
        for r in cluster.instance.get_runs()
        if r.job_name == "integrer_partition" and r.tags["observatoire/purpose"] == "ingest"
    ]
    assert len(loads) == 4
    for record in loads:
        assert record.tags["observatoire/trigger"] == "command_line"
        structure = record.tags["dagster/partition/structure"]
        year = record.tags["dagster/partition/year"]
        steps = _workers_of(cluster.instance, record.run_id)
        assert "staging_exports" in steps and "indicator_values" in steps, steps
        executed.update({f"{structure}{year}/{k}": w for k, w in steps.items()})
    # every step ran in a worker, and both workers took some
    assert {w.split("@")[0] for w in executed.values()} == {"w1", "w2"}, executed
    assert any(
        r[0] == "AUT" and r[1] == 2025 for r in _figures(cluster.warehouse, "indicator_trends")
    )
    for table in TABLES:
        assert _figures(cluster.warehouse, table) == _figures(reference, table), table


def test_celery_setup_problems_are_told_before_a_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """What the command line prints instead of starting runs no worker could share."""
    from pipelines.distributed import setup_problems

    monkeypatch.setenv("OBSERVATOIRE_CELERY_BROKER", "pyamqp://guest:secret@127.0.0.1:1//")
    problems = setup_problems(
        dg.DagsterInstance.ephemeral(), f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    )
    assert len(problems) == 3, problems
    assert "instance Dagster doit être en PostgreSQL" in problems[0]
    assert "entrepôt doit être en PostgreSQL" in problems[1]
    assert "injoignable" in problems[2] and "secret" not in problems[2]


_LAUNCH = """
import json, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
import dagster as dg
from pipelines.distributed import run_partition_on_celery
home, raw, url, run_date = sys.argv[1:5]
instance = dg.DagsterInstance.from_config(home)
ok, run_id, error = run_partition_on_celery("TST", 2025, instance=instance, raw_dir=Path(raw),
                                            url=url, run_date=run_date)
print(json.dumps({"ok": ok, "run_id": run_id, "error": error}))
"""


def test_celery_worker_killed_during_a_step(cluster: Cluster, tmp_path: Path, run):
    raw = _region(tmp_path / "raw")
    # the warehouse holds the partition's previous figures (loaded in-process)
    assert not run(raw, cluster.warehouse).failed
    old = {table: _figures(cluster.warehouse, table) for table in TABLES}
    # TST 2025 gets one more event: its figures change
    write_xlsx(
        raw / "TST" / "2025" / "evenements.xlsx",
        EVENT_HEADERS,
        [*BASE_EVENTS, ["E9", "1002", "06/06/2025", "Entretien individuel", None, None, None]],
    )
    reference = f"duckdb:///{tmp_path / 'reference.duckdb'}"
    assert not run(raw, reference).failed
    new = {table: _figures(reference, table) for table in TABLES}
    assert new["indicator_values"] != old["indicator_values"]

    # w1 alone takes the first step and stops right after the staging layer is written
    marker = tmp_path / "paused"
    cluster.start_worker("w1", OBSERVATOIRE_PAUSE_AT=f"staging-written:{marker}")
    cluster.wait_ready("w1")
    output = (tmp_path / "launch.log").open("w")
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _LAUNCH,
            cluster.env["DAGSTER_HOME"],
            str(raw),
            cluster.warehouse,
            RUN_DATE,
        ],
        cwd=PROJECT_ROOT,
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=output,
        start_new_session=True,
        preexec_fn=_default_signals,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            assert launcher.poll() is None, (tmp_path / "launch.log").read_text()
            time.sleep(0.3)
        assert marker.exists(), cluster.log("w1")[-3000:]
        # mid-run: staging rewritten, the figures still the previous ones, whole
        for table in TABLES:
            assert _figures(cluster.warehouse, table) == old[table], table
        # a second worker (without the pause), then w1 killed outright, mid-step
        cluster.start_worker("w2")
        cluster.wait_ready("w2")
        os.killpg(cluster.workers["w1"].pid, signal.SIGKILL)
        cluster.workers["w1"].wait()
        killed_at = time.monotonic()
        stdout, _ = launcher.communicate(timeout=180)
        result = json.loads(stdout.strip().splitlines()[-1])
    finally:
        _stop(launcher)
    seconds = time.monotonic() - killed_at
    print(f"run after the kill: {result}, {seconds:.1f} s")
    # acks-late: the step went back to the queue and w2 ran it again; had the run failed
    # instead, its message would name the partition and the figures would be the old ones
    if result["ok"]:
        steps = _workers_of(cluster.instance, result["run_id"])
        assert steps["staging_exports"].startswith("w2@"), steps
        assert {table: _figures(cluster.warehouse, table) for table in TABLES} == new
    else:
        assert "TST 2025" in result["error"], result
        assert {table: _figures(cluster.warehouse, table) for table in TABLES} == old
    assert seconds < 120, seconds

    # the next run proceeds on the remaining worker, and the figures are the embedded ones
    ok, _run_id, error = _run_on_workers(cluster, raw, "TST", 2025)
    assert ok, error
    ok, _run_id, error = _run_on_workers(cluster, raw, "AUT", 2025)
    assert ok, error
    for table in TABLES:
        assert _figures(cluster.warehouse, table) == new[table], table
