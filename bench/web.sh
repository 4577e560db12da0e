#!/usr/bin/env bash
# The page in headless Chromium against the native CLI (bench/web.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prepare.sh
scripts/fetch-test-data.sh
scripts/build-web.sh
node bench/web.mjs "$@"
