#!/usr/bin/env bash
# Classifier benchmark: the product's head on multilingual-e5-small
# embeddings, 5-fold cross-validated on labelled Russian texts, beside a
# TF-IDF character n-gram + logistic-regression peer (scikit-learn) on the
# very same folds; plus training time and embedding throughput.
#
#   bench/classify.sh [DATA.jsonl]      default: ../shared/data/telegram_posts_train.jsonl
#
# Embeddings are cached in bench/out/cache (first run: the whole file is
# embedded once). Environment: BENCH_THREADS (default 2), PYTHON,
# BENCH_MORE_SEEDS (the seeds of further fold splits, default "2 3"; "" for
# the first split alone).
set -euo pipefail
trap 'rc=$?; echo "bench/classify: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
die() { echo "bench/classify: error: $*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA="${1:-$ROOT/../shared/data/telegram_posts_train.jsonl}"
[[ -f "$DATA" ]] || die "labelled data $DATA not found"
THREADS="${BENCH_THREADS:-2}"
OUT="$ROOT/bench/out"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/creative-filter"
mkdir -p "$OUT"

# 1. peer environment (scikit-learn), shared with the reference scripts
"$ROOT/scripts/reference/make-venv.sh"
VENV="$ROOT/.venv-ref"

# 2. product build and models
command -v cargo >/dev/null 2>&1 || die "cargo not found"
cargo build --release --quiet
"$BIN" models fetch

# 3. the folds, then the peer on them
"$BIN" bench classify --data "$DATA" --write-folds "$OUT/folds.json"
OMP_NUM_THREADS="$THREADS" "$VENV/bin/python" "$ROOT/bench/classify_peer.py" \
    --data "$DATA" --folds "$OUT/folds.json" --out "$OUT/classify_peer.json"

# 4. the product on the same folds, printed side by side
"$BIN" --threads "$THREADS" --cache "$OUT/cache" bench classify --data "$DATA" \
    --folds "$OUT/folds.json" --peer "$OUT/classify_peer.json" | tee "$OUT/classify_report.txt"

# 5. the same head without the pooled intermediate layer (the sentence
#    embedding alone beside the n-grams): what that layer adds
echo
echo "== without e5's pooled intermediate layer (sentence embedding + n-grams) =="
"$BIN" --threads "$THREADS" --cache "$OUT/cache" bench classify --data "$DATA" \
    --folds "$OUT/folds.json" --peer "$OUT/classify_peer.json" --sentence-only --throughput-texts 0 \
    | grep -E "^(classifier benchmark|macro-F1|accuracy|training)"

#    and without the word n-grams (character n-grams alone beside the embedding)
echo
echo "== without word n-grams (embedding + character n-grams) =="
"$BIN" --threads "$THREADS" --cache "$OUT/cache" bench classify --data "$DATA" \
    --folds "$OUT/folds.json" --peer "$OUT/classify_peer.json" --word-ngrams 0 --throughput-texts 0 \
    | grep -E "^(classifier benchmark|macro-F1|accuracy|training)"

# 6. the product and the peer on further fold splits: how much of the gain
#    is the particular split
GAINS=("$(grep "^macro-F1 gain" "$OUT/classify_report.txt" | awk '{print $NF}')")
for seed in ${BENCH_MORE_SEEDS-2 3}; do
    echo
    echo "== fold split of seed $seed =="
    "$BIN" bench classify --data "$DATA" --seed "$seed" --write-folds "$OUT/folds-$seed.json"
    OMP_NUM_THREADS="$THREADS" "$VENV/bin/python" "$ROOT/bench/classify_peer.py" \
        --data "$DATA" --folds "$OUT/folds-$seed.json" --out "$OUT/classify_peer-$seed.json"
    report="$("$BIN" --threads "$THREADS" --cache "$OUT/cache" bench classify --data "$DATA" \
        --folds "$OUT/folds-$seed.json" --peer "$OUT/classify_peer-$seed.json" --throughput-texts 0)"
    grep -E "^(macro-F1|accuracy)" <<<"$report"
    GAINS+=("$(grep "^macro-F1 gain" <<<"$report" | awk '{print $NF}')")
done
echo
echo "macro-F1 gain over the peer, by fold split: ${GAINS[*]}"
printf '%s\n' "${GAINS[@]}" | awk '{s += $1} END {printf "mean over %d splits: %+.4f\n", NR, s / NR}'

