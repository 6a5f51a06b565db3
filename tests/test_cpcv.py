"""Combinatorial purged CV: path count, label-interval purging both sides, skfolio's index convention."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from candor.errors import ConfigError
from candor.split import CombinatorialPurgedCV, cpcv_n_paths


def shifted_t1(n: int, horizon: int) -> tuple[pd.DataFrame, pd.Series]:
    """n daily rows whose label ends ``horizon`` bars later (clipped at the last bar)."""
    ts = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    t1 = pd.Series(ts[np.minimum(np.arange(n) + horizon, n - 1)], index=ts)
    return pd.DataFrame({"x": np.arange(n, dtype=float)}, index=ts), t1


def positional_reference(n: int, groups: int, k: int, purged: int, embargo: int):
    """The positional convention of skfolio's CombinatorialPurgedCV, written out independently:
    group g = min(i // (n // N), N − 1); a training row is not a test row, not one of the
    ``purged`` rows before a test block, nor one of the ``purged + embargo`` rows after it.

    Checked once against skfolio 1.12.2 itself (``CombinatorialPurgedCV(n_folds=5, n_test_folds=2,
    purged_size=3, embargo_size=2)`` on 150 rows: identical train and test indices); skfolio is not
    a dependency (it brings cvxpy and plotly), so the suite holds this written-out rule instead."""
    group = np.minimum(np.arange(n) // (n // groups), groups - 1)
    for combo in __import__("itertools").combinations(range(groups), k):
        is_test = np.isin(group, combo)
        keep = ~is_test
        for i in np.flatnonzero(is_test):
            if i == 0 or not is_test[i - 1]:  # block start
                keep[max(i - purged, 0):i] = False
            if i == n - 1 or not is_test[i + 1]:  # block end
                keep[i + 1:i + 1 + purged + embargo] = False
        yield np.flatnonzero(keep), np.flatnonzero(is_test)


@pytest.mark.parametrize(("groups", "k"), [(6, 2), (5, 3), (4, 1)])
def test_path_count_is_comb_times_k_over_n_and_paths_cover_every_group_once(groups, k):
    cv = CombinatorialPurgedCV(groups, k)
    assert cv.get_n_splits() == math.comb(groups, k)
    assert cv.n_paths == cpcv_n_paths(groups, k) == math.comb(groups, k) * k // groups == math.comb(groups - 1, k - 1)
    paths = cv.path_splits()
    assert paths.shape == (cv.n_paths, groups)
    combos = cv.combinations
    for p in range(cv.n_paths):
        for g in range(groups):
            assert g in combos[paths[p, g]]  # the split supplying group g tests group g
    # every (split, test group) pair is used by exactly one path
    used = {(int(paths[p, g]), g) for p in range(cv.n_paths) for g in range(groups)}
    assert len(used) == cv.n_paths * groups == sum(len(c) for c in combos)


@pytest.mark.parametrize(("groups", "k", "horizon", "embargo"), [(6, 2, 3, 2), (5, 2, 0, 4), (7, 3, 5, 0)])
def test_splits_equal_the_positional_reference_where_purging_conventions_agree(groups, k, horizon, embargo):
    # t1 = ts + horizon bars: label-interval purging removes `horizon` rows before and after each block
    X, t1 = shifted_t1(203, horizon)
    ours = CombinatorialPurgedCV(groups, k, embargo=embargo).folds(X, t1=t1)
    reference = list(positional_reference(len(X), groups, k, horizon, embargo))
    assert len(ours) == len(reference)
    for fold, (train, test) in zip(ours, reference):
        np.testing.assert_array_equal(fold.test, test)
        np.testing.assert_array_equal(fold.train, train)


def test_no_training_label_interval_overlaps_a_test_group_with_irregular_label_ends():
    rng = np.random.default_rng(3)
    n = 240
    ts = pd.date_range("2021-01-01", periods=n, freq="h", tz="UTC")
    ends = np.minimum(np.arange(n) + rng.integers(0, 12, n), n - 1)  # triple-barrier-like: varying lengths
    t1 = pd.Series(ts[ends], index=ts)
    X = pd.DataFrame({"x": np.zeros(n)}, index=ts)
    cv = CombinatorialPurgedCV(6, 2, embargo=3)
    for fold in cv.folds(X, t1=t1):
        assert not np.isin(fold.train, fold.test).any()
        train_start, train_end = ts[fold.train].asi8, pd.DatetimeIndex(t1.iloc[fold.train]).asi8
        blocks = np.split(fold.test, np.flatnonzero(np.diff(fold.test) != 1) + 1)
        for block in blocks:
            lo, hi = ts[block[0]].value, pd.DatetimeIndex(t1.iloc[block]).asi8.max()
            assert not ((train_start <= hi) & (train_end >= lo)).any()
            # the embargo: the 3 rows after the test span's last row are not trained on
            last = int(np.searchsorted(ts.asi8, hi, side="right")) - 1
            assert not np.isin(np.arange(last + 1, last + 4), fold.train).any()
    assert any(f.train.max() > f.test.max() for f in cv.folds(X, t1=t1))  # later rows do train


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="smaller than"):
        CombinatorialPurgedCV(4, 4)
    with pytest.raises(ConfigError, match="too many"):
        CombinatorialPurgedCV(6, 2).folds(pd.DataFrame({"x": range(4)}))
