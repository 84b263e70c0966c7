"""The project's jobs on Celery workers: the same assets, Dagster's Celery executor.

`pipelines.definitions` runs every step of a run in one process (in-process executor). Here
the same assets and the same jobs (`integrer_partition`, `publier_catalogue`) get
`dagster_celery`'s executor: the process that starts a run only plans it and waits, each
step is a Celery task that a worker (scripts/celery-worker.sh) executes. What it needs:

- Dagster's instance storage in PostgreSQL (every worker writes the run's events there);
- the warehouse in PostgreSQL (every worker writes it; a DuckDB file has one writer);
- the broker of config/celery.yaml (RabbitMQ), the same for the workers and this side.

Steps hand each other nothing but the warehouse: any step can run on any worker. Load the
location with `dagster dev -m pipelines.distributed` or call the functions below
(`observatoire run --executor celery`). docs/scaling.md tells the deployment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster_celery import celery_executor

from pipelines.config import PROJECT_ROOT, celery_settings
from pipelines.jobs import catalogue_job, ingest_job
from pipelines.partitions import partition_key, partitions_def, register_partitions
from pipelines.recovery import PROCESS_TAG, this_process

CONFIG_VARIABLE = "OBSERVATOIRE_CELERY_CONFIG"
BROKER_VARIABLE = "OBSERVATOIRE_CELERY_BROKER"
BACKEND_VARIABLE = "OBSERVATOIRE_CELERY_BACKEND"
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "celery.yaml"
INGEST_JOB = ingest_job.name
CATALOGUE_JOB = catalogue_job.name
# the console logger of the launching side: errors only
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_VARIABLE) or DEFAULT_CONFIG)


def executor_config() -> dict[str, Any]:
    """The Celery executor's configuration: config/celery.yaml (or $OBSERVATOIRE_CELERY_CONFIG),
    its broker and backend replaced by $OBSERVATOIRE_CELERY_BROKER / _BACKEND when set. The
    workers read the same (`python -m pipelines.distributed worker-config`)."""
    config = celery_settings(config_path())
    if broker := os.environ.get(BROKER_VARIABLE, "").strip():
        config["broker"] = broker
    if backend := os.environ.get(BACKEND_VARIABLE, "").strip():
        config["backend"] = backend
    return config


def _definitions() -> dg.Definitions:
    from pipelines.definitions import defs as embedded

    # The embedded location's assets, checks, jobs and resources; only the executor
    # changes. Its configuration is read here, so runs launched from the UI need none.
    return dg.Definitions(
        assets=embedded.assets,
        asset_checks=embedded.asset_checks,
        jobs=embedded.jobs,
        resources=embedded.resources,
        executor=celery_executor.configured(executor_config(), name="celery"),
    )


defs = _definitions()


def reconstructable_job(job_name: str) -> ReconstructableJob:
    """A job of this location as the workers rebuild it: by importing this module (the
    pointer `dagster job execute -m pipelines.distributed -j JOB` makes)."""
    repository = ReconstructableRepository.for_module(
        __name__, "defs", working_directory=str(PROJECT_ROOT)
    )
    return repository.get_reconstructable_job(job_name)


def answering_workers(seconds: float = 2.0) -> list[str]:
    """The names of the Celery workers that answer a ping on the configured broker within
    `seconds`. Raises OSError-like errors (kombu's OperationalError) when the broker cannot
    be reached."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app

    app = make_app(CeleryExecutor.for_cli(**executor_config()).app_args())
    try:
        replies = app.control.ping(timeout=seconds) or []
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)


def setup_problems(instance: dg.DagsterInstance, url: str | None) -> list[str]:
    """What keeps runs on Celery from working, in French, for the command line to print
    before it starts anything: an instance or a warehouse the workers cannot share, a
    broker out of reach, no worker listening. Empty when all is ready."""
    from kombu.utils.url import maybe_sanitize_url

    from pipelines.warehouse import resolve_url

    problems = []
    if instance.is_ephemeral or "Postgres" not in type(instance.run_storage).__name__:
        problems.append(
            "l'instance Dagster doit être en PostgreSQL (les workers y écrivent "
            "les événements des étapes) : DAGSTER_HOME doit désigner un dossier "
            "contenant deploy/celery/dagster.yaml, et pas --no-history"
        )
    if sa.make_url(resolve_url(url)).get_backend_name() != "postgresql":
        problems.append(
            "l'entrepôt doit être en PostgreSQL (--warehouse ou WAREHOUSE_URL) : "
            "un fichier DuckDB n'a qu'un écrivain, sur une seule machine"
        )
    broker = maybe_sanitize_url(str(executor_config().get("broker")))
    try:
        if not answering_workers():
            problems.append(
                f"aucun worker Celery ne répond sur {broker} : démarrez-en avec "
                f"scripts/celery-worker.sh NOM (docs/scaling.md)"
            )
    except Exception as exc:  # kombu's errors for a broker out of reach vary by transport
        problems.append(
            f"le broker Celery {broker} est injoignable ({exc}) : démarrez "
            f"RabbitMQ, ou corrigez {config_path()} / {BROKER_VARIABLE}"
        )
    return problems


def _run_config(
    raw_dir: Path | None,
    url: str | None,
    run_date: str | None,
    new_key_structures: list[str] | None,
) -> dict[str, Any]:
    """What the steps need from the launching side, in the run's config (so the UI shows
    it): the warehouse, the drop zone, the day of the run. Unset values fall back on the
    workers' environment (WAREHOUSE_URL, OBSERVATOIRE_RAW_DIR)."""
    drop_zone: dict[str, Any] = {}
    if raw_dir is not None:
        drop_zone["raw_dir"] = str(Path(raw_dir).resolve())
    if run_date is not None:
        drop_zone["run_date"] = run_date
    if new_key_structures:
        drop_zone["new_key_structures"] = list(new_key_structures)
    resources: dict[str, Any] = {"drop_zone": {"config": drop_zone}}
    if url is not None:
        resources["warehouse"] = {"config": {"url": url}}
    # the steps' logs go to the workers' output and the instance; here, errors only
    return {"resources": resources, **QUIET}


def _error_of(result: dg.JobExecutionResult) -> str:
    """The first step failure's message, else the run failure's (a worker error reported by
    the executor), else a pointer to the logs."""
    run_failure = None
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            user = event.step_failure_data.user_failure_data
            if user and user.description:
                return user.description
            error = event.step_failure_data.error
            if error is not None:
                return (error.cause or error).message.strip()
        if event.is_run_failure and run_failure is None:
            run_failure = event.message
    return run_failure or "le run a échoué (voir les journaux Dagster et ceux des workers)"


def run_on_celery(
    job_name: str,
    partition: tuple[str, int] | None,
    *,
    instance: dg.DagsterInstance,
    raw_dir: Path | None,
    url: str | None,
    run_date: str | None,
    asset_selection: list[dg.AssetKey] | None = None,
    tags: dict[str, str] | None = None,
    new_key_structures: list[str] | None = None,
) -> tuple[bool, str, str | None]:
    """Run one named job of this location (on one partition, or none), its steps on the
    Celery workers; wait for its end here: (success, run id, error or None, the error naming
    the partition). Blocks: one run at a time per process (Dagster's run set-up is not
    thread-safe: two runs in two threads of one process deadlock in its logging set-up)."""
    if instance.is_ephemeral:
        raise ValueError(
            "les workers Celery écrivent les événements du run dans l'instance "
            "Dagster : il faut une instance persistante en PostgreSQL "
            "(DAGSTER_HOME, voir deploy/celery/dagster.yaml)"
        )
    # the process that runs the run is this one (the workers run its steps): a later run
    # finding it dead marks the run failed (pipelines/recovery.py)
    run_tags = {**(tags or {}), PROCESS_TAG: this_process()}
    if partition is not None:
        register_partitions(instance, [partition])
        run_tags.update(partitions_def.get_tags_for_partition_key(str(partition_key(*partition))))
    result = dg.execute_job(
        reconstructable_job(job_name),
        instance,
        run_config=_run_config(raw_dir, url, run_date, new_key_structures),
        tags=run_tags,
        asset_selection=asset_selection,
    )
    if result.success:
        return True, result.run_id, None
    where = f"{partition[0]} {partition[1]}" if partition else job_name
    return False, result.run_id, f"{where} : {_error_of(result)}"


def run_partition_on_celery(
    structure: str,
    year: int,
    *,
    instance: dg.DagsterInstance,
    raw_dir: Path,
    url: str,
    run_date: str | None,
    asset_selection: list[dg.AssetKey] | None = None,
    tags: dict[str, str] | None = None,
    job_name: str = INGEST_JOB,
    new_key_structures: list[str] | None = None,
) -> tuple[bool, str, str | None]:
    """A partition's run (`integrer_partition` unless told, every partitioned asset unless
    `asset_selection`) on the Celery workers: (success, run id, error naming the
    partition)."""
    return run_on_celery(
        job_name,
        (structure, year),
        instance=instance,
        raw_dir=raw_dir,
        url=url,
        run_date=run_date,
        asset_selection=asset_selection,
        tags=tags,
        new_key_structures=new_key_structures,
    )


def run_catalogue_on_celery(
    *,
    instance: dg.DagsterInstance,
    raw_dir: Path,
    url: str,
    run_date: str | None,
    tags: dict[str, str] | None = None,
) -> tuple[bool, str, str | None]:
    """`publier_catalogue` (the indicator catalogue, the data dictionary) on the workers."""
    return run_on_celery(
        CATALOGUE_JOB,
        None,
        instance=instance,
        raw_dir=raw_dir,
        url=url,
        run_date=run_date,
        tags=tags,
    )


def write_worker_config(folder: Path) -> Path:
    """Write `dagster_celery_config.py`, the module `dagster_celery.app` loads at a worker's
    start, from `executor_config()`: workers and runs then name the same broker."""
    from dagster._config import post_process_config, validate_config

    config_type = celery_executor.config_schema.config_type
    assert config_type is not None  # the Celery executor declares its configuration
    value = executor_config()
    if not validate_config(config_type, value).success:
        raise ValueError(f"{config_path()} : configuration Celery invalide")
    config = post_process_config(config_type, value).value or {}
    lines = [f"broker_url = {config['broker']!r}"] if config.get("broker") else []
    if config.get("backend"):
        lines.append(f"result_backend = {config['backend']!r}")
    lines += [f"{key} = {val!r}" for key, val in (config.get("config_source") or {}).items()]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "dagster_celery_config.py"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "worker-config":
        print(write_worker_config(Path(sys.argv[2])))
    else:
        sys.exit("usage: python -m pipelines.distributed worker-config FOLDER")
