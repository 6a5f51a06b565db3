"""The backtest of a model's out-of-sample signals as the report stores it.

:meth:`candor.backtest.BacktestResult.summary` builds it; the backtest gate, the CLI and the
dashboard's equity chart read it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import model_validator

from candor.records.values import Count, JsonObject, Num, Record, ScalarMap, Text, number

#: How many points of the backtest equity curve the report keeps (enough for a chart).
EQUITY_POINTS = 500


class EquityPoint(Record):
    """One point of the downsampled equity curve (``ts`` in ISO form), beside buy-and-hold."""

    ts: str
    equity: float
    buy_and_hold: Num = None


class BacktestSummary(Record):
    """``sharpe`` (annualised, after costs), ``n_trades`` and ``deflated_sharpe`` are the headline
    numbers the registry's backtest gate judges. ``metrics`` and each of ``benchmarks`` are the full
    :class:`candor.backtest.metrics.Metrics` tables by name; ``sharpe_inference`` the PSR/DSR
    inputs; ``config`` the backtest settings."""

    start: Text = None
    end: Text = None
    execution: Text = None
    n_periods: Count = None
    n_signals: Count = None
    n_unexecuted: Count = None
    periods_per_year: Num = None
    sharpe: Num = None
    n_trades: Count = None
    deflated_sharpe: Num = None
    psr: Num = None
    dsr: Num = None
    metrics: ScalarMap = {}
    benchmarks: dict[str, ScalarMap] = {}
    sharpe_inference: ScalarMap = {}
    config: JsonObject = {}
    equity_curve: tuple[EquityPoint, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _older_shapes(cls, data: Any) -> Any:
        """Also reads a bare :meth:`BacktestResult.to_dict` (headline numbers nested in ``metrics``,
        ``dsr`` for the deflated Sharpe, ``trades`` for the trade count; flat keys win) and the older
        equity-curve shapes."""
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        metrics = out.get("metrics") if isinstance(out.get("metrics"), Mapping) else {}
        out["sharpe"] = _first(out.get("sharpe"), metrics.get("sharpe"))
        out["n_trades"] = _first(out.get("trades"), out.get("n_trades"), metrics.get("n_trades"))
        out["deflated_sharpe"] = _first(out.get("deflated_sharpe"), out.get("dsr"))
        benchmarks = out.get("benchmarks")
        out["benchmarks"] = ({str(k): v for k, v in benchmarks.items() if isinstance(v, Mapping)}
                             if isinstance(benchmarks, Mapping) else {})
        out["config"] = out.get("config") if isinstance(out.get("config"), Mapping) else {}
        out["equity_curve"] = _equity_points(out.get("equity_curve") or out.get("equity"))
        return out


def _first(*values: object) -> float | None:
    """The first finite number (0.0 counts: it is a value, not a missing one)."""
    return next((parsed for v in values if (parsed := number(v)) is not None), None)


def _sequence(value: object) -> list[Any] | tuple[Any, ...]:
    return value if isinstance(value, list | tuple) else ()


def _equity_points(curve: object) -> list[dict[str, Any]]:
    """The stored curve: a list of ``{ts, equity, buy_and_hold}`` (what candor writes), or the
    column form ``{ts: [...], equity: [...]}``, a ``{ts: value}`` map or ``[[ts, value], ...]``."""
    if isinstance(curve, Mapping) and "ts" in curve and ("equity" in curve or "values" in curve):
        values = _sequence(curve.get("equity") or curve.get("values"))
        bench = _sequence(curve.get("buy_and_hold") or curve.get("benchmark"))
        bench = bench if len(bench) == len(values) else [None] * len(values)
        rows = list(zip(_sequence(curve["ts"]), values, bench))
    elif isinstance(curve, Mapping):
        rows = [(ts, value, None) for ts, value in curve.items()]
    elif curve and all(isinstance(p, Mapping) for p in _sequence(curve)):
        rows = [(p.get("ts"), p.get("equity"), p.get("buy_and_hold")) for p in _sequence(curve)]
    elif curve and all(isinstance(p, list | tuple) and len(p) >= 2 for p in _sequence(curve)):
        rows = [(p[0], p[1], None) for p in _sequence(curve)]
    else:
        return []
    return [{"ts": str(ts), "equity": equity, "buy_and_hold": hold} for ts, value, hold in rows
            if (equity := number(value)) is not None]
