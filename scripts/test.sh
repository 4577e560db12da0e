#!/usr/bin/env bash
# The whole test suite: installs tools, prepares the models and the test data
# (cached after the first run), runs every test, and checks the library
# builds for the browser (wasm32).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/prepare.sh
scripts/fetch-test-data.sh
cargo test --release
cargo build --release --lib --target wasm32-unknown-unknown --no-default-features --quiet
echo "wasm32 library build: ok"
