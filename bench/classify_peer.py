"""Peer for `creative-filter bench classify`: a TF-IDF character n-gram +
logistic-regression classifier (scikit-learn) cross-validated on exactly the
folds the product uses (read from the folds file it wrote).

    python bench/classify_peer.py --data DATA.jsonl --folds folds.json --out peer.json
"""
import argparse
import json
import time

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--folds", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.data, encoding="utf-8") if l.strip()]
    folds = json.load(open(a.folds))
    texts = [r["text"] for r in rows]
    labels = np.array([r["label"] for r in rows])
    fold_of = np.array(folds["fold_of"])
    assert len(fold_of) == len(texts), "the folds were made for another data file"
    assert list(labels) == folds["labels"], "the folds' labels differ from the data's"

    pred = np.empty(len(texts), dtype=object)
    fit_s = predict_s = 0.0
    for f in range(folds["k"]):
        train, test = np.where(fold_of != f)[0], np.where(fold_of == f)[0]
        t = time.perf_counter()
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
        xt = vec.fit_transform([texts[i] for i in train])
        clf = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")
        clf.fit(xt, labels[train])
        fit_s += time.perf_counter() - t
        t = time.perf_counter()
        pred[test] = clf.predict(vec.transform([texts[i] for i in test]))
        predict_s += time.perf_counter() - t
    out = {
        "peer": f"TF-IDF char_wb 2-5 + LogisticRegression (scikit-learn {sklearn.__version__})",
        "macro_f1": f1_score(labels, pred, average="macro"),
        "accuracy": accuracy_score(labels, pred),
        "fit_seconds_per_fold": fit_s / folds["k"],
        "texts_per_second": len(texts) / predict_s,
        "predicted": list(pred),
    }
    json.dump(out, open(a.out, "w"), ensure_ascii=False)
    print(f"peer: macro-F1 {out['macro_f1']:.4f}, accuracy {out['accuracy']:.4f}")


if __name__ == "__main__":
    main()
