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
#   WITH_TRANSCRIPTS=1 bench/spoken.sh   also what transcripts in the
#                                    training data are worth: two folds over
#                                    the dev posts, each head trained on the
#                                    other posts plus the transcripts of the
#                                    other fold's posts, judged on its own
#                                    fold as text and as speech
#
# It also writes SPOKEN_DIR/clips.tsv, so that `bench/asr.sh
# SPOKEN_DIR/clips.tsv` sets the same voice-overs before faster-whisper.
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
awk -F'\t' '{print "wav/" $1 ".wav\t" $2}' "$OUT/dev_script.tsv" > "$OUT/clips.tsv"
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

[[ "${WITH_TRANSCRIPTS:-0}" == 1 ]] || exit 0
# Two folds over the dev posts (even and odd lines): the fold's transcripts
# are never among the texts its own head learned from.
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
ids = [line.split(",")[0] for line in open(f"{out}/dev_labels.csv", encoding="utf-8").read().splitlines()[1:] if line]
texts = [json.loads(line) for line in open(f"{out}/dev_texts.jsonl", encoding="utf-8")]
heard = {r["id"]: r.get("text", "") for r in map(json.loads, open(f"{out}/transcripts.jsonl", encoding="utf-8"))}
assert len(ids) == len(texts)
spoken = [{"text": heard[i], "label": t["label"]} for i, t in zip(ids, texts)]
train = open(f"{out}/train.jsonl", encoding="utf-8").read()
dump = lambda rows: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
for k in (0, 1):
    mine = lambda rows, own: [r for i, r in enumerate(rows) if (i % 2 == k) == own]
    open(f"{out}/fold{k}_train.jsonl", "w", encoding="utf-8").write(train + dump(mine(spoken, False)))
    open(f"{out}/fold{k}_text.jsonl", "w", encoding="utf-8").write(dump(mine(texts, True)))
    open(f"{out}/fold{k}_speech.jsonl", "w", encoding="utf-8").write(dump(mine(spoken, True)))
PY
for k in 0 1; do
  "$BIN" train --texts "$OUT/fold${k}_train.jsonl" --segments "$OUT/dict.csv" --cv 0 --out "$OUT/fold${k}_head.json" > /dev/null
  for form in text speech; do
    for head in head "fold${k}_head"; do
      "$BIN" eval --head "$OUT/$head.json" --segments "$OUT/dict.csv" --texts "$OUT/fold${k}_$form.jsonl" --json "$OUT/fold${k}_${form}_$head.json" > /dev/null
    done
  done
done
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
def acc(form, with_transcripts):
    # Both folds are the same size: the dev set, 12 × PER_LABEL posts, is even.
    return sum(json.load(open(f"{out}/fold{k}_{form}_{f'fold{k}_head' if with_transcripts else 'head'}.json"))["report"]["accuracy"] for k in (0, 1)) / 2
for label, w in (("texts alone", False), ("texts + the other fold's transcripts", True)):
    text, speech = acc("text", w), acc("speech", w)
    print(f"head of {label}: accuracy as text {text:.3f}, as speech (the transcripts) {speech:.3f}, spoken/text {speech / text:.3f}")
PY
