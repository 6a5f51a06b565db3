"""Out-of-sample probabilities → positions → per-period returns, trades, metrics, benchmarks.

Execution convention (the one timing rule of this module)
---------------------------------------------------------
Row ``t`` of ``proba`` is the forecast made at the **close** of bar ``t`` (``ts`` is the bar's
open time, as everywhere in candor). Its position is traded at bar ``t+1``'s execution price
``P`` — its open (``"next_open"``) or its close (``"next_close"``) — and held until bar ``t+2``'s
execution price, when the next signal trades. So period ``t`` earns

    r[t+2] = w[t] · (P[t+2] / P[t+1] − 1) − c · |w[t] − w[t−1]|,       c = (cost + slippage) bps

and is reported at bar ``t+2`` (``returns``, ``positions`` and ``equity`` share that index: the
bar at whose execution price the period ends). Same-bar execution has no option: a signal can
never earn the move of the bar that produced it, nor of the bar on which it is traded before
the trade. Signals whose period would end after the last bar (the last one or two rows) are not
executed; bars inside the span without a signal row are flat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from candor.backtest import kernels
from candor.backtest.align import Probabilities, bad_probabilities, class_matrix, execution_prices, read_probabilities
from candor.backtest.config import BacktestConfig, infer_periods_per_year
from candor.backtest.metrics import Metrics, SharpeInference, performance, sharpe_inference
from candor.backtest.trades import TradeRuns, trades_frame
from candor.errors import ConfigError, DataError
from candor.records.backtest import EQUITY_POINTS, BacktestSummary, EquityPoint

PRICE_COLUMN = {"next_open": "open", "next_close": "close"}


@dataclass(frozen=True)
class BacktestResult:
    """Everything one backtest produced; :meth:`summary` is its stored, JSON-safe record."""

    config: BacktestConfig
    returns: pd.Series
    equity: pd.Series
    positions: pd.Series
    trades: pd.DataFrame
    metrics: Metrics
    buy_and_hold: Metrics
    always_flat: Metrics
    sharpe: SharpeInference
    buy_and_hold_equity: pd.Series
    periods_per_year: float
    n_signals: int
    n_unexecuted: int

    def summary(self, points: int = EQUITY_POINTS) -> BacktestSummary:
        """The record the training report stores (and ``candor backtest --output-json`` writes):
        metrics, benchmarks, Sharpe inference, span, config and a downsampled equity curve — no
        per-bar series. Undefined numbers (NaN) read as None. (``model_validate``, not the
        constructor: the record's validator fills the headline numbers into a copy.)"""
        return BacktestSummary.model_validate(dict(
            config=self.config.model_dump(mode="json"),
            execution=self.config.execution,
            start=self.returns.index[0].isoformat(),
            end=self.returns.index[-1].isoformat(),
            n_periods=self.returns.size,
            n_signals=self.n_signals,
            n_unexecuted=self.n_unexecuted,
            periods_per_year=self.periods_per_year,
            metrics=self.metrics.model_dump(),
            benchmarks={"buy_and_hold": self.buy_and_hold.model_dump(), "always_flat": self.always_flat.model_dump()},
            sharpe_inference=self.sharpe.model_dump(),
            psr=self.sharpe.psr,
            dsr=self.sharpe.dsr,
            equity_curve=self.equity_curve(points),
        ))

    def equity_curve(self, points: int = EQUITY_POINTS) -> tuple[EquityPoint, ...]:
        """A downsampled equity curve beside buy-and-hold, small enough for JSON and the dashboard."""
        equity, hold = self.equity, self.buy_and_hold_equity
        step = max(1, len(equity) // points)
        picks = list(range(0, len(equity), step))
        if picks and picks[-1] != len(equity) - 1:
            picks.append(len(equity) - 1)
        return tuple(EquityPoint(ts=equity.index[i].isoformat(), equity=float(equity.iloc[i]),
                                 buy_and_hold=float(hold.iloc[i])) for i in picks)


def target_positions(proba: pd.DataFrame, config: BacktestConfig) -> tuple[np.ndarray, int]:
    """Position wanted after each row: +1 BULLISH, −1/0 BEARISH, 0 NEUTRAL, ties flat.

    ``min_confidence`` flattens rows whose top probability is below it; ``size_by_confidence``
    scales by ``(p_max − 1/3) / (2/3)``. Raises :class:`DataError` for rows that are not
    probabilities. Also returns the number of runs of one side (an upper bound on trades).
    """
    probs = class_matrix(proba)
    weights, bad, runs = kernels.weights_for(
        probs, config.short_on_bearish, config.min_confidence, config.size_by_confidence
    )
    if bad:
        raise bad_probabilities(proba, probs)
    return weights, runs


def run_backtest(
    proba: pd.DataFrame,
    bars: pd.DataFrame,
    config: BacktestConfig | None = None,
    *,
    n_trials: int = 1,
    trial_sharpe_var: float | None = None,
) -> BacktestResult:
    """Backtest out-of-sample class probabilities on ``bars`` with next-bar execution.

    ``n_trials`` counts every configuration tried (models × tuning trials) for the Deflated
    Sharpe Ratio; ``trial_sharpe_var`` is the variance of their per-period Sharpes when known.
    """
    config = BacktestConfig() if config is None else config
    if not isinstance(config, BacktestConfig):
        raise ConfigError(f"`config` must be a BacktestConfig. Got {type(config).__name__}.")
    _check_trials(n_trials, trial_sharpe_var)
    probs = read_probabilities(proba, bars)
    wanted, runs = target_positions(proba, config)
    first, last_bar = int(probs.bar_pos[0]), len(bars) - 3
    if last_bar < first:
        raise DataError(
            f"`bars` end too soon: the first signal ({proba.index[0]}) needs two later bars to trade "
            "and to be valued; pass bars that extend past the signals."
        )
    ppy = config.periods_per_year or infer_periods_per_year(bars)
    weights = _grid_weights(wanted, probs, first, last_bar)
    prices = execution_prices(bars, PRICE_COLUMN[config.execution], first + 1, first + weights.size + 2)
    n_unexecuted = int(probs.bar_pos.size - np.searchsorted(probs.bar_pos, last_bar, side="right"))
    counts = (len(proba), n_unexecuted)
    runs = runs if probs.contiguous else int(kernels.count_runs(weights))
    return _assemble(config, bars, prices, weights, first, ppy, (n_trials, trial_sharpe_var), counts, runs)


def _check_trials(n_trials: int, trial_sharpe_var: float | None) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ConfigError(f"`n_trials` must be an integer >= 1 (configurations tried). Got {n_trials!r}.")
    if trial_sharpe_var is not None and not (math.isfinite(trial_sharpe_var) and trial_sharpe_var >= 0):
        raise ConfigError(f"`trial_sharpe_var` must be >= 0 or None. Got {trial_sharpe_var!r}.")


def _grid_weights(wanted: np.ndarray, probs: Probabilities, first: int, last: int) -> np.ndarray:
    """Position per period on the bar grid first..last; bars without a signal are flat."""
    if probs.contiguous:
        return wanted[: last - first + 1]
    pos = probs.bar_pos
    used = pos <= last
    weights = np.zeros(min(int(pos[-1]), last) - first + 1)
    weights[pos[used] - first] = wanted[used]
    return weights


def _assemble(
    config: BacktestConfig,
    bars: pd.DataFrame,
    prices: np.ndarray,
    weights: np.ndarray,
    first: int,
    ppy: float,
    trials: tuple[int, float | None],
    counts: tuple[int, int],
    runs: int,
) -> BacktestResult:
    """Returns, equity, trades, strategy and benchmark metrics on one grid of M periods."""
    m, rate = weights.size, config.cost_rate
    rf_period = (1.0 + config.risk_free) ** (1.0 / ppy) - 1.0
    net, equity, hold_net, hold_equity = (np.empty(m) for _ in range(4))
    starts, ends, trade_returns = np.empty(runs, np.int64), np.empty(runs, np.int64), np.empty(runs)
    turnover, exposed, k = kernels.simulate(
        weights, prices, rate, net, equity, hold_net, hold_equity, starts, ends, trade_returns
    )
    starts, ends, trade_returns = starts[:k], ends[:k], trade_returns[:k]
    closed = ends >= 0
    ends[~closed] = m
    metrics, mom = performance(
        kernels.stream_stats(net, equity, rf_period), m, float(equity[-1]), trade_returns,
        float(turnover), exposed / m, ppy, rf_period,
    )
    hold, _ = performance(
        kernels.stream_stats(hold_net, hold_equity, rf_period), m, float(hold_equity[-1]),
        np.array([prices[-1] / prices[0] - 1.0 - rate]), 1.0, 1.0, ppy, rf_period,
    )
    index = bars.index[first + 2 : first + m + 2]
    found = TradeRuns(starts, ends, np.sign(weights[starts]).astype(np.int64), trade_returns, closed)
    return BacktestResult(
        config=config,
        returns=pd.Series(net, index=index, name="returns", copy=False),
        equity=pd.Series(equity, index=index, name="equity", copy=False),
        positions=pd.Series(weights, index=index, name="position", copy=False),
        trades=trades_frame(found, prices, bars.index[first + 1 : first + m + 2]),
        metrics=metrics,
        buy_and_hold=hold,
        always_flat=_always_flat(ppy, rf_period),
        sharpe=sharpe_inference(mom, rf_period, *trials),
        buy_and_hold_equity=pd.Series(hold_equity, index=index, name="buy_and_hold", copy=False),
        periods_per_year=float(ppy),
        n_signals=counts[0],
        n_unexecuted=counts[1],
    )


def _always_flat(ppy: float, rf_period: float) -> Metrics:
    """Cash: zero return every period (the bar every strategy must clear after costs).

    Computed in closed form: a million zeros would cost as much as a real stream.
    """
    sharpe = 0.0 if rf_period == 0 else math.nan
    sortino = 0.0 if rf_period == 0 else -math.sqrt(ppy)
    return Metrics(
        total_return=0.0, cagr=0.0, volatility=0.0, sharpe=sharpe, sortino=sortino,
        max_drawdown=0.0, calmar=math.nan, hit_rate=math.nan, n_trades=0, turnover=0.0,
        turnover_per_year=0.0, exposure=0.0, psr=math.nan,
    )
