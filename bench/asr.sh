#!/usr/bin/env bash
# ASR benchmark: creative-filter against faster-whisper (CTranslate2) on the
# same whisper-base weights, same settings (float32, language ru, 2 threads;
# both sides' default decoding: beam 5 with the temperature fallback), on a
# sample of the asterisk-ru prompts; then the product greedy, for the time
# the beam search costs. BENCH_BEAM=1 runs both sides greedy only.
#
#   bench/asr.sh [CLIPS_TSV]          default: tests/data/asterisk/sample60.tsv
#
# Steps: test data (scripts/fetch-test-data.sh) -> .venv-bench with
# faster-whisper -> release build + `creative-filter models fetch` -> peer run
# (bench/out/peer.jsonl) -> `creative-filter bench asr` prints the comparison.
# Environment: PYTHON (default python3), BENCH_THREADS (default 2),
# REUSE_PEER=1 keeps an existing bench/out/peer.jsonl for the same clip list,
# BENCH_KERNELS="avx512vnni avx2" runs the product once per int8 kernel path
# after the one peer run (CREATIVE_FILTER_KERNEL=avx2 forces one path too).
set -euo pipefail
trap 'rc=$?; echo "bench/asr: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
die() { echo "bench/asr: error: $*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLIPS="${1:-tests/data/asterisk/sample60.tsv}"
THREADS="${BENCH_THREADS:-2}"
BEAM="${BENCH_BEAM:-5}"
DECODING=(--beam-size "$BEAM")
[[ "$BEAM" == 1 ]] && DECODING+=(--no-fallback)
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv-bench"
FW_VERSION=1.2.1
MODEL_DIR="$ROOT/models/.cache/whisper-base-ct2"
OUT_DIR="$ROOT/bench/out"
PEER="$OUT_DIR/peer.jsonl"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/creative-filter"

# 1. test data
"$ROOT/scripts/fetch-test-data.sh"
[[ -f "$CLIPS" ]] || die "clip list $CLIPS not found"

# 2. faster-whisper venv
fw_ok() {
    "$VENV/bin/python" - "$FW_VERSION" <<'PY' >/dev/null 2>&1
import sys
import ctranslate2, faster_whisper
assert faster_whisper.__version__ == sys.argv[1], faster_whisper.__version__
assert ctranslate2.__version__.startswith("4."), ctranslate2.__version__
PY
}
if ! fw_ok; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (Python >= 3.9 is needed)"
    [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
    echo "bench/asr: installing faster-whisper==$FW_VERSION into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "faster-whisper==$FW_VERSION"
    fw_ok || die "faster-whisper $FW_VERSION with ctranslate2 4.x is not importable from $VENV"
fi
echo "bench/asr: $("$VENV/bin/python" -c 'import faster_whisper, ctranslate2; print("faster-whisper", faster_whisper.__version__, "ctranslate2", ctranslate2.__version__)')"

# 3. product build and models
command -v cargo >/dev/null 2>&1 || die "cargo not found"
cargo build --release --quiet
[[ -x "$BIN" ]] || die "$BIN was not built"
"$BIN" models fetch
for f in model.bin config.json tokenizer.json vocabulary.txt; do
    [[ -f "$MODEL_DIR/$f" ]] || die "$MODEL_DIR/$f missing after 'creative-filter models fetch'"
done

# 4. peer run
mkdir -p "$OUT_DIR"
STAMP="$OUT_DIR/peer.clips"
if [[ "${REUSE_PEER:-0}" == 1 && -f "$PEER" && -f "$STAMP" ]] && cmp -s "$STAMP" <(cat "$CLIPS"; echo "beam $BEAM"); then
    echo "bench/asr: reusing $PEER"
else
    echo "bench/asr: faster-whisper on $CLIPS ($THREADS threads)"
    OMP_NUM_THREADS="$THREADS" "$VENV/bin/python" "$ROOT/bench/faster_whisper_peer.py" \
        --model-dir "$MODEL_DIR" --clips "$CLIPS" --out "$PEER" --threads "$THREADS" --beam-size "$BEAM"
    { cat "$CLIPS"; echo "beam $BEAM"; } > "$STAMP"
fi

# 5. side-by-side table, once per int8 kernel path in BENCH_KERNELS
# (e.g. "avx512vnni avx2": the AVX2 path forced on an AVX-512 machine);
# by default the one this CPU picks.
if [[ -n "${BENCH_KERNELS:-}" ]]; then
    for k in $BENCH_KERNELS; do
        echo "bench/asr: int8 kernels forced to $k"
        CREATIVE_FILTER_KERNEL="$k" "$BIN" bench asr --clips "$CLIPS" --peer "$PEER" "${DECODING[@]}"
    done
else
    "$BIN" bench asr --clips "$CLIPS" --peer "$PEER" "${DECODING[@]}"
fi
if [[ "$BEAM" != 1 ]]; then
    echo "bench/asr: the product greedy (--beam-size 1 --no-fallback), beside the same peer"
    "$BIN" bench asr --clips "$CLIPS" --peer "$PEER" --beam-size 1 --no-fallback
fi
