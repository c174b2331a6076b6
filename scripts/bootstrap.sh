#!/usr/bin/env bash
# Install the Python toolchain and the workspace: uv (from PyPI when missing), then `uv sync`.
# Idempotent; a second run takes about a second.
set -euo pipefail
COMPONENT=bootstrap
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

if ! command -v uv >/dev/null 2>&1; then
    log "installing uv from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check uv
fi
cd "$REPO_ROOT"
uv sync --frozen --quiet
log "workspace ready ($(uv run --frozen python --version))"
