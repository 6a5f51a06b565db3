"""The paper ledger (issue 24 item 4): the served forecasts traded under the backtest's own rules.

Why it looks like this:

* **One convention.** The served (non-shadow) *resolved* forecasts of a series become the
  probability frame :func:`candor.backtest.engine.run_backtest` already takes — the forecast's
  direction as a one-hot row (BULLISH long; BEARISH short or flat per ``short_on_bearish``;
  NEUTRAL and an abstention, direction ``NONE``, flat) — and that same function turns them into
  positions, returns and costs: the position is taken at the next bar's execution price after
  the forecast bar and held until the bar after, costs charged on every change, bars without a
  forecast flat. Nothing here re-implements execution, so live and backtest cannot drift apart.
* **Computed on the fly.** No table: the ledger is recomputed from ``ml_forecasts`` and
  ``ohlc_bars`` each time (cheap; nothing to migrate or to fall out of date).
* **Beside it** buy & hold over exactly the same periods (the engine's own benchmark), and the
  champion's backtest Sharpe from its manifest report (looked up by the caller, e.g. the CLI),
  against the live Sharpe with an analytic 95% interval: the per-period Sharpe's standard error
  under non-normal returns, √((1 − γ₃·SR + (γ₄ − 1)/4·SR²)/(n − 1)) (Mertens 2002, the variance
  PSR uses in :mod:`candor.backtest.metrics`), annualised like the Sharpe.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from candor.backtest.config import BacktestConfig
from candor.backtest.engine import run_backtest
from candor.errors import DataError
from candor.store import forecasts, load_bars
from candor.store.forecasts import ABSTAIN

#: One-hot probability rows (columns -1, 0, 1: bearish, neutral, bullish) per served direction.
_ONE_HOT = {"BEARISH": (1.0, 0.0, 0.0), "NEUTRAL": (0.0, 1.0, 0.0), ABSTAIN: (0.0, 1.0, 0.0),
            "BULLISH": (0.0, 0.0, 1.0)}
Z95 = 1.959963984540054


@dataclass(frozen=True)
class PaperDay:
    """Realised P&L of one UTC day: the ledger's compounded return and buy & hold's."""

    day: str
    live_return: float
    buy_and_hold: float
    position: float  # the position held at the day's last period


@dataclass(frozen=True)
class PaperLedger:
    """One series × horizon: the served forecasts traded under the backtest convention."""

    symbol: str
    timeframe: str
    horizon: int
    n_forecasts: int
    abstained: int
    n_periods: int
    start: str
    end: str
    live_return: float
    buy_and_hold: float
    live_sharpe: float | None
    sharpe_ci: tuple[float, float] | None
    backtest_sharpe: float | None
    models: tuple[str, ...]
    days: tuple[PaperDay, ...] = field(default_factory=tuple)

    @property
    def n_days(self) -> int:
        return len(self.days)

    @property
    def abstained_days(self) -> int:
        return self.abstained

    @property
    def backtest_inside_ci(self) -> bool | None:
        if self.backtest_sharpe is None or self.sharpe_ci is None:
            return None
        return self.sharpe_ci[0] <= self.backtest_sharpe <= self.sharpe_ci[1]

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "timeframe": self.timeframe, "horizon": self.horizon,
                "n_forecasts": self.n_forecasts, "abstained": self.abstained, "n_periods": self.n_periods,
                "n_days": self.n_days, "start": self.start, "end": self.end, "live_return": self.live_return,
                "buy_and_hold": self.buy_and_hold, "live_sharpe": self.live_sharpe,
                "sharpe_ci": None if self.sharpe_ci is None else list(self.sharpe_ci),
                "backtest_sharpe": self.backtest_sharpe, "backtest_inside_ci": self.backtest_inside_ci,
                "models": list(self.models),
                "days": [vars(d) for d in self.days]}


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def sharpe_interval(sharpe_per_period: float, skew: float, kurtosis: float, n: int,
                    periods_per_year: float, z: float = Z95) -> tuple[float, float] | None:
    """Annualised (low, high) interval of a Sharpe from n per-period returns (None when undefined)."""
    if n < 3 or not all(math.isfinite(v) for v in (sharpe_per_period, skew, kurtosis)):
        return None
    sr = sharpe_per_period
    var = (1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr) / (n - 1)
    if not var > 0:
        return None
    scale = math.sqrt(periods_per_year)
    half = z * math.sqrt(var)
    return (float((sr - half) * scale), float((sr + half) * scale))


def _probabilities(rows: list[Any]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(r.bar_ts) for r in rows])
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    values = np.array([_ONE_HOT[str(r.direction).upper()] for r in rows], dtype=np.float64)
    return pd.DataFrame(values, index=index, columns=[-1, 0, 1])


def paper_ledger(
    engine: Any,
    symbol: str,
    timeframe: str,
    *,
    horizon: int | None = None,
    config: BacktestConfig | None = None,
    backtest_sharpe: Callable[[str, str, int], float | None] | None = None,
) -> list[PaperLedger]:
    """The paper ledger of one series, one entry per horizon forecast (oldest horizon first).

    Raises :class:`DataError` (one line) when the series has no resolved served forecasts, or
    too few bars after them to execute one.
    """
    rows = [r for r in forecasts(engine, symbol, timeframe, horizon=horizon, resolved=True, shadow=False)]
    if not rows:
        at = "" if horizon is None else f" at h{horizon}"
        raise DataError(f"no resolved forecasts for {symbol}/{timeframe}{at}: nothing to put on paper "
                        "(run `candor ops forecast` and let bars past the horizon arrive)")
    bars = load_bars(engine, symbol, timeframe)
    out = []
    for h in sorted({int(r.horizon) for r in rows}):
        series = [r for r in rows if int(r.horizon) == h]
        sharpe = backtest_sharpe(symbol, timeframe, h) if backtest_sharpe is not None else None
        out.append(_ledger(series, bars, symbol, timeframe, h, config or BacktestConfig(), sharpe))
    return out


def _ledger(rows: list[Any], bars: pd.DataFrame, symbol: str, timeframe: str, horizon: int,
            config: BacktestConfig, backtest_sharpe: float | None) -> PaperLedger:
    proba = _probabilities(rows)
    missing = proba.index.difference(bars.index)
    if len(missing):
        raise DataError(f"{symbol}/{timeframe} h{horizon}: {len(missing)} forecast bar(s) are not in ohlc_bars "
                        f"(first {missing[0].isoformat()}); re-import the bars")
    try:
        result = run_backtest(proba, bars, config)
    except DataError as exc:
        raise DataError(f"{symbol}/{timeframe} h{horizon}: cannot execute the forecasts yet — {exc}") from None
    returns, hold_equity = result.returns, result.buy_and_hold_equity
    hold_returns = hold_equity.div(hold_equity.shift(1)).sub(1.0)
    hold_returns.iloc[0] = hold_equity.iloc[0] - 1.0
    day = returns.index.strftime("%Y-%m-%d")
    live_day = (1.0 + returns).groupby(day).prod() - 1.0
    hold_day = (1.0 + hold_returns).groupby(day).prod() - 1.0
    last_pos = result.positions.groupby(day).last()
    days = tuple(PaperDay(d, float(live_day[d]), float(hold_day[d]), float(last_pos[d])) for d in live_day.index)
    inference = result.sharpe
    return PaperLedger(
        symbol=symbol, timeframe=timeframe, horizon=horizon, n_forecasts=len(rows),
        abstained=sum(1 for r in rows if str(r.direction).upper() == ABSTAIN),
        n_periods=int(returns.size), start=returns.index[0].isoformat(), end=returns.index[-1].isoformat(),
        live_return=float(result.metrics.total_return), buy_and_hold=float(result.buy_and_hold.total_return),
        live_sharpe=_finite(result.metrics.sharpe),
        sharpe_ci=sharpe_interval(inference.sharpe_per_period, inference.skew, inference.kurtosis, inference.n,
                                  result.periods_per_year),
        backtest_sharpe=_finite(backtest_sharpe) if backtest_sharpe is not None else None,
        models=tuple(sorted({f"{r.model_name} v{r.model_version}" for r in rows})),
        days=days,
    )


def forecast_series(engine: Any) -> list[tuple[str, str]]:
    """(symbol, timeframe) of every series with a resolved served forecast, sorted."""
    import sqlalchemy as sa

    from candor.store.schema import MlForecast

    query = (sa.select(MlForecast.symbol, MlForecast.timeframe).distinct()
             .where(MlForecast.shadow.is_(False), MlForecast.resolved_at.is_not(None))
             .order_by(MlForecast.symbol, MlForecast.timeframe))
    with engine.connect() as connection:
        return [(str(s), str(t)) for s, t in connection.execute(query).all()]
