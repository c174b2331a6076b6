#!/usr/bin/env bash
# Install everything and run casetime on this machine: Kafka and PostgreSQL on loopback, then
# the three ingest services and the KPI service. Ctrl-C stops the services (Kafka and
# PostgreSQL keep running; `scripts/infra.sh down` stops them).
#   scripts/run.sh            run in the foreground
#   scripts/run.sh stop       stop services started by a detached run
#   DETACH=1 scripts/run.sh   start and return
set -euo pipefail
COMPONENT=run
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$REPO_ROOT"

LOG_DIR="$STATE_DIR/logs"
PID_DIR="$STATE_DIR/pids"
declare -A PORTS=([referrals]=8001 [assessments]=8002 [placements]=8003 [kpi]=8004)
SERVICES=(referrals assessments placements kpi)

stop_services() {
    for name in "${SERVICES[@]}"; do
        local pid_file="$PID_DIR/$name.pid"
        [[ -f $pid_file ]] || continue
        local pid
        pid=$(cat "$pid_file")
        if pid_matches "$pid" "-m $name"; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -KILL "$pid" 2>/dev/null || true
            log "stopped $name"
        fi
        rm -f "$pid_file"
    done
}

if [[ "${1:-}" == stop ]]; then
    stop_services
    exit 0
fi

started=$(now_ms)
"$SCRIPTS_DIR/bootstrap.sh"
"$SCRIPTS_DIR/infra.sh" up
mkdir -p "$LOG_DIR" "$PID_DIR"
stop_services

export CASETIME_KAFKA_BOOTSTRAP_SERVERS="${CASETIME_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-19092}}"
export CASETIME_DATABASE_URL="${CASETIME_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:${PGPORT:-15432}/${PGDATABASE:-casetime}}"
for name in "${SERVICES[@]}"; do
    CASETIME_PORT="${PORTS[$name]}" nohup "$REPO_ROOT/.venv/bin/python" -m "$name" \
        >>"$LOG_DIR/$name.log" 2>&1 &
    echo $! >"$PID_DIR/$name.pid"
done
ready() {
    "$REPO_ROOT/.venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$1', timeout=2)" \
        >/dev/null 2>&1
}
for name in "${SERVICES[@]}"; do
    url="http://127.0.0.1:${PORTS[$name]}/readyz"
    for _ in $(seq 1 150); do
        ready "$url" && break
        pid_matches "$(cat "$PID_DIR/$name.pid")" "-m $name" \
            || die "$name exited; see $LOG_DIR/$name.log: $(tail -5 "$LOG_DIR/$name.log")"
        sleep 0.2
    done
    ready "$url" || die "$name not ready after 30s; see $LOG_DIR/$name.log"
done

log "casetime is up in $(elapsed "$started"):"
for name in "${SERVICES[@]}"; do
    log "  $name  http://127.0.0.1:${PORTS[$name]}  (OpenAPI: /docs, logs: $LOG_DIR/$name.log)"
done
log "  KPIs   http://127.0.0.1:8004/metrics/  and  http://127.0.0.1:8004/kpis"
[[ "${DETACH:-0}" == 1 ]] && exit 0
trap 'stop_services; exit 0' INT TERM
log "Ctrl-C stops the services"
while true; do sleep 3600 & wait $!; done
