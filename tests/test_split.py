"""Splitters on real (S&P 500 daily) and synthetic labels: no overlap, order, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from candor.data.datasets import load_dataset
from candor.data.synthetic import random_walk
from candor.errors import ConfigError
from candor.labels import LabelSpec, make_labels
from candor.split import Fold, PurgedWalkForward, holdout_split

HORIZON = 5


def features(bars: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    log_close = np.log(bars["close"])
    frame = pd.DataFrame({f"r{k}": log_close.diff(k) for k in (1, 5, 20)}).loc[index]
    return frame.fillna(0.0)


def case(bars: pd.DataFrame, kind: str = "threshold") -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    labels = make_labels(bars, LabelSpec(kind, horizon=HORIZON))
    return features(bars, labels.y.index), labels.y, labels.t1


@pytest.fixture(scope="module")
def sp500() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    return case(load_dataset("sp500"))


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    return case(random_walk(1500, seed=4, timeframe="h1"), kind="triple")


@pytest.fixture(params=["sp500", "synthetic"])
def data(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    return request.getfixturevalue(request.param)


# ----------------------------------------------------------------------------- property checks


def blocks(positions: np.ndarray) -> list[np.ndarray]:
    return np.split(positions, np.flatnonzero(np.diff(positions) != 1) + 1)


def assert_no_overlap(fold: Fold, ts: np.ndarray, t1: np.ndarray) -> None:
    """No training row's [ts, t1] overlaps the span [ts, max t1] of any contiguous test block."""
    for block in blocks(fold.test):
        start, end = ts[block[0]], t1[block].max()
        overlap = (ts[fold.train] <= end) & (t1[fold.train] >= start)
        assert not overlap.any(), f"fold {fold.index}: {overlap.sum()} training rows overlap"


def assert_ordered(fold: Fold, n: int) -> None:
    for part in (fold.train, fold.test):
        assert part.dtype.kind == "i" and (np.diff(part) > 0).all()
        assert part.min() >= 0 and part.max() < n
    assert not np.isin(fold.train, fold.test).any()


def times(X: pd.DataFrame, t1: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    return X.index.to_numpy(), t1.to_numpy()


# ----------------------------------------------------------------------------- walk-forward


@pytest.mark.parametrize(
    "splitter",
    [
        PurgedWalkForward(5),
        PurgedWalkForward(4, purge=10, min_train_size=100),
        PurgedWalkForward(6, window="rolling", train_size=300, test_size=120),
    ],
    ids=["expanding", "expanding-purge10", "rolling"],
)
def test_walk_forward_properties(data, splitter: PurgedWalkForward) -> None:
    X, y, t1 = data
    ts, end = times(X, t1)
    n = len(X)
    folds = splitter.folds(X, t1=t1)
    assert len(folds) == splitter.get_n_splits() == splitter.n_splits
    size = splitter.test_size or n // (splitter.n_splits + 1)
    for k, fold in enumerate(folds):
        assert fold.index == k
        assert_ordered(fold, n)
        assert_no_overlap(fold, ts, end)
        assert fold.train.max() < fold.test.min()  # train strictly before test
        np.testing.assert_array_equal(fold.test, np.arange(fold.test[0], fold.test[0] + size))
        # exactly the earlier rows whose label resolves before the test block, minus `purge`
        start = fold.test[0]
        usable = np.flatnonzero((end < ts[start]) & (np.arange(n) < start - splitter.purge))
        if splitter.window == "rolling":
            assert fold.n_train == splitter.train_size
            usable = usable[-splitter.train_size :]
        np.testing.assert_array_equal(fold.train, usable)
        assert fold.train.max() <= start - 1 - splitter.purge
    # test blocks are consecutive, disjoint, and end with the data
    starts = [f.test[0] for f in folds]
    assert all(b.test[0] == a.test[-1] + 1 for a, b in zip(folds, folds[1:]))
    assert folds[-1].test[-1] == n - 1 and len(set(starts)) == len(starts)


def test_walk_forward_without_purge_would_leak(sp500) -> None:
    """The overlap check has teeth: the same folds without t1 keep overlapping rows."""
    X, _, t1 = sp500
    fold = PurgedWalkForward(5).folds(X)[0]
    ts, end = times(X, t1)
    assert fold.train.max() == fold.test[0] - 1
    with pytest.raises(AssertionError, match="training rows overlap"):
        assert_no_overlap(fold, ts, end)


def test_walk_forward_purge_bars_dropped_without_t1(synthetic) -> None:
    X, _, _ = synthetic
    for fold in PurgedWalkForward(3, purge=7).folds(X):
        assert fold.train.max() == fold.test[0] - 8


def test_t1_sources_agree(sp500) -> None:
    """groups, folds(t1=), constructor t1, and t1 as a plain array give the same folds."""
    X, _, t1 = sp500
    reference = [(f.train, f.test) for f in PurgedWalkForward(3).folds(X, t1=t1)]
    variants = [
        list(PurgedWalkForward(3).split(X, groups=t1)),
        list(PurgedWalkForward(3).split(X, groups=t1.to_numpy())),
        list(PurgedWalkForward(3, t1=t1).split(X)),
        # a wider t1 (all labels) is aligned to X's index
        list(PurgedWalkForward(3, t1=pd.concat([t1, t1.iloc[:0]])).split(X)),
        # an ndarray X takes its row times from a t1 Series
        list(PurgedWalkForward(3, t1=t1).split(X.to_numpy())),
    ]
    for pairs in variants:
        assert len(pairs) == len(reference)
        for (train, test), (ref_train, ref_test) in zip(pairs, reference):
            np.testing.assert_array_equal(train, ref_train)
            np.testing.assert_array_equal(test, ref_test)


def test_fold_spans(synthetic) -> None:
    X, _, t1 = synthetic
    fold = PurgedWalkForward(3).folds(X, t1=t1)[1]
    assert fold.test_span == (X.index[fold.test[0]], X.index[fold.test[-1]])
    assert fold.train_span[0] == X.index[0] and fold.train_span[1] < fold.test_span[0]
    with pytest.raises(ConfigError, match="no row times"):
        _ = PurgedWalkForward(3).folds(np.zeros((100, 2)))[0].train_span


def test_too_many_folds_names_the_max_that_fits(sp500) -> None:
    X, _, t1 = sp500
    splitter = PurgedWalkForward(500, test_size=10, min_train_size=4000, t1=t1)
    with pytest.raises(ConfigError, match=r"`n_splits` = 500 is too many for 5026 rows") as info:
        splitter.folds(X)
    fits = int(str(info.value).split("at most ")[1].split(" fit")[0])
    assert 90 < fits < 105  # (5026 − 4000 − purged) // 10
    assert len(PurgedWalkForward(fits, test_size=10, min_train_size=4000, t1=t1).folds(X)) == fits
    with pytest.raises(ConfigError, match=rf"at most {fits} fit"):
        PurgedWalkForward(fits + 1, test_size=10, min_train_size=4000, t1=t1).folds(X)


def test_too_many_folds_when_blocks_are_empty() -> None:
    X = np.zeros((10, 1))
    with pytest.raises(ConfigError, match=r"`n_splits` = 10 is too many for 10 rows.*at most 8 fit"):
        list(PurgedWalkForward(10, purge=1).split(X))
    with pytest.raises(ConfigError, match=r"no fold fits"):
        PurgedWalkForward(1, purge=20).folds(X)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_splits": 0}, r"`n_splits` must be >= 1\. Got 0\."),
        ({"n_splits": 2.0}, r"`n_splits` must be an integer >= 1\. Got 2\.0\."),
        ({"purge": -1}, r"`purge` must be >= 0\. Got -1\."),
        ({"embargo": -2}, r"`embargo` must be >= 0\. Got -2\."),
        ({"test_size": 0}, r"`test_size` must be >= 1\. Got 0\."),
        ({"window": "sliding"}, r"`window` must be 'expanding' or 'rolling'\. Got 'sliding'\."),
        ({"window": "rolling"}, r"`train_size` is required when window='rolling'\. Got None\."),
    ],
)
def test_walk_forward_config_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PurgedWalkForward(**kwargs)


def test_t1_errors(sp500) -> None:
    X, _, t1 = sp500
    with pytest.raises(ConfigError, match=r"`t1` needs the rows' times"):
        PurgedWalkForward(3).folds(X.to_numpy(), t1=t1.to_numpy())
    with pytest.raises(ConfigError, match=r"`t1` is missing for 10 row\(s\) of X, first at 2018"):
        PurgedWalkForward(3, t1=t1.iloc[:-10]).folds(X)
    with pytest.raises(ConfigError, match=r"`t1` must have one value per row of X \(5026\)\. Got 5"):
        PurgedWalkForward(3).folds(X, t1=t1.to_numpy()[:5])
    with pytest.raises(ConfigError, match=r"`t1` must be >= each row's own time"):
        PurgedWalkForward(3).folds(X, t1=pd.Series(X.index - pd.Timedelta(days=1), index=X.index))


# ----------------------------------------------------------------------------- sklearn protocol


@pytest.mark.parametrize(
    "cv",
    [
        PurgedWalkForward(4),
        PurgedWalkForward(4, window="rolling", train_size=500),
    ],
    ids=["expanding", "rolling"],
)
def test_cross_val_score(sp500, cv) -> None:
    X, y, t1 = sp500
    scores = cross_val_score(LogisticRegression(max_iter=200), X, y, cv=cv, groups=t1)
    assert len(scores) == cv.get_n_splits() and np.isfinite(scores).all()
    assert ((scores > 0.2) & (scores < 0.8)).all()


# ----------------------------------------------------------------------------- holdout


def test_holdout_split(data) -> None:
    X, _, t1 = data
    n = len(X)
    dev, hold = holdout_split(X.index, t1, 0.2)
    assert len(hold) == int(np.ceil(0.2 * n))
    np.testing.assert_array_equal(hold, np.arange(n - len(hold), n))
    # development = exactly the rows whose label resolves before the holdout starts
    np.testing.assert_array_equal(dev, np.flatnonzero(t1.to_numpy() < X.index[hold[0]]))
    assert dev[-1] >= n - len(hold) - 1 - HORIZON
    dev_purged, hold_250 = holdout_split(X.index, t1, 250, purge=20)
    assert len(hold_250) == 250 and dev_purged[-1] == n - 250 - 21


def test_holdout_errors(synthetic) -> None:
    X, _, t1 = synthetic
    with pytest.raises(ConfigError, match=r"`holdout` as a fraction must be in \(0, 1\)\. Got 1\.5"):
        holdout_split(X.index, t1, 1.5)
    with pytest.raises(ConfigError, match=r"`holdout` = 0 must leave at least one holdout"):
        holdout_split(X.index, t1, 0)
    with pytest.raises(ConfigError, match=r"`holdout` must be a row count or a fraction"):
        holdout_split(X.index, t1, "10%")  # type: ignore[arg-type]
