"""The paper ledger (issue 24 item 4): the served forecasts traded under the backtest's own rules.

Why it looks like this:

* **One convention.** The served (non-shadow) *resolved* forecasts of a series become the
  probability frame :func:`candor.backtest.engine.run_backtest` already takes — the forecast's
  direction as a one-hot row (BULLISH long; BEARISH short or flat per ``short_on_bearish``;
  NEUTRAL and an abstention, direction ``NONE``, flat) — and that same function turns them into
  positions, returns and costs: the position is taken at the next bar's execution price after
  the forecast bar and held until the bar after, costs charged on every change, bars without a
  forecast flat. Nothing here re-implements execution, so live and backtest cannot drift apart.
* **Computed, then booked.** The ledger is computed from ``ml_forecasts`` and ``ohlc_bars``; the
  drift job books its days (:func:`book_ledger` → ``paper_ledger`` table, migration 0006), one row
  per series × horizon × UTC day, idempotent. A booked day does not move: a recomputation that
  would change one (a forecast resolved out of order) is refused in one line, nothing written
  (:mod:`candor.store.paper`). Readers (``candor paper``, the dashboard) see which days are booked
  and that line when the forecasts and the booked days disagree.
* **Beside it** buy & hold over exactly the same periods (the engine's own benchmark), and the
  champion's backtest Sharpe from its manifest report (looked up by the caller, e.g. the CLI),
  against the live Sharpe with an analytic 95% interval: the per-period Sharpe's standard error
  under non-normal returns, √((1 − γ₃·SR + (γ₄ − 1)/4·SR²)/(n − 1)) (Mertens 2002, the variance
  PSR uses in :mod:`candor.backtest.metrics`), annualised like the Sharpe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from candor.backtest.config import BacktestConfig
from candor.backtest.engine import run_backtest
from candor.backtest.metrics import sharpe_interval
from candor.errors import DataError
from candor.records.live import PaperDay, PaperLedger
from candor.store import forecasts, load_bars
from candor.store.engine import transaction
from candor.store.forecasts import ABSTAIN
from candor.store.paper import book_days, booked_days, clear_days, differs, out_of_order

#: One-hot probability rows (columns -1, 0, 1: bearish, neutral, bullish) per served direction.
_ONE_HOT = {"BEARISH": (1.0, 0.0, 0.0), "NEUTRAL": (0.0, 1.0, 0.0), ABSTAIN: (0.0, 1.0, 0.0),
            "BULLISH": (0.0, 0.0, 1.0)}


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
    rows = forecasts(engine, symbol, timeframe, horizon=horizon, resolved=True, shadow=False)
    if not rows:
        at = "" if horizon is None else f" at h{horizon}"
        raise DataError(f"no resolved forecasts for {symbol}/{timeframe}{at}: nothing to put on paper "
                        "(run `candor ops forecast` and let bars past the horizon arrive)")
    return [_with_bookings(engine, ledger)
            for ledger in _ledgers(engine, rows, symbol, timeframe, config or BacktestConfig(), backtest_sharpe)]


def _ledgers(engine: Any, rows: list[Any], symbol: str, timeframe: str, config: BacktestConfig,
             backtest_sharpe: Callable[[str, str, int], float | None] | None = None) -> list[PaperLedger]:
    """One ledger per horizon of ``rows`` (resolved served forecasts), oldest horizon first."""
    bars = load_bars(engine, symbol, timeframe)
    return [_ledger([r for r in rows if int(r.horizon) == h], bars, symbol, timeframe, h, config,
                    backtest_sharpe(symbol, timeframe, h) if backtest_sharpe is not None else None)
            for h in sorted({int(r.horizon) for r in rows})]


def _wanted(ledger: PaperLedger) -> dict[dt.date, dict[str, float]]:
    """The ledger's days as :mod:`candor.store.paper` books them."""
    return {dt.date.fromisoformat(d.day): {"live_return": d.live_return, "buy_and_hold": d.buy_and_hold,
                                           "position": d.position} for d in ledger.days}


def _with_bookings(engine: Any, ledger: PaperLedger) -> PaperLedger:
    """``ledger`` with each day's booked flag (stored with the same values) and the out-of-order note."""
    booked = {r.day: r for r in booked_days(engine, ledger.symbol, ledger.timeframe, ledger.horizon)}
    if not booked:
        return ledger
    wanted = _wanted(ledger)
    days = tuple(d.model_copy(update={"booked": (day := dt.date.fromisoformat(d.day)) in booked
                                      and not differs(booked[day], wanted[day])}) for d in ledger.days)
    return ledger.model_copy(update={"days": days, "booking_note": out_of_order(
        ledger.symbol, ledger.timeframe, ledger.horizon, booked, wanted)})


def book_ledger(engine: Any, symbol: str, timeframe: str, *, config: BacktestConfig | None = None,
                rebuild: bool = False) -> int:
    """Book the paper ledger's days of every horizon of one series in one transaction (the drift
    job's step); return how many days were new. A series with no resolved served forecasts books
    nothing. ``rebuild`` deletes the series' booked days first (same transaction). Raises
    :class:`DataError` (one line, nothing written) when a booked day would change."""
    rows = forecasts(engine, symbol, timeframe, resolved=True)
    if not rows:
        return 0
    ledgers = _ledgers(engine, rows, symbol, timeframe, config or BacktestConfig())
    with transaction(engine) as connection:
        if rebuild:
            clear_days(connection, symbol, timeframe)
        return sum(book_days(connection, symbol, timeframe, p.horizon,
                             [{"day": day, **values} for day, values in _wanted(p).items()]) for p in ledgers)


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
    days = tuple(PaperDay(day=d, live_return=float(live_day[d]), buy_and_hold=float(hold_day[d]),
                          position=float(last_pos[d])) for d in live_day.index)
    inference = result.sharpe
    return PaperLedger(
        symbol=symbol, timeframe=timeframe, horizon=horizon, n_forecasts=len(rows),
        abstained=sum(1 for r in rows if str(r.direction).upper() == ABSTAIN),
        n_periods=int(returns.size), start=returns.index[0].isoformat(), end=returns.index[-1].isoformat(),
        live_return=float(result.metrics.total_return), buy_and_hold=float(result.buy_and_hold.total_return),
        live_sharpe=result.metrics.sharpe,
        sharpe_ci=sharpe_interval(inference.sharpe_per_period, inference.skew, inference.kurtosis, inference.n,
                                  result.periods_per_year),
        backtest_sharpe=backtest_sharpe,
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
