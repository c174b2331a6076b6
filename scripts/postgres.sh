#!/usr/bin/env bash
# A private, throwaway PostgreSQL 15 cluster on loopback, for tests and local runs.
# Trust auth, no password: user `postgres` on 127.0.0.1:$PGPORT, database $PGDATABASE.
#
#   scripts/postgres.sh install | start | stop | status | reset
#
# Environment: PGPORT (15432), PGDATABASE (casetime), CASETIME_PG_FAST=1 (tests: fsync
# off; only read at initdb/start), CASETIME_STATE_DIR (see _common.sh).
set -euo pipefail

COMPONENT=postgres
# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

PG_BIN=/usr/lib/postgresql/15/bin
PG_HOST=127.0.0.1
PG_PORT="${PGPORT:-15432}"
PG_DB="${PGDATABASE:-casetime}"
PG_FAST="${CASETIME_PG_FAST:-0}"

# The server runs as the `postgres` OS user when we are root (postgres refuses to run as
# root), so its files must sit where that user can reach them. A repo under /root (mode
# 700) is not; then the cluster lives in /var/tmp, keyed by the state dir's path so two
# checkouts never share one.
pg_user() { if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi; }

as_pg() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_root() {
    local preferred="$STATE_DIR/postgres"
    if [[ $EUID -ne 0 ]]; then echo "$preferred"; return; fi
    mkdir -p "$STATE_DIR"
    if runuser -u postgres -- test -x "$STATE_DIR" 2>/dev/null; then
        echo "$preferred"
    else
        echo "/var/tmp/casetime-postgres-$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12)"
    fi
}

PG_ROOT="$(pg_root)"
PGDATA_DIR="$PG_ROOT/data"
SOCKET_DIR="$PG_ROOT/run"
LOG_FILE="$PG_ROOT/postgres.log"

cmd_install() {
    if [[ -x $PG_BIN/postgres && -x $PG_BIN/psql ]]; then
        log "postgresql-15 already installed ($PG_BIN)"
        return 0
    fi
    local t0
    t0=$(now_ms)
    log "installing postgresql-15 with apt-get"
    apt_install_no_daemons postgresql-15 postgresql-client-15
    [[ -x $PG_BIN/postgres ]] || die "postgresql-15 installed but $PG_BIN/postgres is missing"
    log "installed postgresql-15 ($(elapsed "$t0"))"
}

require_installed() {
    [[ -x $PG_BIN/postgres ]] || die "postgresql-15 not installed; run: $0 install"
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (it comes with the postgresql-15 package)"
    fi
}

pg_running() { [[ -f $PGDATA_DIR/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1; }

pg_ready() { "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -t 2; }

psql_admin() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres "$@"
}

init_cluster() {
    [[ -f $PGDATA_DIR/PG_VERSION ]] && return 0
    # A half-made data dir (initdb interrupted) would make initdb refuse; start clean.
    rm -rf "$PGDATA_DIR"
    mkdir -p "$PGDATA_DIR" "$SOCKET_DIR"
    chown -R "$(pg_user)": "$PG_ROOT"
    chmod 700 "$PGDATA_DIR"
    local extra=()
    # --no-sync: skip initdb's final fsync of ~40MB; fine for a throwaway test cluster.
    [[ $PG_FAST == 1 ]] && extra+=(--no-sync)
    local out
    if ! out="$(as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 "${extra[@]}" 2>&1)"; then
        printf '%s\n' "$out" >&2
        rm -rf "$PGDATA_DIR"
        die "initdb failed in $PGDATA_DIR"
    fi
    log "initialised cluster in $PGDATA_DIR"
}

ensure_database() {
    # :'db' quotes the name as an SQL literal; psql only interpolates it from stdin.
    local exists
    exists="$(psql_admin -tA -v db="$PG_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")" \
        || die "cannot query databases on $PG_HOST:$PG_PORT"
    if [[ $exists != 1 ]]; then
        psql_admin -v db="$PG_DB" <<<"CREATE DATABASE :\"db\";" >/dev/null \
            || die "CREATE DATABASE $PG_DB failed"
        log "created database $PG_DB"
    fi
}

cmd_start() {
    require_installed
    take_lock "$STATE_DIR/.postgres.lock"
    local t0
    t0=$(now_ms)
    if pg_running; then
        pg_ready || die "cluster in $PGDATA_DIR is running but not accepting connections on $PG_HOST:$PG_PORT (started with another PGPORT? run: $0 stop)"
        ensure_database
        log "already running on $PG_HOST:$PG_PORT (data $PGDATA_DIR)"
        return 0
    fi
    port_open "$PG_HOST" "$PG_PORT" && die "port $PG_HOST:$PG_PORT already in use by another process (set PGPORT)"
    init_cluster
    mkdir -p "$SOCKET_DIR"
    chown "$(pg_user)": "$SOCKET_DIR"
    # Options on the command line, not in postgresql.conf, so PGPORT and
    # CASETIME_PG_FAST apply per start without rewriting the cluster's config.
    local opts="-c listen_addresses=$PG_HOST -p $PG_PORT -c unix_socket_directories='$SOCKET_DIR'"
    # fsync=off: much faster DDL/commits, but a crash can corrupt the cluster: tests only.
    [[ $PG_FAST == 1 ]] && opts+=" -c fsync=off"
    # `9>&-`: the postmaster must not inherit our lock fd (it would hold it forever).
    if ! as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 60 -s -o "$opts" 9>&-; then
        tail -n 30 "$LOG_FILE" >&2 2>/dev/null || true
        die "pg_ctl start failed (log: $LOG_FILE)"
    fi
    for _ in $(seq 100); do pg_ready && break; sleep 0.1; done
    pg_ready || { tail -n 30 "$LOG_FILE" >&2; die "not accepting connections on $PG_HOST:$PG_PORT (log: $LOG_FILE)"; }
    ensure_database
    log "running on $PG_HOST:$PG_PORT, database $PG_DB$([[ $PG_FAST == 1 ]] && echo ', fsync=off') (ready in $(elapsed "$t0"))"
}

cmd_stop() {
    [[ -x $PG_BIN/pg_ctl ]] || { log "not installed, nothing to stop"; return 0; }
    take_lock "$STATE_DIR/.postgres.lock"
    if ! pg_running; then
        log "not running"
        return 0
    fi
    local t0
    t0=$(now_ms)
    # fast = disconnect clients and shut down cleanly; immediate only as a last resort.
    if as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 30 -s; then
        log "stopped ($(elapsed "$t0"))"
    else
        as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w -t 10 -s \
            || die "could not stop the cluster in $PGDATA_DIR"
        log "did not stop within 30s; stopped with -m immediate"
    fi
}

cmd_status() {
    if [[ -x $PG_BIN/pg_ctl ]] && pg_running && pg_ready; then
        log "running on $PG_HOST:$PG_PORT (data $PGDATA_DIR)"
        return 0
    fi
    log "stopped"
    return 1
}

cmd_reset() {
    cmd_stop
    rm -rf "$PG_ROOT"
    log "deleted cluster $PG_ROOT"
}

usage() {
    echo "usage: $0 install|start|stop|status|reset" >&2
    exit 2
}

main() {
    (( $# > 0 )) || usage
    case $1 in
        install) cmd_install ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        reset) cmd_reset ;;
        -h|--help|help) usage ;;
        *) echo "$0: unknown command '$1'" >&2; usage ;;
    esac
}

main "$@"
