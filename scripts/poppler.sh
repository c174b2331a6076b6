#!/usr/bin/env bash
# Installs Debian's poppler-utils (pdftoppm, pdftotext, pdfinfo): the tests render the board
# pack's PDF to pictures and read its text.
#
#   scripts/poppler.sh install
set -euo pipefail

COMPONENT=poppler
# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

case ${1:-} in
    install) ensure_debian_package poppler-utils "pdftoppm -v" pdftoppm pdftotext pdfinfo ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
esac
