#!/usr/bin/env bash
# On-screen text on creatives with known text and no speech
# (scripts/make-screen-set.py): character error rate, segments right and
# seconds per creative, beside the tesseract command-line tool reading
# every sampled frame (bench/screen_peer.py), measured in the same run.
#
#   bench/screen.sh          the CLI against the tesseract command
#   bench/screen.sh --web    the CLI against the page (bench/screen-web.mjs)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prepare.sh
cargo build --release --quiet
python3 scripts/make-screen-set.py tests/data/screen
if [ "${1:-}" = --web ]; then
  scripts/build-web.sh
  exec node bench/screen-web.mjs
fi
command -v tesseract >/dev/null || { echo "bench/screen.sh: needs the tesseract command (apt-get install tesseract-ocr)" >&2; exit 1; }
peer="$(mktemp)"
trap 'rm -f "$peer"' EXIT
python3 bench/screen_peer.py tests/data/screen models > "$peer"
"${CARGO_TARGET_DIR:-target}/release/creative-filter" --no-cache bench screen --set tests/data/screen --peer "$peer" \
  --peer-name "tesseract CLI, every frame" "$@"
