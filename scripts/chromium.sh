#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; it
# cannot download its own browser builds on this network).
#
#   scripts/chromium.sh install
set -euo pipefail

COMPONENT=chromium
# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

cmd_install() {
    if command -v chromium >/dev/null; then
        log "already installed ($(chromium --version 2>/dev/null | head -n 1))"
        return 0
    fi
    local t0
    t0=$(now_ms)
    log "installing chromium with apt-get"
    apt_install_no_daemons chromium
    command -v chromium >/dev/null || die "chromium installed but not on PATH"
    log "installed $(chromium --version 2>/dev/null | head -n 1) ($(elapsed "$t0"))"
}

case ${1:-} in
    install) cmd_install ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
esac
