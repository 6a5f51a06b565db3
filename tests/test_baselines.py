"""Baselines: majority, stratified, and persistence that only uses labels already resolved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor import baselines
from candor.errors import ConfigError


def test_majority_repeats_most_frequent_training_class():
    np.testing.assert_array_equal(baselines.majority([1, 0, 1, -1, 1], 3), [1, 1, 1])
    np.testing.assert_array_equal(baselines.majority([1, -1], 2), [-1, -1])  # tie → smallest


def test_majority_empty_training_is_an_error():
    with pytest.raises(ConfigError, match="`y_train` is empty"):
        baselines.majority([], 3)


def test_stratified_is_seeded_and_follows_frequencies():
    y = np.array([1] * 700 + [0] * 200 + [-1] * 100)
    a = baselines.stratified(y, 20000, random_state=3)
    np.testing.assert_array_equal(a, baselines.stratified(y, 20000, random_state=3))
    assert not np.array_equal(a, baselines.stratified(y, 20000, random_state=4))
    assert abs((a == 1).mean() - 0.7) < 0.02 and abs((a == -1).mean() - 0.1) < 0.02
    assert set(np.unique(a)) <= {-1, 0, 1}


def _daily(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC")


def test_persistence_waits_until_the_label_has_resolved():
    ts = _daily(6)
    y = np.array([1, -1, 0, 1, -1, 0])
    t1 = ts + pd.Timedelta(days=2)  # each label resolves 2 bars later
    out = baselines.persistence(ts, y, t1, np.arange(6), fallback=9)
    # row 0, 1: nothing resolved yet → fallback; row 2 (t=Jan 3) sees row 0 (t1=Jan 3) only,
    # never row 1 whose label is the "previous label" a naive persistence would use.
    np.testing.assert_array_equal(out, [9, 9, 1, -1, 0, 1])


def test_persistence_label_known_exactly_at_t1_not_before():
    ts = _daily(3)
    y = np.array([-1, 1, 1])
    t1 = pd.DatetimeIndex([ts[1] + pd.Timedelta(hours=1), ts[2], ts[2] + pd.Timedelta(days=5)])
    # row 1 at ts[1]: row 0 resolves one hour later → not known; row 2 at ts[2]: row 0 and
    # row 1 both resolved (row 1 exactly at t) → the most recent, row 1.
    np.testing.assert_array_equal(baselines.persistence(ts, y, t1, [1, 2], fallback=0), [0, 1])


def test_persistence_uses_rows_from_any_fold_and_non_monotone_t1():
    ts = _daily(5)
    y = np.array([1, -1, 0, -1, 1])
    # triple-barrier style: row 1's barrier hits late, row 2's early
    t1 = pd.DatetimeIndex([ts[1], ts[4], ts[3], ts[4], ts[4] + pd.Timedelta(days=3)])
    out = baselines.persistence(ts, y, t1, [3, 4], fallback=7)
    # at ts[3]: resolved rows 0 (t1=ts1) and 2 (t1=ts3) → most recent row 2 → 0
    # at ts[4]: rows 0,1,2,3 resolved → most recent row 3 → -1
    np.testing.assert_array_equal(out, [0, -1])


def test_persistence_nat_t1_is_never_known_and_numeric_times_work():
    ts = np.arange(4)
    y = np.array([1, -1, 0, 1])
    t1 = np.array([1.0, np.nan, 3.0, 9.0])
    np.testing.assert_array_equal(baselines.persistence(ts, y, t1, [1, 2, 3], fallback=5), [1, 1, 0])


def test_persistence_naive_timestamps_and_length_check():
    ts = pd.date_range("2021-01-01", periods=4, freq="h")
    out = baselines.persistence(ts, np.array([1, 0, -1, 1]), ts + pd.Timedelta(hours=1), [0, 3], fallback=0)
    np.testing.assert_array_equal(out, [0, -1])
    with pytest.raises(ConfigError, match="same length"):
        baselines.persistence(ts, np.array([1, 0]), ts, [0], fallback=0)


def test_persistence_matches_a_loop_on_random_data():
    rng = np.random.default_rng(0)
    n = 300
    ts = _daily(n)
    t1 = ts + pd.to_timedelta(rng.integers(1, 8, n), unit="D")
    y = rng.choice([-1, 0, 1], n)
    test = np.arange(150, 300)
    fast = baselines.persistence(ts, y, t1, test, fallback=2)
    slow = []
    for p in test:
        known = np.flatnonzero(t1 <= ts[p])
        slow.append(y[known.max()] if len(known) else 2)
    np.testing.assert_array_equal(fast, slow)
