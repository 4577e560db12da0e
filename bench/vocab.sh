#!/usr/bin/env bash
# e5's Russian/English vocabulary (what `models fetch` prepares) against the
# whole 250,002-piece one, on the same texts and the same folds: tokens and
# sentence embeddings text by text, then the classifier's cross-validated
# macro-F1 with each, side by side.
#
#   bench/vocab.sh [DATA.jsonl]      default: ../shared/data/telegram_posts_train.jsonl
#
# The full-vocabulary model is prepared into bench/out/full-vocabulary
# (`models fetch --full-vocabulary`, reusing the unpacked Whisper of models/).
# Environment: BENCH_THREADS (default 2), VOCAB_SAMPLE (texts compared one by
# one, default 2000; 0: all).
set -euo pipefail
trap 'rc=$?; echo "bench/vocab: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
die() { echo "bench/vocab: error: $*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA="${1:-$ROOT/../shared/data/telegram_posts_train.jsonl}"
[[ -f "$DATA" ]] || die "texts $DATA not found"
THREADS="${BENCH_THREADS:-2}"
OUT="$ROOT/bench/out"
FULL="$OUT/full-vocabulary"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/creative-filter"
mkdir -p "$OUT" "$FULL/.cache"

command -v cargo >/dev/null 2>&1 || die "cargo not found"
cargo build --release --quiet
"$BIN" models fetch
ln -sfn "$ROOT/models/.cache/whisper-base-ct2" "$FULL/.cache/whisper-base-ct2"
CREATIVE_FILTER_MODELS="$FULL" "$BIN" models fetch --full-vocabulary

echo
"$BIN" --threads "$THREADS" bench vocab --full "$FULL" --data "$DATA" --sample "${VOCAB_SAMPLE:-2000}"

# The classifier on the same folds with each model (embeddings are cached
# per model file, so a second run only trains).
"$BIN" bench classify --data "$DATA" --write-folds "$OUT/folds.json"
f1() {
    CREATIVE_FILTER_MODELS="$1" "$BIN" --threads "$THREADS" --cache "$OUT/cache" bench classify --data "$DATA" \
        --folds "$OUT/folds.json" --throughput-texts 0 | awk '/^macro-F1/ {print $5}'
}
KEPT="$(f1 "$ROOT/models")"
WHOLE="$(f1 "$FULL")"
echo
printf '%-34s%18s%18s%10s\n' "" "Russian/English" "whole vocabulary" "change"
printf '%-34s%18s%18s%+10.4f\n' "macro-F1 (out of fold)" "$KEPT" "$WHOLE" "$(awk -v a="$KEPT" -v b="$WHOLE" 'BEGIN {print a - b}')"
for f in e5-small.gguf e5-tokenizer.json.gz; do
    printf '%-34s%18s%18s\n' "$f (MB)" "$(awk -v b="$(stat -c %s "models/$f")" 'BEGIN {printf "%.1f", b / 1e6}')" \
        "$(awk -v b="$(stat -c %s "$FULL/$f")" 'BEGIN {printf "%.1f", b / 1e6}')"
done
