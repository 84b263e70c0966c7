#!/usr/bin/env bash
# Start one Celery worker that executes the steps of the project's runs
# (pipelines/distributed.py, docs/scaling.md). Start as many as you like, on as many machines,
# each with its own name:
#
#   scripts/celery-worker.sh NAME [celery worker options...]
#   e.g. scripts/celery-worker.sh w1 --concurrency=2
#
# Environment (the same on every machine, and for the process that launches the runs):
#   DAGSTER_HOME        folder of a dagster.yaml whose storage is PostgreSQL (required: every
#                       worker writes the run's events there; see deploy/celery/dagster.yaml)
#   WAREHOUSE_URL       the PostgreSQL warehouse, postgresql+psycopg://user@host/db (a run
#                       started with another URL passes it to the steps; put a password in
#                       PGPASSWORD or ~/.pgpass rather than in the URL)
#   WAREHOUSE_PSEUDONYM_KEY or WAREHOUSE_PSEUDONYM_KEY_FILE   the pseudonymisation key, the
#                       same as the launching side's (docs/operations.md): a worker without
#                       it fails the partitions of real exports
#   OBSERVATOIRE_RAW_DIR  the drop zone raw/ as this machine sees it (a shared folder: the
#                       staging step reads the files there); a run may pass its own
#   OBSERVATOIRE_CELERY_CONFIG (default config/celery.yaml), OBSERVATOIRE_CELERY_BROKER,
#   OBSERVATOIRE_CELERY_BACKEND  the broker, as for the launching side
#
# Restart the workers after every deployment: they keep the code they imported.
# SIGTERM stops the worker once its current step is done (Celery's warm shutdown).
set -euo pipefail
name=${1:?"usage: $0 NAME [celery worker options...] (a name unique on this machine)"}
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${DAGSTER_HOME:?DAGSTER_HOME must name the folder of a dagster.yaml with PostgreSQL storage}"
bin="$here/.venv/bin"
[ -x "$bin/celery" ] || bin=$(dirname "$(command -v celery)")
# The broker settings the runs use, written where dagster_celery.app looks for them.
config_dir=$(mktemp -d "${TMPDIR:-/tmp}/observatoire-celery.XXXXXX")
trap 'rm -rf "$config_dir"' EXIT
(cd "$here" && "$bin/python" -W ignore -m pipelines.distributed worker-config "$config_dir" >/dev/null)
export PYTHONPATH="$config_dir${PYTHONPATH:+:$PYTHONPATH}"
# This process executes other processes' runs' steps: it must not record itself as the
# process of those runs (pipelines/recovery.py, record_process).
export OBSERVATOIRE_STEP_WORKER=celery
# Prefetch 1: a worker takes one step at a time, the others stay in the queue for the other
# workers (dagster-celery's own `worker start` sets the same).
cd "$here"
"$bin/celery" -A dagster_celery.app worker --prefetch-multiplier=1 -n "$name@%h" \
  --loglevel "${CELERY_LOGLEVEL:-INFO}" "$@" &
worker=$!
# Pass SIGTERM/SIGINT on to the worker and wait for its warm shutdown (the trap above then
# removes the settings folder).
trap 'kill -TERM "$worker" 2>/dev/null || true' TERM INT
wait "$worker" || wait "$worker"
