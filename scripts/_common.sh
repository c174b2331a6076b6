# shellcheck shell=bash
# Shared helpers for scripts/{kafka,postgres,prometheus,infra}.sh. Sourced, not run.
#
# Layout (all overridable through the environment):
#   CASETIME_STATE_DIR  runtime state: configs, data, logs, pid files (default <repo>/.casetime)
#   CASETIME_CACHE_DIR  downloaded jars, kept across resets and clones (default ~/.cache/casetime)

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPTS_DIR/.." && pwd)"
# shellcheck disable=SC2034  # used by the scripts that source this file
STATE_DIR="${CASETIME_STATE_DIR:-$REPO_ROOT/.casetime}"
# Absolute, because it ends up in server.properties and pid checks.
[[ $STATE_DIR == /* ]] || STATE_DIR="$PWD/$STATE_DIR"
# shellcheck disable=SC2034
CACHE_DIR="${CASETIME_CACHE_DIR:-${HOME:-/root}/.cache/casetime}"

# One line per action, prefixed with the component name ($COMPONENT is set by the caller).
log() { printf '%s: %s\n' "${COMPONENT:-casetime}" "$*"; }
die() { printf '%s: ERROR: %s\n' "${COMPONENT:-casetime}" "$*" >&2; exit 1; }

# Millisecond clock for "started in 2.3s" messages.
now_ms() { date +%s%3N; }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%ds' $((ms / 1000)) $(((ms % 1000) / 100)); }

# True if something accepts TCP connections on host:port. Pure bash (/dev/tcp) so it
# needs no nc/python; `timeout` guards against a filtered port hanging the connect.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# True if $1 is a live pid whose command line contains $2 (guards against pid reuse
# after a reboot or a crash leaving a stale pid file).
pid_matches() {
    local pid=$1 needle=$2
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle"
}

# Serialise concurrent invocations (e.g. parallel test sessions calling `start`) on a
# lock file; released automatically when the script exits. $1: lock file, $2: fd.
take_lock() {
    local file=$1 fd=${2:-9}
    mkdir -p "$(dirname "$file")"
    eval "exec $fd>\"\$file\""
    flock -w 120 "$fd" || die "timed out waiting for lock $file"
}

# apt-get install without letting package scripts start daemons: Debian's postinst calls
# invoke-rc.d, which honours /usr/sbin/policy-rc.d exiting 101 ("action forbidden").
# Without this, installing postgresql-15 or prometheus on a sysvinit box would start
# system-wide servers on their default ports.
apt_install_no_daemons() {
    [[ $EUID -eq 0 ]] || die "need root to apt-get install $*"
    command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
    local policy=/usr/sbin/policy-rc.d backup=""
    if [[ -e $policy ]]; then
        backup="$(mktemp)"
        cp -p "$policy" "$backup"
    fi
    # shellcheck disable=SC2064  # expand now: restore exactly this backup
    trap "if [[ -n '$backup' ]]; then mv -f '$backup' '$policy'; else rm -f '$policy'; fi" EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    export DEBIAN_FRONTEND=noninteractive
    # apt's chatter (and debconf's "delaying package configuration") goes to a log that
    # is shown only on failure.
    local apt_log
    apt_log="$(mktemp)"
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2
        rm -f "$apt_log"
        die "apt-get install $* failed"
    fi
    rm -f "$apt_log"
    if [[ -n $backup ]]; then mv -f "$backup" "$policy"; else rm -f "$policy"; fi
    trap - EXIT
}

# ensure_debian_package PACKAGE "VERSION COMMAND" COMMAND...: apt-get install PACKAGE (no
# daemons started) unless every COMMAND is already on PATH; quick when it is.
ensure_debian_package() {
    local package=$1 version=$2
    shift 2
    local missing=0 command
    for command in "$@"; do
        command -v "$command" >/dev/null || missing=1
    done
    if [[ $missing == 0 ]]; then
        log "already installed ($($version 2>&1 | grep -v "^/" | head -n 1))"
        return 0
    fi
    local t0
    t0=$(now_ms)
    log "installing $package with apt-get"
    apt_install_no_daemons "$package"
    for command in "$@"; do
        command -v "$command" >/dev/null || die "$package installed but $command is not on PATH"
    done
    log "installed $($version 2>&1 | grep -v "^/" | head -n 1) ($(elapsed "$t0"))"
}
