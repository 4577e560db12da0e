#!/usr/bin/env bash
# The int8 kernels' WebAssembly paths in headless Chromium, once per build
# flavour of the page: `+simd128` (the portable module) and
# `+simd128,+relaxed-simd` (the fast one). Only tests/wasm_kernels.rs runs,
# built without the native-only `cli` feature.
#
# Needs: rustup target wasm32-unknown-unknown, wasm-bindgen-cli 0.2.130
# (wasm-bindgen-test-runner), chromium and chromedriver.
set -euo pipefail
die() { echo "test-wasm-kernels: error: $*" >&2; exit 1; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v wasm-bindgen-test-runner >/dev/null || die "wasm-bindgen-test-runner missing: cargo install wasm-bindgen-cli --version 0.2.130"
CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || true)}"
[[ -x "$CHROMEDRIVER" ]] || die "chromedriver missing: apt-get install chromium chromium-driver"
export CHROMEDRIVER
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
BASE="${CARGO_TARGET_DIR:-$ROOT/target}"
for features in "+simd128" "+simd128,+relaxed-simd"; do
    echo "test-wasm-kernels: target-feature=$features"
    # RUSTFLAGS replaces .cargo/config.toml's flags for the target; a target
    # dir per flavour keeps each build incremental.
    CARGO_TARGET_DIR="$BASE/wasm-kernels-${features//[+,]/}" RUSTFLAGS="-C target-feature=$features" \
        cargo test --target wasm32-unknown-unknown --no-default-features --test wasm_kernels
done
