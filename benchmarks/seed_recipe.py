"""The seeds' training recipe as a standalone process (what `benchmarks/train.py` times beside `candor train`).

Exactly as the seed documents specify it: RandomForest(200, depth 15, …, n_jobs=-1) +
GradientBoostingClassifier(100, lr 0.05, depth 7), 3-class ±0.2% over 5 bars, one time-ordered
70/30 split, features standardised on *all* rows, Ridge(α=1) ensemble weights fit on the very
validation rows it then reports. The features are candor's defaults (the seeds' 20+ indicators are
a subset), so the two recipes differ in how they train and score, not in what they read.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/seed_recipe.py [--dataset sp500]
Prints one JSON object: seconds (features to reported accuracy, in-process), accuracy, majority, rows.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from candor.config import load_config  # noqa: E402
from candor.data.datasets import load_dataset  # noqa: E402
from candor.training.matrix import build_labelled_data  # noqa: E402


def seed_recipe(bars) -> dict[str, float]:
    """The seeds' single split, timed from features to reported accuracy."""
    started = time.perf_counter()
    data = build_labelled_data(bars, load_config(environ={}))
    X = StandardScaler().fit_transform(data.X)  # the seeds scale on all rows (leak kept on purpose)
    y = data.y.to_numpy()
    cut = int(len(y) * 0.7)
    rf = RandomForestClassifier(n_estimators=200, max_depth=15, min_samples_split=10, min_samples_leaf=5,
                                random_state=42, n_jobs=-1, class_weight="balanced").fit(X[:cut], y[:cut])
    gb = GradientBoostingClassifier(n_estimators=100, learning_rate=0.05, max_depth=7, min_samples_split=10,
                                    min_samples_leaf=5, random_state=42).fit(X[:cut], y[:cut])
    probas = [m.predict_proba(X[cut:]) for m in (rf, gb)]
    scores = np.column_stack([p @ rf.classes_ for p in probas])  # expected direction per member
    weights = np.maximum(Ridge(alpha=1.0).fit(scores, y[cut:]).coef_, 0)  # fit on the reported rows
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(2, 0.5)
    blended = sum(w * p for w, p in zip(weights, probas))
    pred = rf.classes_[blended.argmax(axis=1)]
    values, counts = np.unique(y[:cut], return_counts=True)
    majority = values[counts.argmax()]
    return {
        "seconds": time.perf_counter() - started,
        "accuracy": float(accuracy_score(y[cut:], pred)),
        "majority": float(np.mean(y[cut:] == majority)),
        "rows": int(len(y) - cut),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sp500")
    args = parser.parse_args()
    print(json.dumps(seed_recipe(load_dataset(args.dataset))))


if __name__ == "__main__":
    main()
