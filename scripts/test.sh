#!/usr/bin/env bash
# The whole test suite: installs tools, prepares the models and the test data
# (cached after the first run), runs every Rust test, builds the page and
# runs the end-to-end test in headless Chromium.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/prepare.sh
scripts/fetch-test-data.sh
cargo test --release
scripts/test-neon-kernels.sh
scripts/build-web.sh
node tests/browser/e2e.mjs
node tests/browser/dashboard.mjs
node tests/browser/vision.mjs
node tests/browser/formats.mjs
node tests/browser/hostile.mjs
