"""The deployment files of deploy/ cannot rot: each is checked as far as it can be here.

deploy/kubernetes/dagster.yaml is on paper (no cluster on these machines): every section is
validated against Dagster's instance schema and against its class's own schema (the
K8sRunLauncher of dagster-k8s, the run coordinator, the PostgreSQL storage), and the
instance it describes, its run launcher left out, is opened on a real PostgreSQL database.
deploy/celery/dagster.yaml runs for real in tests/test_celery.py; here, its schema.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer

from pipelines.config import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
INSTANCE_FILES = [DEPLOY / "kubernetes" / "dagster.yaml", DEPLOY / "celery" / "dagster.yaml"]


def _environment(monkeypatch: pytest.MonkeyPatch, url: str = "postgresql://u@db:5432/d") -> None:
    """What the pods' environment would hold (from the ConfigMap and the Secrets)."""
    parsed = sa.make_url(url)
    for key, value in {
        "DAGSTER_PG_USER": parsed.username or "postgres",
        "DAGSTER_PG_PASSWORD": parsed.password or "",
        "DAGSTER_PG_HOST": parsed.host or "127.0.0.1",
        "DAGSTER_PG_DB": parsed.database or "",
        "OBSERVATOIRE_IMAGE": "registry.example/observatoire:1.0",
    }.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("path", INSTANCE_FILES, ids=lambda p: p.parent.name)
def test_deploy_instance_configuration_is_valid(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _environment(monkeypatch)
    shutil.copy(path, tmp_path / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    assert set(config["storage"]) == {"postgres"}
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    # the classes the file names exist, and their config passes their own schema (the
    # instance schema takes any mapping there)
    for section in ("run_launcher", "run_coordinator"):
        if section not in config:
            continue
        data = config[section]
        cls = class_from_code_pointer(data["module"], data["class"])
        checked = process_config(cls.config_type(), data.get("config") or {})
        assert checked.success, (section, [e.message for e in checked.errors or []])
    from dagster_postgres import DagsterPostgresStorage

    checked = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert checked.success, [e.message for e in checked.errors or []]


def test_deploy_kubernetes_launcher_takes_the_key_from_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pseudonymisation key reaches the run pods from a Secret, never as a value."""
    from dagster_k8s import K8sRunLauncher

    _environment(monkeypatch)
    text = (DEPLOY / "kubernetes" / "dagster.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)["run_launcher"]
    assert class_from_code_pointer(config["module"], config["class"]) is K8sRunLauncher
    launcher = process_config(K8sRunLauncher.config_type(), config["config"]).value
    assert "observatoire-pseudonym-key" in launcher["env_secrets"]
    assert not any(
        v.startswith(("WAREHOUSE_PSEUDONYM_KEY", "WAREHOUSE_URL", "PGPASSWORD"))
        for v in launcher.get("env_vars") or []
    )
    assert launcher["job_image"] == "registry.example/observatoire:1.0"
    assert "WAREHOUSE_PSEUDONYM_KEY=" not in text


def test_deploy_kubernetes_instance_opens_on_postgresql(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instance as the pods load it, on a real database; only the run launcher, which
    needs a cluster, is left out (Dagster's default one instead)."""
    _environment(monkeypatch, postgres_url)
    document = yaml.safe_load((DEPLOY / "kubernetes" / "dagster.yaml").read_text())
    document.pop("run_launcher")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(document))
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.event_log_storage.supports_global_concurrency_limits
        instance.add_dynamic_partitions("structure", ["TST"])
        assert instance.get_dynamic_partitions("structure") == ["TST"]
        limits = instance.get_concurrency_config()
        assert limits.pool_config.default_pool_limit == 8
    finally:
        instance.dispose()
