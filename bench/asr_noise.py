#!/usr/bin/env python3
"""Learns what Whisper gets wrong from pairs of (text read aloud, transcript).

  asr_noise.py SCRIPT.tsv TRANSCRIPTS.jsonl OUT.json

SCRIPT.tsv: id<TAB>text read aloud (Festival); TRANSCRIPTS.jsonl: the CLI's
`transcribe` lines ({"id", "text"}). Words are aligned (Levenshtein, words
lower-cased, `ё`→`е`, punctuation dropped); of the reference words, the
shares substituted, deleted, and merged with the next one (heard as one
word) are counted; inside substituted words the characters are aligned and,
for each character, what it was heard as (another character, or nothing).
The result is the noise model `classify::asr_noise` applies at training
time (src/classify/asr_noise.json). Standard library only.
"""
import json
import re
import sys
from collections import Counter, defaultdict


def words(text):
    return re.sub(r"[^\w\s]", " ", text.lower().replace("ё", "е")).split()


def align(a, b):
    """Levenshtein alignment of two sequences: [(x or None, y or None)]."""
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    out, i, j = [], n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            out.append((a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            out.append((a[i - 1], None))
            i -= 1
        else:
            out.append((None, b[j - 1]))
            j -= 1
    return out[::-1]


def main():
    script_path, transcripts_path, out_path = sys.argv[1:4]
    script = dict(line.rstrip("\n").split("\t", 1) for line in open(script_path, encoding="utf-8"))
    # Files the voice could not read (or the CLI not decode) teach nothing.
    heard = {r["id"]: r["text"] for r in map(json.loads, open(transcripts_path, encoding="utf-8")) if "error" not in r}
    script = {k: v for k, v in script.items() if k in heard}
    counts = Counter()
    chars = Counter()
    confusions = defaultdict(Counter)
    for key, text in script.items():
        ref, hyp = words(text), words(heard.get(key, ""))
        pairs = align(ref, hyp)
        k = 0
        while k < len(pairs):
            r, h = pairs[k]
            if r is None:
                counts["insertion"] += 1
            elif h is None:
                counts["deletion"] += 1
            elif r == h:
                counts["correct"] += 1
            elif k + 1 < len(pairs) and pairs[k + 1][1] is None and pairs[k + 1][0] and h == r + pairs[k + 1][0]:
                counts["merge"] += 1
                counts["merged_second"] += 1
                k += 1
            else:
                counts["substitution"] += 1
                for c in r:
                    chars[c] += 1
                for x, y in align(list(r), list(h)):
                    if x is not None and x != y:
                        confusions[x][y or ""] += 1
            k += 1
    reference = counts["correct"] + counts["substitution"] + counts["deletion"] + counts["merge"] + counts["merged_second"]
    model = {
        "source": f"{len(script)} texts read by Festival's Russian voice and transcribed by whisper-base (bench/asr_noise.py)",
        "reference_words": reference,
        "word_substitution": round(counts["substitution"] / reference, 4),
        "word_deletion": round(counts["deletion"] / reference, 4),
        "word_merge": round(counts["merge"] / reference, 4),
        # Per character of a substituted word: what it is heard as, with its probability.
        "char_confusions": {
            c: sorted(((y, n / chars[c]) for y, n in conf.items() if n >= 2), key=lambda t: -t[1])
            for c, conf in sorted(confusions.items())
            if chars[c] >= 20
        },
    }
    model["char_confusions"] = {c: v for c, v in model["char_confusions"].items() if v}
    with open(out_path, "w", encoding="utf-8") as f:
        head = {k: v for k, v in model.items() if k != "char_confusions"}
        f.write("{\n" + "".join(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},\n" for k, v in head.items()))
        rows = [f"  {json.dumps(c, ensure_ascii=False)}: {json.dumps([[y, round(p, 3)] for y, p in v], ensure_ascii=False)}" for c, v in model["char_confusions"].items()]
        f.write(" \"char_confusions\": {\n" + ",\n".join(rows) + "\n }\n}\n")
    print(
        f"{reference} reference words: substituted {model['word_substitution']:.3f}, deleted {model['word_deletion']:.3f}, "
        f"merged {model['word_merge']:.3f}; {len(model['char_confusions'])} characters with confusions"
    )


if __name__ == "__main__":
    main()
