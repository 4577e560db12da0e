#!/usr/bin/env bash
# Rebuilds the ASR noise model (src/classify/asr_noise.json) from pairs made
# here: PAIRS (default 300) Telegram training posts — none of bench/spoken.sh's
# dev set, cleaned the same way — read aloud by Festival's Russian voice and
# transcribed by the product's whisper-base; bench/asr_noise.py learns the
# word and character error rates from them.
#
#   bench/asr_noise.sh          then rebuild, and measure with bench/spoken.sh
#
# Needs the release build, the models and Festival; run bench/spoken.sh
# first (its dev set is what the pairs must stay out of).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
POSTS="${POSTS:-$ROOT/../shared/data/telegram_posts_train.jsonl}"
SPOKEN="${SPOKEN_DIR:-$ROOT/tests/data/spoken}"
OUT="${PAIRS_DIR:-$ROOT/tests/data/asr-pairs}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/creative-filter"
[[ -f "$SPOKEN/dev_script.tsv" ]] || { echo "bench/asr_noise: run bench/spoken.sh first" >&2; exit 1; }
mkdir -p "$OUT/wav"
python3 bench/spoken_prepare.py --pairs "${PAIRS:-300}" "$POSTS" "$SPOKEN/dev_script.tsv" "$OUT/script.tsv"
source bench/read_aloud.sh
read_aloud "$OUT/script.tsv" "$OUT/wav"
"$BIN" --no-cache transcribe "$OUT"/wav/*.wav > "$OUT/transcripts.jsonl" || true
python3 bench/asr_noise.py "$OUT/script.tsv" "$OUT/transcripts.jsonl" src/classify/asr_noise.json
