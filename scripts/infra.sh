#!/usr/bin/env bash
# Brings the local infrastructure (Kafka + PostgreSQL on loopback) up or down.
#
#   scripts/infra.sh up       install (if needed) and start both; idempotent
#   scripts/infra.sh down     stop both (data is kept; use kafka.sh/postgres.sh reset to wipe)
#   scripts/infra.sh status   exit 0 only if both are running
#   scripts/infra.sh env      print export lines for the services (eval "$(scripts/infra.sh env)")
set -euo pipefail

COMPONENT=infra
# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

kafka() { "$SCRIPTS_DIR/kafka.sh" "$@"; }
postgres() { "$SCRIPTS_DIR/postgres.sh" "$@"; }

case ${1:-} in
    up)
        kafka install
        postgres install
        # PostgreSQL first: it is ready in about a second, Kafka takes several.
        postgres start
        kafka start
        ;;
    down)
        # Stop both even if the first fails, then report.
        rc=0
        kafka stop || rc=$?
        postgres stop || rc=$?
        exit "$rc"
        ;;
    status)
        rc=0
        kafka status || rc=$?
        postgres status || rc=$?
        exit "$rc"
        ;;
    env)
        echo "export CASETIME_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:${KAFKA_PORT:-19092}"
        echo "export CASETIME_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:${PGPORT:-15432}/${PGDATABASE:-casetime}"
        ;;
    *)
        echo "usage: $0 up|down|status|env" >&2
        exit 2
        ;;
esac
