"""Walk-forward stacking: a fold's weights come only from earlier blocks inside its training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from candor.blend import Blend
from candor.training.stacking import MemberFold, blend_fold, earlier_oof, warmup_block


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
    rows, proba = earlier_oof(folds, 0, folds[0].train)
    assert rows.size == 0 and proba["a"].shape == (0, 3)  # every member named, with no rows


def test_the_member_that_was_right_out_of_fold_gets_the_weight():
    rng = np.random.default_rng(0)
    y = rng.choice([-1, 0, 1], size=60)
    folds = [_fold(0, range(0, 20), range(20, 30), "logreg", "rf", y),
             _fold(1, range(0, 30), range(30, 45), "logreg", "rf", y)]
    template = Blend("ridge")
    first = blend_fold(template, y, folds, 0)
    assert first.weights_ == {"logreg": 0.5, "rf": 0.5}  # nothing earlier: equal weights
    assert first.prior_weight_ == 1.0  # and no rows to fit the prior's share on: the prior says it
    second = blend_fold(template, y, folds, 1)
    assert second.weights_["logreg"] == 1.0 and second.weights_["rf"] == 0.0
    assert not hasattr(template, "weights_")  # the template itself is never fitted


def test_rolling_window_weights_come_only_from_earlier_blocks_inside_the_window():
    """With a rolling window, early blocks fall out of later folds' training rows and their
    predictions must stop counting: here the member right on those old blocks is wrong inside
    the window, so it must lose the weight once the window has moved past them."""
    from candor.split import PurgedWalkForward

    n, horizon = 700, 5
    ts = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    t1 = pd.Series(ts[np.minimum(np.arange(n) + horizon, n - 1)], index=ts)
    X = pd.DataFrame({"x": np.zeros(n)}, index=ts)
    y = np.tile([-1, 0, 1], n // 3 + 1)[:n]
    splits = PurgedWalkForward(5, window="rolling", train_size=200, test_size=100).folds(X, t1=t1)
    onehot = lambda labels: np.eye(3)[np.searchsorted([-1, 0, 1], labels)]  # noqa: E731
    old_end = splits[0].test[-1]  # block 0: "old" is right there, "new" wrong; everywhere else the reverse
    right = lambda rows, old: onehot(np.where((rows <= old_end) == old, y[rows], -y[rows]))  # noqa: E731
    folds = [MemberFold(s.index, s.train, s.test,
                        test_proba={"logreg": right(s.test, True), "rf": right(s.test, False)},
                        train_proba={"logreg": right(s.train, True), "rf": right(s.train, False)}, seconds=0.0)
             for s in splits]
    template = Blend("ridge")
    for k, fold in enumerate(folds):
        rows, _ = earlier_oof(folds, k, fold.train)
        assert set(rows) <= set(fold.train) and (rows < fold.test[0]).all()
        assert set(rows) == set(fold.train) & {r for f in folds[:k] for r in f.test}
    first_without_block_0 = next(k for k, f in enumerate(folds) if f.train.min() > old_end)
    assert first_without_block_0 < len(folds)  # the window really moves past block 0
    weights = blend_fold(template, y, folds, first_without_block_0).weights_
    assert weights["rf"] == 1.0 and weights["logreg"] == 0.0
    assert blend_fold(template, y, folds, 1).weights_["logreg"] == 1.0  # block 0 still inside


def test_fold_0_without_a_warm_up_block_predicts_the_prior():
    """Issue 22 item 14 (GOOGL daily: log-loss 0.866 vs the prior's 0.857): a class with fewer than 5
    rows in the first half of fold 0's training rows leaves it no warm-up block, hence no OOF rows;
    its blend used to run with λ = 0 (the members' raw blend). It must say the prior."""
    n, horizon = 400, 5
    ts = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC").to_numpy()
    t1 = ts[np.minimum(np.arange(n) + horizon, n - 1)]
    y = np.tile([-1, 1], n // 2)
    y[[40, 90, 130, 160, 170, 180, 190]] = 0  # 3 rows of class 0 in the first half of rows 0-199
    train, test = np.arange(200), np.arange(205, 300)
    assert warmup_block(y, ts, t1, train) is None
    onehot = lambda labels: np.eye(3)[np.searchsorted([-1, 0, 1], labels)]  # noqa: E731
    confident = {"rf": 0.9 * onehot(-y[test]) + 0.1 / 3}  # a member that is confidently wrong
    fold = MemberFold(0, train, test, confident, {"rf": onehot(y[train])}, seconds=0.0)
    blend = blend_fold(Blend("ridge"), y, [fold], 0)
    assert blend.prior_weight_ == 1.0
    prior = np.array([np.mean(y[train] == c) for c in (-1, 0, 1)])
    np.testing.assert_allclose(blend.predict_proba(confident), np.tile(prior, (len(test), 1)))


def test_a_rolling_window_trains_with_its_default_size():
    """Issue 22 item 15: `[split] window = "rolling"` alone trains, each fold on at most
    ROLLING_TRAIN_SIZE rows (the default defined once, in SplitSpec)."""
    from candor.config import load_config
    from candor.data.synthetic import planted_signal
    from candor.records.specs import ROLLING_TRAIN_SIZE
    from candor.training.run import train

    config = load_config(environ={}, overrides={
        "models": {"models": ("logreg",)}, "split": {"folds": 3, "window": "rolling"},
        "evaluation": {"n_boot": 200, "importance_repeats": 0},
    })
    assert config.split.train_size == ROLLING_TRAIN_SIZE
    result = train(planted_signal(2600, seed=3, strength=1.0), config)
    rows = [f.train_rows for f in result.folds]
    assert max(rows) == ROLLING_TRAIN_SIZE and rows[0] < ROLLING_TRAIN_SIZE  # the window filled, then rolled
    assert result.oos.n > 0 and result.oos.accuracy is not None
