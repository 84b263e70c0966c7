#!/usr/bin/env bash
# The Dagster UI on this project: `dagster dev` with the project's instance (.dagster_home:
# run history, schedules, sensors, the "warehouse" concurrency pool) and workspace.yaml.
#   scripts/dagster-dev.sh                        # http://127.0.0.1:3000
#   OBSERVATOIRE_AUTOMATION=on scripts/dagster-dev.sh   # sensor and nightly schedule on
# Extra arguments go to `dagster dev` (e.g. -p 3001). See docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
# `dagster dev` says it is superseded by `dg dev` (dagster-dg-cli, not a dependency): quiet.
export PYTHONWARNINGS="ignore:Function \`dev_command\` is superseded${PYTHONWARNINGS:+,$PYTHONWARNINGS}"
exec .venv/bin/dagster dev -w workspace.yaml "$@"
