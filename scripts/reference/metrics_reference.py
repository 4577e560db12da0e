#!/usr/bin/env python3
"""Reference for src/classify/metrics.rs: scikit-learn's classification
report (text and numbers, zero_division=0), confusion matrix and one-vs-rest
ROC-AUC for a fixed prediction set with tied scores and a class that is never
predicted.

Writes tests/fixtures/metrics_reference.json. Run from the repository root:

    .venv-ref/bin/python scripts/reference/metrics_reference.py
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score

LABELS = [0, 1, 2, 3, 5, 8]        # scored classes (all occur in y_true)
NAMES = {0: "Промо/Нет/Нет", 1: "Имидж/Нет/Нет", 2: "Кредитование", 3: "Музыка",
         5: "Колонки+Голосовой помощник", 8: "Соц сети", 9: "Клипы"}
N = 60

rng = np.random.default_rng(11)
y_true = rng.choice(LABELS, size=N, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
y_true[:len(LABELS)] = LABELS
# Predictions: mostly right, class 5 never predicted, label 9 only predicted.
y_pred = np.where(rng.random(N) < 0.6, y_true, rng.choice([0, 1, 2, 3, 8, 9], size=N))
y_pred = np.where(y_pred == 5, 0, y_pred)

# Scores in steps of 1/20 so that many tie; rows sum to 1.
parts = np.array([rng.multinomial(20, np.full(len(LABELS), 1 / len(LABELS))) for _ in range(N)])
for i in range(N):  # a bit of signal for the true class
    if rng.random() < 0.5:
        j = LABELS.index(y_true[i])
        donor = int(np.argmax(parts[i]))
        if donor != j and parts[i, donor] >= 2:
            parts[i, donor] -= 2
            parts[i, j] += 2
scores = np.round(parts / 20.0, 2)
scores32 = scores.astype(np.float32).astype(np.float64)

report_labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
names = [NAMES[label] for label in report_labels]
report = classification_report(y_true, y_pred, target_names=names, output_dict=True, zero_division=0)
per_class_auc = [roc_auc_score(y_true == c, scores32[:, k]) for k, c in enumerate(LABELS)]
# No renormalising: it would break ties between rows (sums are 1 within float32 rounding).
macro_auc = roc_auc_score(y_true, scores32,
                          multi_class="ovr", average="macro", labels=LABELS)

fixture = {
    "generator": "scripts/reference/metrics_reference.py",
    "sklearn_version": sklearn.__version__,
    "y_true": y_true.tolist(),
    "y_pred": y_pred.tolist(),
    "report_labels": report_labels,
    "names": names,
    "report": report,
    "report_text_2": classification_report(y_true, y_pred, target_names=names, zero_division=0),
    "report_text_4": classification_report(y_true, y_pred, target_names=names, zero_division=0, digits=4),
    "report_text_ids": classification_report(y_true, y_pred, zero_division=0),
    "confusion": confusion_matrix(y_true, y_pred, labels=report_labels).tolist(),
    "score_labels": LABELS,
    "scores": scores.tolist(),
    "auc_per_class": per_class_auc,
    "auc_macro": macro_auc,
}
out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "metrics_reference.json"
out.write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n")
print(f"wrote {out} ({out.stat().st_size} bytes)")
