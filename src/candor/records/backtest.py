"""The backtest of a model's out-of-sample signals as the report stores it.

:meth:`candor.backtest.BacktestResult.summary` builds it; the backtest gate, the CLI and the
dashboard's equity chart read it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field, model_validator

from candor.records.values import Count, JsonObject, Num, Record, ScalarMap, Text, number

#: How many points of the backtest equity curve the report keeps (enough for a chart).
EQUITY_POINTS = 500


def _tables(value: object) -> object:
    return {str(k): v for k, v in value.items() if isinstance(v, Mapping)} if isinstance(value, Mapping) else {}


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


class EquityPoint(Record):
    """One point of the downsampled equity curve (``ts`` in ISO form), beside buy-and-hold."""

    ts: str
    equity: float
    buy_and_hold: float | None = None  # plain types: a report holds 500 points, validated natively


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
    benchmarks: Annotated[dict[str, ScalarMap], BeforeValidator(_tables)] = {}
    sharpe_inference: ScalarMap = {}
    config: JsonObject = {}
    #: Points as candor writes them, validated natively (a report holds 500); an older shape
    #: (column form, ``{ts: value}`` map, ``[[ts, value], ...]``, key ``equity``) only on fallback.
    equity_curve: Annotated[
        tuple[EquityPoint, ...] | Annotated[tuple[EquityPoint, ...], BeforeValidator(_equity_points)],
        Field(union_mode="left_to_right", validation_alias=AliasChoices("equity_curve", "equity")),
    ] = ()
    trades: Count = Field(None, exclude=True, repr=False)  # the trade count of an older, bare section

    @model_validator(mode="after")
    def _headline_numbers(self) -> BacktestSummary:
        """Also reads the bare section older candor wrote (``BacktestResult.to_dict``, now gone):
        headline numbers nested in ``metrics``, ``dsr`` for the deflated Sharpe, ``trades`` for the
        trade count (flat keys win)."""
        filled = {"sharpe": _first(self.sharpe, self.metrics.get("sharpe")),
                  "n_trades": _first(self.trades, self.n_trades, self.metrics.get("n_trades")),
                  "deflated_sharpe": _first(self.deflated_sharpe, self.dsr)}
        filled = {k: v for k, v in filled.items() if v != getattr(self, k)}
        if "n_trades" in filled and filled["n_trades"] is not None:
            filled["n_trades"] = int(filled["n_trades"])
        return self.model_copy(update=filled) if filled else self
