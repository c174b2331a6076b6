#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; it
# cannot download its own browser builds on this network).
#
#   scripts/chromium.sh install
set -euo pipefail

COMPONENT=chromium
# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

case ${1:-} in
    install) ensure_debian_package chromium "chromium --version" chromium ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
esac
