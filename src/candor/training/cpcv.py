"""Combinatorial purged CV paths of a training's development rows (``split.cv = "cpcv"``).

The walk-forward gives the verdict and fits the blend (a blend needs earlier folds' predictions,
which CPCV's test groups in the middle of the history do not have). CPCV answers a different
question: how much does the out-of-sample accuracy depend on *which* history was the test? The
C(N, k) splits of :class:`~candor.split.CombinatorialPurgedCV` fit the members on each split's
purged, embargoed training rows and predict its k test groups; the φ = C(N, k)·k/N paths each
cover every development row once, and the report is the distribution over the paths of accuracy
and of the signed label return's Sharpe (per row, not annualised). The members of one split are
blended with equal weights (the mean of their probabilities).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from candor.config import Config
from candor.split import CombinatorialPurgedCV
from candor.training.matrix import LabelledData
from candor.training.stacking import fit_members, make_members

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


def _summary(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return {"mean": None, **{f"q{int(q * 100):02d}": None for q in QUANTILES}}
    return {"mean": float(finite.mean()),
            **{f"q{int(q * 100):02d}": float(np.quantile(finite, q)) for q in QUANTILES}}


def cpcv_paths(data: LabelledData, dev: np.ndarray, config: Config) -> dict[str, Any]:
    """The CPCV path distribution of the development rows ``dev`` (JSON-ready)."""
    started = time.perf_counter()
    split = config.split
    splitter = CombinatorialPurgedCV(split.cpcv_groups, split.cpcv_test_groups, purge=config.purge,
                                     embargo=config.embargo)
    folds = splitter.folds(data.X.iloc[dev], t1=data.t1.iloc[dev])
    members, y = make_members(config), data.y.to_numpy()
    classes = np.unique(y)
    tasks = [delayed(fit_members)(members, data.X, y, data.t1, classes, f.index, dev[f.train], dev[f.test])
             for f in folds]
    fitted = Parallel(n_jobs=max(1, min(config.models.fold_jobs, len(tasks))))(tasks)
    n = len(dev)
    predictions = np.zeros((len(folds), n), dtype=y.dtype)  # split × development row (its test rows filled)
    for fold, done in zip(folds, sorted(fitted, key=lambda d: d.index)):
        proba = np.mean([p for p in done.test_proba.values()], axis=0)
        predictions[fold.index, fold.test] = classes[proba.argmax(axis=1)]
    group, rows = splitter.group_of(n), np.arange(n)
    y_dev = y[dev]
    ret = None if data.labels.ret is None else data.labels.ret.reindex(data.y.index).to_numpy()[dev]
    accuracy, sharpe = [], []
    for path in splitter.path_splits():
        pred = predictions[path[group], rows]
        accuracy.append(float(np.mean(pred == y_dev)))
        if ret is not None:
            signed = np.sign(pred) * ret
            traded = signed[(pred != 0) & np.isfinite(signed)]
            sd = traded.std(ddof=1) if len(traded) > 1 else 0.0
            sharpe.append(float(traded.mean() / sd) if sd > 0 else np.nan)
    out: dict[str, Any] = {
        "n_groups": split.cpcv_groups, "n_test_groups": split.cpcv_test_groups, "n_splits": len(folds),
        "n_paths": splitter.n_paths, "rows": n,
        "accuracy": _summary(np.asarray(accuracy)), "path_accuracy": [round(a, 6) for a in accuracy],
        "sharpe_per_row": None if ret is None else _summary(np.asarray(sharpe)),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return out


def describe(cpcv: dict[str, Any]) -> str:
    """One line: "CPCV 5 paths (6 groups, 2 test): accuracy median 0.541 [5%–95% 0.512–0.566]"."""
    acc = cpcv["accuracy"]
    if acc["q50"] is None:
        return f"CPCV {cpcv['n_paths']} paths: no accuracy"
    return (f"CPCV {cpcv['n_paths']} paths ({cpcv['n_groups']} groups, {cpcv['n_test_groups']} test): accuracy "
            f"median {acc['q50']:.3f} [5%–95% {acc['q05']:.3f}–{acc['q95']:.3f}, min {acc['q00']:.3f}]")
