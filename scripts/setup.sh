#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine, skipping
# what is already there: lavapipe (the GPU tests without a GPU), libtesseract (on-screen text), cmake (libopus), ffmpeg (reference decoder for tests), Festival's
# Russian voice (generated test creatives), Chromium (browser tests), the
# wasm32 target, a pinned nightly Rust (the page's threaded module), trunk
# and wasm-bindgen-cli (the page's build) and the npm
# packages (wasm-opt, Playwright).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v text2wave >/dev/null || need+=(festival)
[ -d /usr/share/festival/voices/russian ] || need+=(festvox-ru)
command -v python3 >/dev/null || need+=(python3 python3-pip)
command -v chromium >/dev/null || need+=(chromium)
# libopus (native Opus decoding) is built from its bundled source with cmake.
command -v cmake >/dev/null || need+=(cmake)
# The int8 kernels' ARM paths, checked under qemu-user (scripts/test-neon-kernels.sh).
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
# On-screen text: libtesseract natively (its models come from `models
# fetch`), the tesseract command (the benchmark's peer) and the fonts of the
# generated screen-text set.
[ -e /usr/include/tesseract/capi.h ] || need+=(libtesseract-dev)
command -v tesseract >/dev/null || need+=(tesseract-ocr)
# The GPU backend's tests where there is no GPU: lavapipe, Mesa's Vulkan on the CPU.
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || need+=(fonts-liberation)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
# The page's threaded module: a pinned nightly with std's source (build-std).
source scripts/web-toolchain.sh
rustup toolchain list | grep -q "^$NIGHTLY" ||
  rustup toolchain install "$NIGHTLY" --profile minimal --component rust-src --target wasm32-unknown-unknown
# Versions pinned to match Trunk.toml's [tools] and the wasm-bindgen crate.
# trunk 0.22 needs a newer rustc than this machine's stable.
trunk --version 2>/dev/null | grep -q ' 0.21.14' || cargo install --quiet --locked trunk --version 0.21.14
# Not --locked: its lock file names a webpki-roots version the index no longer has.
wasm-bindgen --version 2>/dev/null | grep -q ' 0.2.130' || cargo install --quiet wasm-bindgen-cli --version 0.2.130
[ -x node_modules/.bin/wasm-opt ] && [ -d node_modules/playwright-core ] && [ -d node_modules/tesseract.js-core ] && [ -d node_modules/axe-core ] && [ -x node_modules/.bin/tsc ] || npm install --no-audit --no-fund --silent
