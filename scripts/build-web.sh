#!/usr/bin/env bash
# Builds the page into dist/ with trunk (release, wasm-opt from npm's
# binaryen) and stages the prepared models beside it. Needs scripts/setup.sh
# and the models (scripts/prepare.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
# trunk builds offline: the browser-only crates must be downloaded first
# (a native build fetches only the host's).
cargo fetch --target wasm32-unknown-unknown --quiet
trunk --skip-version-check build --release --offline
