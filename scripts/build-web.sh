#!/usr/bin/env bash
# Builds the page into dist/ and stages the prepared models beside it. Needs
# scripts/setup.sh and the models (scripts/prepare.sh).
#
# Two modules: trunk builds the portable one (stable Rust, SIMD128, one
# thread: creative-filter.js / _bg.wasm, with the page, its scripts and the
# models); then this script builds the threaded one (nightly Rust pinned
# below, shared memory, atomics, relaxed SIMD: creative-filter-mt.js /
# _bg.wasm) with cargo, wasm-bindgen and wasm-opt into the same dist/. The
# page's worker loads the threaded one where it can (www/js/worker.js).
#
#   scripts/build-web.sh            both modules
#   WEB_THREADS=0 scripts/build-web.sh   the portable one only
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
source scripts/web-toolchain.sh
# trunk builds offline: the browser-only crates must be downloaded first
# (a native build fetches only the host's).
cargo fetch --target wasm32-unknown-unknown --quiet
trunk --skip-version-check build --release --offline
# npm's binaryen is binaryen compiled to wasm: one thread, minutes per
# module. So the portable module is optimised here (trunk's own -O3 call,
# features read from the module's target_features section) while the
# threaded module compiles, which leaves a core idle much of the time.
wasm-opt -O3 dist/creative-filter_bg.wasm -o dist/creative-filter_bg.wasm &
portable_opt=$!
if [ "${WEB_THREADS:-1}" = 0 ]; then
  wait "$portable_opt"
  exit 0
fi

target="${CARGO_TARGET_DIR:-target}/wasm-threads"
# RUSTFLAGS replaces .cargo/config.toml's flags for wasm32, so SIMD128 is
# named again. The linker makes the memory shared and imported (each pool
# worker instantiates the module on the same memory) and exports the
# thread-local-storage symbols wasm-bindgen's thread support needs. Its
# maximum is wasm32's 4 GiB, as the portable module's: address space the
# browser reserves, not memory it uses (the page takes files up to 1 GB).
flags=(
  -C target-feature=+simd128,+relaxed-simd,+atomics,+bulk-memory,+mutable-globals
  -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296
  -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size
  -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base
)
RUSTFLAGS="${flags[*]}" cargo "+$NIGHTLY" build --release --lib --no-default-features \
  --target wasm32-unknown-unknown -Z build-std=std,panic_abort --target-dir "$target" --quiet
wasm-bindgen --target web --no-typescript --out-dir dist --out-name creative-filter-mt \
  "$target/wasm32-unknown-unknown/release/creative_filter.wasm"
# npm's binaryen (as trunk uses for the portable module), told the features
# the module was built with.
wasm-opt -O3 --enable-simd --enable-relaxed-simd --enable-threads --enable-bulk-memory \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-reference-types --enable-multivalue \
  dist/creative-filter-mt_bg.wasm -o dist/creative-filter-mt_bg.wasm
wait "$portable_opt" || { echo "build-web: wasm-opt of the portable module failed" >&2; exit 1; }
