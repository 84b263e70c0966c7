"""Shared fixtures: real warehouses (DuckDB always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from pipelines.runner import run_partitions

# Real exports need a private pseudonymisation key (pipelines/pseudonym.py): the tests' drop
# zones are not declared synthetic, so the suite runs with a random key of its own, which the
# Dagster and command-line processes it starts inherit. Tests of a missing key remove it.
os.environ.setdefault("WAREHOUSE_PSEUDONYM_KEY", f"cle-des-tests-{secrets.token_hex(16)}")

PG_ADMIN_URL = os.environ.get(
    "OBSERVATOIRE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RUN_DATE = "2026-01-06"


def _postgres_reason() -> str | None:
    """None when the PostgreSQL server answers, else why the tests are skipped."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: skip, and say why
        return (
            f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0]}"
        )


PG_SKIP = _postgres_reason()

# `unit` / `e2e` (pyproject.toml): `make test-fast` runs the unit tests, `make test` both.
# End to end: a module that runs Dagster, subprocesses, Celery, PostgreSQL or the demo, or
# fuzzes for minutes (test_fuzz); any other test using one of E2E_FIXTURES is one too.
E2E_MODULES = {
    "test_anomalies",
    "test_bad_inputs",
    "test_celery",
    "test_cli",
    "test_crashes",
    "test_demo",
    "test_disk_full",
    "test_fuzz",
    "test_hostile_files",
    "test_indicators",
    "test_keys",
    "test_lifecycle",
    "test_operations",
    "test_pipeline",
    "test_postgres_readers",
    "test_print",
    "test_report",
    "test_safe_outputs",
    "test_scale",
    "test_ui",
    "test_views",
}
E2E_FIXTURES = {"run", "demo_warehouse", "postgres_url", "warehouse_url"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        fixtures = set(getattr(item, "fixturenames", ()))
        end_to_end = module in E2E_MODULES or bool(fixtures & E2E_FIXTURES)
        item.add_marker(pytest.mark.e2e if end_to_end else pytest.mark.unit)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    name = f"observatoire_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        sa.create_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs on DuckDB, then on PostgreSQL (skipped when unreachable)."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def run(tmp_path: Path):
    """Run the real pipeline (Dagster assets, in-process, ephemeral instance)."""
    instance = dg.DagsterInstance.ephemeral()

    def _run(raw: Path, url: str, **kwargs):
        return run_partitions(
            raw_dir=raw,
            url=url,
            run_date=kwargs.pop("run_date", RUN_DATE),
            instance=instance,
            progress=lambda _msg: None,
            **kwargs,
        )

    return _run


def query(url: str, sql: str, **params) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(sql), params).mappings().all()]
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The seeded demo drop zone (MNO 2024 and 2025) run once for the whole session:
    (published warehouse URL, folder)."""
    from demo.generate import write_demo

    root = tmp_path_factory.mktemp("demo")
    write_demo(root / "raw")
    url = f"duckdb:///{root / 'observatoire.duckdb'}"
    summary = run_partitions(
        root / "raw",
        url=url,
        run_date=RUN_DATE,
        instance=dg.DagsterInstance.ephemeral(),
        progress=lambda _m: None,
    )
    assert not summary.failed, summary.failed
    return url, root
