#!/usr/bin/env bash
# Install everything and run every check: lint, types, and the whole test suite against the
# real Kafka and PostgreSQL (started here, stopped afterwards unless KEEP_INFRA=1).
#   scripts/test.sh [pytest args...]
set -euo pipefail
COMPONENT="test"
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$REPO_ROOT"
started=$(now_ms)

"$SCRIPTS_DIR/bootstrap.sh"
export CASETIME_PG_FAST=1
"$SCRIPTS_DIR/infra.sh" up
"$SCRIPTS_DIR/prometheus.sh" install
"$SCRIPTS_DIR/chromium.sh" install
"$SCRIPTS_DIR/poppler.sh" install
if [[ "${KEEP_INFRA:-0}" != 1 ]]; then
    trap '"$SCRIPTS_DIR/infra.sh" down' EXIT
fi

log "ruff"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
log "mypy"
uv run --frozen mypy
log "pytest"
uv run --frozen pytest --durations=15 "$@"
log "all checks passed in $(elapsed "$started")"
