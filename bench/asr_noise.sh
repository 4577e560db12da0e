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
python3 - "$POSTS" "$SPOKEN/dev_script.tsv" "$OUT/script.tsv" "${PAIRS:-300}" <<'PY'
import hashlib, json, sys
sys.path.insert(0, "bench")
from spoken_prepare import clean
posts, dev_script, out, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [json.loads(line) for line in open(posts, encoding="utf-8") if line.strip()]
dev = {line.rstrip("\n").split("\t", 1)[1] for line in open(dev_script, encoding="utf-8")}
order = sorted(range(len(rows)), key=lambda i: hashlib.sha256(("pairs" + rows[i]["text"]).encode()).hexdigest())
chosen = []
for i in order:
    text = clean(rows[i]["text"])
    if 60 <= len(text) <= 300 and text not in dev:
        chosen.append((f"pair{len(chosen):04d}", text))
    if len(chosen) == count:
        break
open(out, "w", encoding="utf-8").write("".join(f"{k}\t{t}\n" for k, t in chosen))
PY
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
while IFS=$'\t' read -r id text; do
  [[ -s "$OUT/wav/$id.wav" ]] && continue
  printf '%s\n' "$text" > "$scratch/$id.txt"
  text2wave -eval '(voice_msu_ru_nsh_clunits)' "$scratch/$id.txt" -o "$OUT/wav/$id.wav" > /dev/null 2>&1 || true
done < "$OUT/script.tsv"
"$BIN" --no-cache transcribe "$OUT"/wav/*.wav > "$OUT/transcripts.jsonl" || true
python3 bench/asr_noise.py "$OUT/script.tsv" "$OUT/transcripts.jsonl" src/classify/asr_noise.json
