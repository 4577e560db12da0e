#!/usr/bin/env python3
"""Reference for src/classify/logreg.rs: scikit-learn's multinomial logistic
regression (lbfgs, class_weight="balanced") on a small fixed dataset.

Writes tests/fixtures/logreg_reference.json (the dataset, the coefficients,
the centred intercepts and test-set probabilities). Run from the repository
root:

    python3 -m venv .venv-ref && .venv-ref/bin/python -m pip install scikit-learn numpy
    .venv-ref/bin/python scripts/reference/logreg_reference.py
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

N_TRAIN, N_TEST, N_FEATURES, C = 150, 20, 6, 0.5
CLASSES = [0, 2, 3, 7, 15]        # ids with gaps, as segment ids have
SIZES = [60, 40, 25, 15, 10]      # imbalanced, so "balanced" weights matter

rng = np.random.default_rng(20240607)
centres = rng.normal(0.0, 1.0, size=(len(CLASSES), N_FEATURES))


def sample(counts):
    xs, ys = [], []
    for label, centre, n in zip(CLASSES, centres, counts):
        xs.append(centre + rng.normal(0.0, 1.2, size=(n, N_FEATURES)))  # overlapping
        ys += [label] * n
    # Four decimals, so the Rust side reads exactly the float32 values fitted here.
    x = np.round(np.vstack(xs), 4)
    return x, np.array(ys)


x, y = sample(SIZES)
x_test, _ = sample([4] * len(CLASSES))
x32 = x.astype(np.float32).astype(np.float64)
x_test32 = x_test.astype(np.float32).astype(np.float64)

model = LogisticRegression(C=C, solver="lbfgs", class_weight="balanced", tol=1e-10, max_iter=10000)
model.fit(x32, y)
assert model.coef_.shape == (len(CLASSES), N_FEATURES), "expected the multinomial (softmax) model"

fixture = {
    "generator": "scripts/reference/logreg_reference.py",
    "sklearn_version": sklearn.__version__,
    "n_features": N_FEATURES,
    "c": C,
    "x": x.tolist(),
    "y": y.tolist(),
    "x_test": x_test.tolist(),
    "classes": model.classes_.tolist(),
    "coef": model.coef_.tolist(),
    "intercept_centred": (model.intercept_ - model.intercept_.mean()).tolist(),
    "proba_test": model.predict_proba(x_test32).tolist(),
}
out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "logreg_reference.json"
out.write_text(json.dumps(fixture, indent=None, separators=(",", ":")) + "\n")
print(f"wrote {out} ({out.stat().st_size} bytes)")
