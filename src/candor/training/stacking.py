"""Walk-forward stacking: the outer folds' own predictions are the ensemble's out-of-fold rows.

In an expanding (or rolling) walk-forward, the members fitted for fold ``j`` predict test block
``j`` having seen only rows before it. For any later fold ``k`` those blocks lie inside fold
``k``'s training data, so they are exactly the out-of-fold predictions an inner walk-forward
would produce — already paid for. Fold ``k``'s weights are therefore fit on the predictions of
blocks ``j < k`` (restricted to rows fold ``k`` may train on, i.e. after purging), and the
production model's weights on every block. Nothing is ever weighted on rows it scores; the
member fits per fold drop from ``inner_splits + 1`` to one. Fold 0 has no earlier block, so
one warm-up block is made inside its training rows (:func:`warmup_block`: members fit on the
first half, purged, predict the second); without it fold 0 would have no out-of-fold rows to
weigh its members or fit the class prior's share on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score

from candor.ensemble import MIN_CLASS_COUNT, OutOfFoldEnsemble, align_proba

#: MemberFold index of the warm-up block (never an outer fold; never scored in the report).
WARMUP = -1


@dataclass(frozen=True)
class MemberFold:
    """Member probabilities of one outer fold (members trained on its training rows only)."""

    index: int
    train: np.ndarray
    test: np.ndarray
    test_proba: dict[str, np.ndarray]
    train_proba: dict[str, np.ndarray]
    seconds: float


def fit_members(ensemble: OutOfFoldEnsemble, X, y: np.ndarray, classes: np.ndarray,
                index: int, train: np.ndarray, test: np.ndarray) -> MemberFold:
    """Fit each member on ``train``; keep its class probabilities on ``train`` and ``test``."""
    started = time.perf_counter()
    X_train, X_test = X.iloc[train], X.iloc[test]
    test_proba, train_proba = {}, {}
    for name in ensemble.members_names():
        member = ensemble.new_member(name).fit(X_train, y[train])
        test_proba[name] = align_proba(member.predict_proba(X_test), member.classes_, classes)
        train_proba[name] = align_proba(member.predict_proba(X_train), member.classes_, classes)
    return MemberFold(index, train, test, test_proba, train_proba, time.perf_counter() - started)


def warmup_block(y: np.ndarray, ts: np.ndarray, t1: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(train, test) positions splitting ``rows`` in half, the train half purged of labels that
    end at or after the test half starts; None when the train half lacks a class's minimum rows."""
    if len(rows) < 4 * MIN_CLASS_COUNT:
        return None
    cut = len(rows) // 2
    test = rows[cut:]
    train = rows[:cut][t1[rows[:cut]] < ts[test[0]]]
    found, counts = np.unique(y[train], return_counts=True)
    if len(found) < len(np.unique(y[rows])) or counts.min() < MIN_CLASS_COUNT:
        return None
    return train, test


def fit_production_members(ensemble: OutOfFoldEnsemble, X, y: np.ndarray, rows: np.ndarray) -> tuple[dict, float]:
    started = time.perf_counter()
    members = {name: ensemble.new_member(name).fit(X.iloc[rows], y[rows]) for name in ensemble.members_names()}
    return members, time.perf_counter() - started


def earlier_oof(folds: list[MemberFold], before: int, allowed: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows and member probabilities of blocks ``j < before`` that lie in ``allowed`` rows."""
    rows, probas = [], {}
    for fold in folds[:before]:
        keep = np.isin(fold.test, allowed)
        rows.append(fold.test[keep])
        for name, proba in fold.test_proba.items():
            probas.setdefault(name, []).append(proba[keep])
    if not rows:
        return np.zeros(0, dtype=np.int64), {}
    return np.concatenate(rows), {name: np.vstack(chunks) for name, chunks in probas.items()}


def weigh_fold(template: OutOfFoldEnsemble, X, y: np.ndarray, folds: list[MemberFold], k: int) -> OutOfFoldEnsemble:
    """Fold ``k``'s ensemble weights, fit on earlier blocks inside its training rows."""
    fold = folds[k]
    rows, oof = earlier_oof(folds, k, fold.train)
    weighting = template if len(rows) >= 2 * len(np.unique(y)) else _equal(template)
    return weighting.assemble(X.iloc[fold.train], y[fold.train], None, oof, y[rows])


def _equal(template: OutOfFoldEnsemble) -> OutOfFoldEnsemble:
    return clone(template).set_params(method="equal")


def ensemble_accuracy(weights: OutOfFoldEnsemble, proba: dict[str, np.ndarray], y: np.ndarray) -> float:
    return float(accuracy_score(y, weights.classes_[weights.combine(proba).argmax(axis=1)]))
