#!/usr/bin/env python3
"""Reference for src/classify/ngrams.rs: scikit-learn's char_wb and word
analyzers and TF-IDF weighting over hashed n-grams.

The n-grams come from CountVectorizer(analyzer="char_wb").build_analyzer(),
the words (each behind a U+0001) from CountVectorizer(analyzer="word");
the hash (32-bit FNV-1a of the UTF-8 bytes, xor-folded to 16 bits) is
re-implemented here; the counts per bucket go through scikit-learn's
TfidfTransformer(sublinear_tf=True, smooth_idf=True, norm="l2"). Writes
tests/fixtures/ngrams_reference.json. Run from the repository root:

    python3 -m venv .venv-ref && .venv-ref/bin/python -m pip install scikit-learn numpy
    .venv-ref/bin/python scripts/reference/ngrams_reference.py
"""
import json
import pathlib

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

MIN_N, MAX_N, BITS = 2, 5, 16
# Word pairs too, though heads default to single words: the pairing is tested.
WORD_MAX_N = 2

FIT_TEXTS = [
    "Кредитная карта с льготным периодом 120 дней!",
    "Слушайте МУЗЫКУ без рекламы: подписка за 1 ₽",
    "Доставка продуктов\tза 30 минут,  бесплатно",
    "Ёлка, ёж и ещё: Новый год в «Ленте»",
    "Я\nи ты",
    "Open a business account — переводы для ИП",
]
TEST_TEXTS = [
    "Кредитная  КАРТА:\n120 дней без %",
    "музыка и подкасты — Ёлка",
    "новое слово zzqx",
    "Акция_2026: скидки 50% и 1 ₽ — e-mail",
    "",
]


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def bucket(ngram: str) -> int:
    h = fnv1a32(ngram.encode("utf-8"))
    return ((h >> BITS) ^ h) & ((1 << BITS) - 1)


def counts(texts, analyzer):
    rows, cols, vals = [], [], []
    for i, t in enumerate(texts):
        c = {}
        for g in analyzer(t):
            b = bucket(g)
            c[b] = c.get(b, 0) + 1
        for b, n in c.items():
            rows.append(i)
            cols.append(b)
            vals.append(n)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), 1 << BITS), dtype=np.float64)


char_wb = CountVectorizer(analyzer="char_wb", ngram_range=(MIN_N, MAX_N), lowercase=True).build_analyzer()
words = CountVectorizer(analyzer="word", ngram_range=(1, WORD_MAX_N), lowercase=True).build_analyzer()


def analyzer(text):
    return char_wb(text) + ["\x01" + w for w in words(text)]


tfidf = TfidfTransformer(sublinear_tf=True, smooth_idf=True, norm="l2")
tfidf.fit(counts(FIT_TEXTS, analyzer))
x = tfidf.transform(counts(TEST_TEXTS, analyzer)).tocsr()
x.sort_indices()

# Values rounded to 8 decimals (the Rust test allows 1e-6) to keep the file small.
rows = []
for i in range(len(TEST_TEXTS)):
    a, b = x.indptr[i], x.indptr[i + 1]
    rows.append([[int(j), round(float(v), 8)] for j, v in zip(x.indices[a:b], x.data[a:b])])
first = char_wb(TEST_TEXTS[0])
seen = sorted({bucket(g) for g in first})
unseen = float(tfidf.idf_.max())
assert unseen == np.log(len(FIT_TEXTS) + 1) + 1
# A sample of the hash: every n-gram of the second test text.
hashed = [[g, bucket(g)] for g in dict.fromkeys(analyzer(TEST_TEXTS[1]))]

fixture = {
    "generator": "scripts/reference/ngrams_reference.py",
    "sklearn_version": sklearn.__version__,
    "min_n": MIN_N,
    "max_n": MAX_N,
    "word_max_n": WORD_MAX_N,
    "buckets_log2": BITS,
    "fit_texts": FIT_TEXTS,
    "test_texts": TEST_TEXTS,
    "ngrams_first": first,
    "words": [words(t) for t in TEST_TEXTS],
    "hashed": hashed,
    "rows": rows,
    "idf": [[j, round(float(tfidf.idf_[j]), 8)] for j in seen],
    "idf_unseen": unseen,
}
out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ngrams_reference.json"
out.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
print(f"wrote {out} ({out.stat().st_size} bytes)")
