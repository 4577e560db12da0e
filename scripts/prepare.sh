#!/usr/bin/env bash
# Tools, release build and models: what both the main job and the tests start with.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet
"${CARGO_TARGET_DIR:-target}/release/creative-filter" models fetch
