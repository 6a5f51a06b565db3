"""Walk-forward stacking: a fold's weights come only from earlier blocks inside its training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from candor.ensemble import OutOfFoldEnsemble
from candor.walkforward import MemberFold, earlier_oof, weigh_fold


def _fold(index, train, test, good, bad, y):
    """Member 'good' predicts the truth on its test block, member 'bad' the opposite class."""
    onehot = lambda labels: np.eye(3)[np.searchsorted([-1, 0, 1], labels)]  # noqa: E731
    return MemberFold(index, np.asarray(train), np.asarray(test),
                      test_proba={good: onehot(y[test]), bad: onehot(-y[test])},
                      train_proba={good: onehot(y[train]), bad: onehot(-y[train])}, seconds=0.0)


def test_earlier_oof_keeps_only_earlier_blocks_and_allowed_rows():
    y = np.tile([-1, 0, 1], 20)
    folds = [_fold(0, range(0, 20), range(20, 30), "a", "b", y),
             _fold(1, range(0, 28), range(30, 40), "a", "b", y),  # rows 28-29 purged from fold 1's training
             _fold(2, range(0, 38), range(40, 50), "a", "b", y)]
    rows, proba = earlier_oof(folds, 1, folds[1].train)
    assert rows.tolist() == list(range(20, 28))
    assert proba["a"].shape == (8, 3)
    rows, _ = earlier_oof(folds, 2, folds[2].train)
    assert rows.tolist() == list(range(20, 38))
    assert earlier_oof(folds, 0, folds[0].train)[0].size == 0


def test_the_member_that_was_right_out_of_fold_gets_the_weight():
    rng = np.random.default_rng(0)
    y = rng.choice([-1, 0, 1], size=60)
    X = pd.DataFrame({"x": rng.normal(size=60)})
    folds = [_fold(0, range(0, 20), range(20, 30), "logreg", "rf", y),
             _fold(1, range(0, 30), range(30, 45), "logreg", "rf", y)]
    template = OutOfFoldEnsemble(members=("logreg", "rf"))
    first = weigh_fold(template, X, y, folds, 0)
    assert first.weights_ == {"logreg": 0.5, "rf": 0.5}  # nothing earlier: equal weights
    second = weigh_fold(template, X, y, folds, 1)
    assert second.weights_["logreg"] == 1.0 and second.weights_["rf"] == 0.0
