#!/usr/bin/env bash
# Installs Debian's Prometheus (prometheus + promtool) for tests that check alert/recording
# rules with `promtool` or run a throwaway `prometheus` on loopback themselves.
# Install only: no daemon is started, now or by the package (see apt_install_no_daemons).
#
#   scripts/prometheus.sh install
set -euo pipefail

COMPONENT=prometheus
# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

cmd_install() {
    if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
        log "already installed ($(promtool --version 2>&1 | head -n 1))"
        return 0
    fi
    local t0
    t0=$(now_ms)
    log "installing prometheus with apt-get"
    # --no-install-recommends (in the helper) also keeps out prometheus-node-exporter,
    # which would be another daemon.
    apt_install_no_daemons prometheus
    command -v promtool >/dev/null || die "prometheus installed but promtool is not on PATH"
    log "installed $(promtool --version 2>&1 | head -n 1) ($(elapsed "$t0"))"
}

case ${1:-} in
    install) cmd_install ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
esac
