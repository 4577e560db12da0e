#!/usr/bin/env bash
# Tools, release build and models: what both the main job and the tests start with.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# scripts/test.sh asks for the suite's `prepared` feature here: it gates only
# tests, but any feature changes the library's build, and building the release
# with it once lets `cargo test --release --features prepared` reuse it.
cargo build --release --quiet ${CARGO_FEATURES:+--features "$CARGO_FEATURES"}
"${CARGO_TARGET_DIR:-target}/release/creative-filter" models fetch
