"""The drift alarm's false-alarm rate and detection delay, by simulation (issue 24, item 2).

A "year" is 252 daily checks, each bringing one resolved forecast per series × horizon (the
default ``drift.forecasts_per_year``). Stationary: hits at the champion's OOS accuracy p0. Drop:
hits at p0 − 0.10. The simulations are numpy over thousands of paths at once (well under a second).
"""

from __future__ import annotations

import numpy as np
import pytest

from candor.config import load_config
from candor.ops.alarms import alternative, cusum, cusum_paths, detection_delay, false_alarm_rate, threshold_for
from candor.ops.drift import sequential_status, scored_hits

YEAR, RUNS = 252, 10_000
DRIFT = load_config(None, {}, environ={}).drift


def _first_alarm(paths: np.ndarray, threshold: float) -> np.ndarray:
    crossed = paths >= threshold
    return np.where(crossed.any(axis=-1), crossed.argmax(axis=-1) + 1, np.iinfo(np.int64).max)


@pytest.mark.parametrize("p0", [0.45, 0.55])
def test_stationary_forecasts_give_at_most_5_percent_false_alarms_a_year(p0):
    p1 = alternative(p0, DRIFT.detect_drop)
    h = threshold_for(p0, p1, YEAR, DRIFT.false_alarms_per_year)
    h_emergency = threshold_for(p0, p1, YEAR, DRIFT.emergency_false_alarms_per_year)
    hits = np.random.default_rng(24).random((RUNS, YEAR)) < p0
    paths = cusum_paths(hits, p0, p1)
    far = float((paths >= h).any(axis=1).mean())  # any alarm (drift or emergency) within the year
    se = (0.05 * 0.95 / RUNS) ** 0.5
    assert far <= 0.05, far
    assert abs(far - false_alarm_rate(p0, p1, h, YEAR)) < 3.5 * se  # the chain's rate is the real one
    assert float((paths >= h_emergency).any(axis=1).mean()) <= 0.01 + 3.5 * (0.01 * 0.99 / RUNS) ** 0.5
    assert (paths[:, -1] >= h / 2).mean() < 0.25  # monitor (no alert by default) is common but not the rule


@pytest.mark.parametrize("p0", [0.45, 0.55])
def test_a_10_point_drop_is_caught_within_the_stated_delay_in_90_percent_of_runs(p0):
    p1 = alternative(p0, DRIFT.detect_drop)
    h = threshold_for(p0, p1, YEAR, DRIFT.false_alarms_per_year)
    delay = detection_delay(p0, p1, h)  # the stated delay: 90% of drops within this many forecasts
    assert 250 <= delay <= 320  # ~290 resolved forecasts at the default 5%/year (docs/operations.md)
    rng = np.random.default_rng(7)
    before, after = 120, delay  # a stationary stretch, then the drop
    rate = np.r_[np.full(before, p0), np.full(after, p1)]
    paths = cusum_paths(rng.random((RUNS, before + after)) < rate, p0, p1)
    first = _first_alarm(paths, h)
    clean = first > before  # runs that had not (falsely) alarmed before the drop
    caught = float((first[clean] <= before + delay).mean())
    assert caught >= 0.90, caught
    from_start = _first_alarm(cusum_paths(rng.random((RUNS, delay)) < p1, p0, p1), h)
    assert float((from_start <= delay).mean()) >= 0.895  # from S = 0, the slowest start: 0.9 up to MC error


def test_the_statistic_is_pages_recursion_and_better_models_alarm_less():
    rng = np.random.default_rng(1)
    hits = rng.random(500) < 0.5
    up, down = np.log(0.6 / 0.5), np.log(0.4 / 0.5)  # a miss, a hit
    s, expected = 0.0, []
    for hit in hits:
        s = max(0.0, s + (down if hit else up))
        expected.append(s)
    np.testing.assert_allclose(cusum_paths(hits, 0.5, 0.4), expected)
    reading = cusum(hits, 0.5, 0.4, threshold=2.0)
    assert reading.n == 500 and reading.statistic == pytest.approx(expected[-1])
    assert reading.first_alarm == next(i + 1 for i, v in enumerate(expected) if v >= 2.0)
    h = threshold_for(0.5, 0.4, YEAR, 0.05)
    assert false_alarm_rate(0.5, 0.4, h, YEAR) <= 0.05 < false_alarm_rate(0.5, 0.4, h * 0.9, YEAR)
    # the null is p >= p0: a champion doing better than its OOS accuracy alarms less still
    better = cusum_paths(rng.random((4000, YEAR)) < 0.55, 0.5, 0.4)
    assert (better >= h).any(axis=1).mean() < 0.01
    with pytest.raises(ValueError, match="0 < p1 < p0 < 1"):
        cusum_paths(hits, 0.4, 0.5)


class _Row:
    def __init__(self, ts, direction, realized):
        self.bar_ts, self.direction, self.realized_direction = ts, direction, realized


def test_overlapping_forecasts_are_thinned_and_abstentions_left_out():
    import pandas as pd
    index = pd.date_range("2024-01-01", periods=20, freq="D", tz="UTC")
    rows = [_Row(ts, "NONE" if i == 5 else "BULLISH", "BULLISH" if i % 2 == 0 else "BEARISH")
            for i, ts in enumerate(index)]
    assert scored_hits(rows, index, 5, thin=False).tolist() == [i % 2 == 0 for i in range(20) if i != 5]
    assert scored_hits(rows, index, 5, thin=True).tolist() == [True, True, False, True]  # bars 0, 6, 11, 16
    status, reading = sequential_status(np.ones(40, bool), 0.55, DRIFT)
    assert status == "normal" and reading.cusum.statistic == 0.0 and reading.delay_90 == detection_delay(
        0.55, 0.45, reading.cusum.threshold)


def test_the_drift_job_states_the_realised_coverage_of_the_conformal_sets():
    from types import SimpleNamespace

    from candor.ops.drift import _set_coverage_note

    rows = [SimpleNamespace(prediction_set=["BULLISH", "NEUTRAL"], realized_direction="BULLISH"),
            SimpleNamespace(prediction_set=["BEARISH"], realized_direction="BULLISH"),
            SimpleNamespace(prediction_set=None, realized_direction="BULLISH"),  # an older champion: no set
            SimpleNamespace(prediction_set=["BULLISH"], realized_direction="BULLISH"),
            SimpleNamespace(prediction_set=["NEUTRAL"], realized_direction="NEUTRAL")]
    assert _set_coverage_note(rows, 0.9) == ["conformal sets held the outcome 75% of 4 resolved forecasts (target 90%)"]
    assert _set_coverage_note(rows[2:3], 0.9) == []
