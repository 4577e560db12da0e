#!/usr/bin/env bash
# Spoken creatives against their texts: how much of a head's accuracy the
# ASR costs. A dev set of the shared Telegram posts (bench/spoken_prepare.py:
# PER_LABEL per label, cleaned of links and emoji) is read aloud by
# Festival's Russian voice; a head is trained on all the other posts
# (`train --texts`), then judged on the chosen posts as text and as speech
# (`eval --texts` / `eval --labels --media`), and the transcripts' WER
# against the text read aloud is measured. Prints accuracy as text, as
# speech, and their ratio (the issue's target: ≥ 0.95).
#
#   bench/spoken.sh                  POSTS, SPOKEN_DIR, PER_LABEL from the environment
#   ASR_ARGS="--beam-size 5" bench/spoken.sh   decoding settings for the spoken run
#   PROMPT=auto bench/spoken.sh      words to expect (--prompt): `auto` lists
#                                    the names the training posts use most
#                                    (bench/prompt_words.py), as a user
#                                    would list their brands; else the text
#
# Needs the release build, the models (scripts/prepare.sh) and Festival
# (scripts/setup.sh installs it); the voice-overs are kept in SPOKEN_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
POSTS="${POSTS:-$ROOT/../shared/data/telegram_posts_train.jsonl}"
OUT="${SPOKEN_DIR:-$ROOT/tests/data/spoken}"
PER_LABEL="${PER_LABEL:-10}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/creative-filter"
[[ -f "$POSTS" ]] || { echo "bench/spoken: $POSTS not found (set POSTS)" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "bench/spoken: $BIN missing: cargo build --release" >&2; exit 1; }
command -v text2wave >/dev/null || { echo "bench/spoken: Festival missing: scripts/setup.sh" >&2; exit 1; }

mkdir -p "$OUT/wav"
python3 bench/spoken_prepare.py "$POSTS" "$OUT" "$PER_LABEL"

source bench/read_aloud.sh
t=$SECONDS
read_aloud "$OUT/dev_script.tsv" "$OUT/wav"
echo "bench/spoken: voice-overs ready in $((SECONDS - t)) s"
# The voice writes an empty file for what it cannot read; the cleaning must have removed it.
empty="$(find "$OUT/wav" -name '*.wav' -size 0 | wc -l)"
[[ "$empty" = 0 ]] || { echo "bench/spoken: $empty empty voice-overs (Festival could not read their text)" >&2; exit 1; }

# A head of every other post; the dev posts are not among them.
[[ -s "$OUT/head.json" && "$OUT/head.json" -nt "$OUT/train.jsonl" ]] ||
  "$BIN" train --texts "$OUT/train.jsonl" --segments "$OUT/dict.csv" --cv 0 --out "$OUT/head.json"
"$BIN" eval --head "$OUT/head.json" --segments "$OUT/dict.csv" --texts "$OUT/dev_texts.jsonl" --json "$OUT/text.json" > /dev/null
PROMPT_ARGS=()
if [[ "${PROMPT:-}" == auto ]]; then
  PROMPT_ARGS=(--prompt "$(python3 bench/prompt_words.py "$OUT/train.jsonl" 40)")
elif [[ -n "${PROMPT:-}" ]]; then
  PROMPT_ARGS=(--prompt "$PROMPT")
fi
[[ ${#PROMPT_ARGS[@]} == 0 ]] || echo "bench/spoken: prompt: ${PROMPT_ARGS[1]}"
t=$SECONDS
# shellcheck disable=SC2086
"$BIN" eval --head "$OUT/head.json" --segments "$OUT/dict.csv" --labels "$OUT/dev_labels.csv" --media "$OUT/wav" ${ASR_ARGS:-} "${PROMPT_ARGS[@]}" --json "$OUT/spoken.json" > /dev/null
spoken_s=$((SECONDS - t))
# shellcheck disable=SC2086
"$BIN" transcribe ${ASR_ARGS:-} "${PROMPT_ARGS[@]}" "$OUT"/wav/*.wav > "$OUT/transcripts.jsonl"

python3 - "$OUT" "$spoken_s" <<'PY'
import json, re, sys
out, seconds = sys.argv[1], sys.argv[2]
acc = lambda name: json.load(open(f"{out}/{name}.json"))["report"]["accuracy"]
norm = lambda s: re.sub(r"[^\w\s]", " ", s.lower().replace("ё", "е")).split()
def distance(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]
script = dict(line.rstrip("\n").split("\t", 1) for line in open(f"{out}/dev_script.tsv", encoding="utf-8"))
heard = {r["id"]: r.get("text", "") for r in map(json.loads, open(f"{out}/transcripts.jsonl", encoding="utf-8"))}
errors = sum(distance(norm(script[i]), norm(heard.get(i, ""))) for i in script)
words = sum(len(norm(t)) for t in script.values())
text, spoken = acc("text"), acc("spoken")
print(f"posts {len(script)}: accuracy as text {text:.3f}, as speech {spoken:.3f}, spoken/text {spoken / text:.3f}")
print(f"WER of the transcripts against the text read aloud: {errors / words:.3f} ({words} words); spoken run {seconds} s")
PY
