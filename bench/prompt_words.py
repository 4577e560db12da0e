"""Words to expect, as a user would list their brands: the names most often
written in the training texts (capitalised words inside a sentence, Latin
or Cyrillic; one form per word: forms sharing their first five letters
count as one), most frequent first.

    python3 bench/prompt_words.py TRAIN.jsonl [N]
"""
import collections
import json
import re
import sys


def main():
    path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40
    counts = collections.Counter()
    for line in open(path, encoding="utf-8"):
        text = json.loads(line)["text"]
        counts.update(m.group(1) for m in re.finditer(r"(?<=[a-zа-яё,;:] )([A-ZА-ЯЁ][\w-]{2,})", text))
    words, stems = [], set()
    for word, _ in counts.most_common():
        stem = word[:5].lower()
        if stem not in stems:
            stems.add(stem)
            words.append(word)
        if len(words) == n:
            break
    print(", ".join(words))


if __name__ == "__main__":
    main()
