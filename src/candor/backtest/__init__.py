"""Backtest of out-of-sample direction signals: next-bar execution, costs, Sharpe with deflation.

``run_backtest(proba, bars, config, n_trials=...)`` is the whole API; the CLI and the registry
gates call it and read :class:`BacktestResult` (``summary()``, a
:class:`candor.records.backtest.BacktestSummary`, for reports and JSON).
"""

from __future__ import annotations

from candor.backtest.config import BacktestConfig, infer_periods_per_year
from candor.backtest.engine import BacktestResult, run_backtest, target_positions
from candor.backtest.metrics import Metrics, SharpeInference, expected_max_sharpe, psr
from candor.backtest.plots import plot_equity, write_trades_csv

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "Metrics",
    "SharpeInference",
    "expected_max_sharpe",
    "infer_periods_per_year",
    "plot_equity",
    "psr",
    "run_backtest",
    "target_positions",
    "write_trades_csv",
]
