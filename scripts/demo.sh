#!/usr/bin/env bash
# The newcomer's command: install what casetime needs, start it on this machine in embedded mode
# (no Kafka, no PostgreSQL), post a year of a synthetic council and print the KPI scorecard.
#   scripts/demo.sh            leave the services running afterwards (Ctrl-C stops them)
#   scripts/demo.sh --once     exit after the scorecard
# Other options: see `uv run casetime demo --help`.
set -euo pipefail
COMPONENT=demo
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$REPO_ROOT"
"$SCRIPTS_DIR/bootstrap.sh"
# embedded mode is what runs when no Kafka or PostgreSQL is configured
unset CASETIME_KAFKA_BOOTSTRAP_SERVERS CASETIME_DATABASE_URL
exec "$REPO_ROOT/.venv/bin/casetime" demo "$@"
