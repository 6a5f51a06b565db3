"""`candor backtest` honours abstentions (issue 24): a bar where the served forecast would abstain is
flat in the replay, as it is on paper — checked on hand-made bars and on the CLI's rule binding."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from candor.backtest import BacktestConfig, run_backtest
from candor.backtest.replay import flat_where
from candor.config import load_config
from candor.data.bars import make_bars

OPENS = [100.0, 100.0, 110.0, 121.0, 133.1, 146.41]


def _bars():
    index = pd.date_range("2024-01-01", periods=len(OPENS), freq="D", tz="UTC")
    frame = pd.DataFrame({"open": OPENS, "high": [o * 1.5 for o in OPENS], "low": [o * 0.5 for o in OPENS],
                          "close": OPENS, "volume": 1.0}, index=index)
    return make_bars(frame, "SYN", "d1", "24/7")


def test_abstaining_rows_are_flat():
    bars = _bars()
    proba = pd.DataFrame([[0.1, 0.1, 0.8]] * 4, index=bars.index[:4], columns=[-1, 0, 1])
    free = BacktestConfig(cost_bps=0.0)
    every = run_backtest(proba, bars, free)
    some = run_backtest(flat_where(proba, np.array([False, True, False, True])), bars, free)
    assert list(every.positions) == [1.0] * 4 and list(some.positions) == [1.0, 0.0, 1.0, 0.0]
    assert every.metrics.total_return == pytest.approx(1.1 ** 4 - 1)
    assert some.metrics.total_return == pytest.approx(1.1 ** 2 - 1)
    assert proba.iloc[1].tolist() == [0.1, 0.1, 0.8]  # the caller's frame is left as it was


def test_the_cli_binds_the_forecast_jobs_rule():
    from candor.cli.backtest import _abstention

    proba = pd.DataFrame([[0.1, 0.1, 0.8]] * 3, columns=[-1, 0, 1])
    no_edge = SimpleNamespace(manifest=SimpleNamespace(report=SimpleNamespace(
        oos=SimpleNamespace(verdict="no significant edge"), conformal=None)))
    counted: list = []
    config = load_config(environ={})
    assert _abstention(no_edge, config, counted)(proba).tolist() == [True] * 3 and counted == [(3, 3)]
    lenient = load_config(environ={}, overrides={"forecast": {"abstain_without_edge": False}})
    assert not _abstention(no_edge, lenient, counted)(proba).any() and counted[-1] == (0, 3)
