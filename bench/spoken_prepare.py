#!/usr/bin/env python3
"""The spoken dev set of bench/spoken.sh, from the shared Telegram posts.

  spoken_prepare.py POSTS.jsonl OUT_DIR [PER_LABEL]
  spoken_prepare.py --pairs N POSTS.jsonl DEV_SCRIPT.tsv OUT_SCRIPT.tsv

Picks PER_LABEL posts of each label (default 10; 60-300 characters once
cleaned, chosen by a hash of the text so the choice does not depend on the
file's order), and writes to OUT_DIR:
  dict.csv          id,name of the 12 labels (ids 1..12 in sorted order)
  train.jsonl       every other post (text, label): what the head learns from
  dev_texts.jsonl   the chosen posts as spoken (text, label)
  dev_labels.csv    Advertisement ID,Segment_num of the chosen posts
  dev_script.tsv    id<TAB>text, for Festival
With --pairs, writes instead N other posts (cleaned the same way, none of
DEV_SCRIPT's texts) as id<TAB>text: what bench/asr_noise.sh has read aloud
and transcribed to learn the ASR noise model.
Only the standard library; no network.
"""
import hashlib
import json
import re
import sys


def clean(text):
    """What a voice-over can say, in what Festival's Russian voice reads (it
    writes an empty file for many symbols: quotes, dashes, brackets, colons
    between digits, ², …): no links, handles, hashtags or emoji; per cents,
    numbers and decimal fractions in words; Russian and Latin letters, ASCII
    digits and . , ? kept, everything else a space."""
    text = re.sub(r"https?://\S+|www\.\S+", " ", text)
    text = re.sub(r"[@#]\w+", " ", text)
    text = re.sub(r"(\d)[.,](\d)", r"\1 и \2", text)
    text = text.replace("%", " процентов").replace("№", " номер ").replace("&", " и ")
    text = re.sub(r"(\w)\.(?=\w\.)", r"\1", text)  # S.T.A.L.K.E.R. -> STALKER.
    text = re.sub(r"(\w)\.(\w)", r"\1 \2", text)  # Яндекс.Лавка
    # Long digit strings (a tax number) read in groups of three.
    text = re.sub(r"\d{7,}", lambda m: " ".join(m[0][i : i + 3] for i in range(0, len(m[0]), 3)), text)
    keep = lambda c: (c.isascii() and c.isalnum()) or "а" <= c.lower() <= "я" or c.lower() == "ё" or c in ".,?"
    text = "".join(c if keep(c) else " " for c in text)
    text = re.sub(r"\s+([.,?])", r"\1", text)
    text = re.sub(r"(\w)\.(\w)", r"\1. \2", text)  # "расширением .gif" became "расширением.gif"
    text = re.sub(r"([.,?])[.,?]+", r"\1", text)
    text = re.sub(r"^[.,?\s]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def in_hash_order(rows, salt=""):
    """Row indices in the order of a hash of their text: a choice that does
    not depend on the file's order."""
    return sorted(range(len(rows)), key=lambda i: hashlib.sha256((salt + rows[i]["text"]).encode()).hexdigest())


def pairs(count, posts_path, dev_script, out):
    rows = [json.loads(line) for line in open(posts_path, encoding="utf-8") if line.strip()]
    dev = {line.rstrip("\n").split("\t", 1)[1] for line in open(dev_script, encoding="utf-8")}
    chosen = []
    for i in in_hash_order(rows, "pairs"):
        text = clean(rows[i]["text"])
        if 60 <= len(text) <= 300 and text not in dev:
            chosen.append((f"pair{len(chosen):04d}", text))
        if len(chosen) == count:
            break
    with open(out, "w", encoding="utf-8") as f:
        f.write("".join(f"{k}\t{t}\n" for k, t in chosen))


def main():
    if sys.argv[1] == "--pairs":
        return pairs(int(sys.argv[2]), *sys.argv[3:6])
    posts_path, out = sys.argv[1], sys.argv[2]
    per_label = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    rows = [json.loads(line) for line in open(posts_path, encoding="utf-8") if line.strip()]
    labels = sorted({r["label"] for r in rows})
    ids = {name: i + 1 for i, name in enumerate(labels)}
    chosen = {}
    for i in in_hash_order(rows):
        r = rows[i]
        spoken = clean(r["text"])
        if 60 <= len(spoken) <= 300 and sum(1 for j in chosen.values() if j[1] == r["label"]) < per_label:
            chosen[i] = (spoken, r["label"])
    with open(f"{out}/dict.csv", "w", encoding="utf-8") as f:
        f.write("id,name\n" + "".join(f"{ids[n]},{n}\n" for n in labels))
    with open(f"{out}/train.jsonl", "w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            if i not in chosen:
                f.write(json.dumps({"text": r["text"], "label": r["label"]}, ensure_ascii=False) + "\n")
    with open(f"{out}/dev_texts.jsonl", "w", encoding="utf-8") as f, open(
        f"{out}/dev_labels.csv", "w", encoding="utf-8"
    ) as lab, open(f"{out}/dev_script.tsv", "w", encoding="utf-8") as script:
        lab.write("Advertisement ID,Segment_num\n")
        for n, (i, (spoken, label)) in enumerate(sorted(chosen.items())):
            post_id = f"post{n:04d}"
            f.write(json.dumps({"text": spoken, "label": label}, ensure_ascii=False) + "\n")
            lab.write(f"{post_id},{ids[label]}\n")
            script.write(f"{post_id}\t{spoken}\n")
    print(f"spoken dev set: {len(chosen)} posts ({per_label} per label, {len(labels)} labels), {len(rows) - len(chosen)} to train on")


if __name__ == "__main__":
    main()
