#!/usr/bin/env bash
# X-CLIP per creative in the page's worker against the native CLI (bench/xclip.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prepare.sh
cargo build --release --quiet
scripts/build-web.sh
node bench/xclip.mjs "$@"
