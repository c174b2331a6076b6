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

# --no-install-recommends (in the helper) also keeps out prometheus-node-exporter, which would be
# another daemon.
case ${1:-} in
    install) ensure_debian_package prometheus "promtool --version" promtool prometheus ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
esac
