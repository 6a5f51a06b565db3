"""The report's evaluation and backtest sections as typed records, and the JSON value rules.

Why lenient numbers: the registry's gates fail closed — a metric that is missing, non-finite or
not a number must read as ``None`` (the gate then names it missing), never as 0 and never as a
crash. So every number in these sections is ``float | None`` and is parsed by :func:`number`.
JSON has no NaN: non-finite values are stored as ``null`` and read back as ``None``, which also
keeps ``from_dict(to_dict(x)) == x`` (NaN is not equal to itself).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from candor.evaluate import EvaluationReport, Verdict

if TYPE_CHECKING:
    from candor.backtest import BacktestResult

JsonObject = dict[str, object]
#: How many points of the backtest equity curve the report keeps (enough for a chart).
EQUITY_POINTS = 500


def json_safe(value: object) -> object:
    """A JSON-ready copy: numpy scalars → Python, tuples → lists, enums → their value, NaN → None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # a timestamp or path inside a free-form section: its text, as json default=str did


def json_object(value: Mapping[str, object]) -> JsonObject:
    """:func:`json_safe` of a mapping, typed as the JSON object it is."""
    return {str(k): json_safe(v) for k, v in value.items()}


def number(value: object) -> float | None:
    """A finite number as float; anything else (missing, NaN, a string, a bool) → None."""
    if type(value) is float:  # the JSON case, first: a manifest's report holds ~800 of them per load
        return value if math.isfinite(value) else None
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value) if math.isfinite(float(value)) else None


def count(value: object) -> int | None:
    """A finite number as int (a row or trade count); anything else → None."""
    parsed = number(value)
    return None if parsed is None else int(parsed)


def scalar(value: object) -> float | int | None:
    """Like :func:`number` but an integer stays an integer (trade counts in metric tables)."""
    parsed = number(value)
    if parsed is not None and isinstance(value, int | np.integer):
        return int(value)
    return parsed


def numbers(values: object) -> dict[str, float]:
    """A name → finite number map (entries that are not finite numbers are left out)."""
    if not isinstance(values, Mapping):
        return {}
    return {str(k): parsed for k, v in values.items() if (parsed := number(v)) is not None}


def scalars(values: object) -> dict[str, float | int | None]:
    """A name → number map that keeps every name (a non-number reads as None)."""
    return {str(k): scalar(v) for k, v in values.items()} if isinstance(values, Mapping) else {}


def text(value: object) -> str | None:
    return None if value is None else str(value)


def sequence(value: object) -> Sequence[object]:
    return value if isinstance(value, list | tuple) else ()


def mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _verdict(value: object) -> Verdict | None:
    try:
        return None if value is None else Verdict(str(value))
    except ValueError:
        return None


_COUNT_FIELDS = ("n", "block_length", "n_boot", "horizon", "lift_df")
_VERDICT_FIELDS = ("verdict", "log_loss_verdict", "brier_verdict")
_OTHER_FIELDS = ("baselines", "best_baseline", "classes", "confusion_matrix", *_VERDICT_FIELDS, *_COUNT_FIELDS)


@dataclass(frozen=True)
class EvaluationSummary:
    """One evaluation as stored (``oos``: pooled walk-forward rows; ``holdout``: the final slice):
    the model's scores beside its baselines, the block-bootstrap CI and p-value of the lift over
    the best baseline, and the verdict. Field names are the JSON keys."""

    accuracy: float | None = None
    balanced_accuracy: float | None = None
    f1: float | None = None
    log_loss: float | None = None
    baselines: dict[str, float] = field(default_factory=dict)
    best_baseline: str | None = None
    best_baseline_accuracy: float | None = None
    lift: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None
    p_value: float | None = None
    verdict: Verdict | None = None
    n: int | None = None
    classes: tuple[int, ...] = ()
    precision: float | None = None
    recall: float | None = None
    precision_macro: float | None = None
    recall_macro: float | None = None
    f1_macro: float | None = None
    brier: float | None = None
    confusion_matrix: tuple[tuple[int, ...], ...] = ()
    alpha: float | None = None
    block_length: int | None = None
    n_boot: int | None = None
    horizon: int | None = None
    train_accuracy: float | None = None
    overfit_margin: float | None = None
    lift_se: float | None = None
    lift_df: int | None = None
    prior_log_loss: float | None = None
    log_loss_gain: float | None = None
    log_loss_gain_ci_low: float | None = None
    log_loss_gain_ci_high: float | None = None
    log_loss_p_value: float | None = None
    log_loss_verdict: Verdict | None = None
    prior_brier: float | None = None
    brier_gain: float | None = None
    brier_gain_ci_low: float | None = None
    brier_gain_ci_high: float | None = None
    brier_p_value: float | None = None
    brier_verdict: Verdict | None = None

    @classmethod
    def from_evaluation(cls, report: EvaluationReport) -> EvaluationSummary:
        return cls.from_dict(report.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> EvaluationSummary:
        values: dict[str, object] = {f.name: number(data.get(f.name)) for f in dataclasses.fields(cls)
                                     if f.name not in _OTHER_FIELDS}
        values.update({name: count(data.get(name)) for name in _COUNT_FIELDS})
        return cls(
            **values, baselines=numbers(data.get("baselines")), best_baseline=text(data.get("best_baseline")),
            **{name: _verdict(data.get(name)) for name in _VERDICT_FIELDS},
            classes=tuple(int(c) for c in sequence(data.get("classes"))),
            confusion_matrix=tuple(tuple(int(v) for v in sequence(row))
                                   for row in sequence(data.get("confusion_matrix"))),
        )

    def to_dict(self) -> JsonObject:
        return json_object(dataclasses.asdict(self))


@dataclass(frozen=True)
class EquityPoint:
    """One point of the downsampled equity curve (``ts`` in ISO form), beside buy-and-hold."""

    ts: str
    equity: float
    buy_and_hold: float | None = None


def _equity_points(curve: object) -> tuple[EquityPoint, ...]:
    """The stored curve: a list of ``{ts, equity, buy_and_hold}`` (what candor writes), or the
    column form ``{ts: [...], equity: [...]}``, a ``{ts: value}`` map or ``[[ts, value], ...]``."""
    if isinstance(curve, Mapping) and "ts" in curve and ("equity" in curve or "values" in curve):
        values = sequence(curve.get("equity") or curve.get("values"))
        bench = sequence(curve.get("buy_and_hold") or curve.get("benchmark"))
        bench = bench if len(bench) == len(values) else [None] * len(values)
        rows = list(zip(sequence(curve["ts"]), values, bench))
    elif isinstance(curve, Mapping):
        rows = [(ts, value, None) for ts, value in curve.items()]
    elif curve and all(isinstance(p, Mapping) for p in sequence(curve)):
        rows = [(p.get("ts"), p.get("equity"), p.get("buy_and_hold")) for p in sequence(curve)]
    elif curve and all(isinstance(p, list | tuple) and len(p) >= 2 for p in sequence(curve)):
        rows = [(p[0], p[1], None) for p in sequence(curve)]
    else:
        return ()
    return tuple(EquityPoint(str(ts), float(value), number(hold)) for ts, value, hold in rows
                 if number(value) is not None)


def equity_curve(backtest: BacktestResult, points: int = EQUITY_POINTS) -> tuple[EquityPoint, ...]:
    """A downsampled equity curve beside buy-and-hold, small enough for JSON and the dashboard."""
    equity, hold = backtest.equity, backtest.buy_and_hold_equity
    step = max(1, len(equity) // points)
    picks = list(range(0, len(equity), step))
    if picks and picks[-1] != len(equity) - 1:
        picks.append(len(equity) - 1)
    return tuple(EquityPoint(equity.index[i].isoformat(), float(equity.iloc[i]), float(hold.iloc[i]))
                 for i in picks)


def _first(*values: object) -> float | None:
    """The first finite number (0.0 counts: it is a value, not a missing one)."""
    return next((parsed for v in values if (parsed := number(v)) is not None), None)


@dataclass(frozen=True)
class BacktestSummary:
    """The backtest of the out-of-sample signals as stored.

    ``sharpe`` (annualised, after costs), ``n_trades`` and ``deflated_sharpe`` are the headline
    numbers the registry's backtest gate judges. ``metrics`` and each of ``benchmarks`` are the
    full :class:`candor.backtest.metrics.Metrics` tables by name; ``sharpe_inference`` the PSR/DSR
    inputs; ``config`` the backtest settings.
    """

    start: str | None = None
    end: str | None = None
    execution: str | None = None
    n_periods: int | None = None
    n_signals: int | None = None
    n_unexecuted: int | None = None
    periods_per_year: float | None = None
    sharpe: float | None = None
    n_trades: int | None = None
    deflated_sharpe: float | None = None
    psr: float | None = None
    dsr: float | None = None
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    benchmarks: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    sharpe_inference: dict[str, float | int | None] = field(default_factory=dict)
    config: JsonObject = field(default_factory=dict)
    equity_curve: tuple[EquityPoint, ...] = ()

    @classmethod
    def from_result(cls, backtest: BacktestResult) -> BacktestSummary:
        summary = cls.from_dict(backtest.to_dict())
        return dataclasses.replace(summary, equity_curve=equity_curve(backtest))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> BacktestSummary:
        """Also reads a bare :meth:`BacktestResult.to_dict` (headline numbers nested in ``metrics``,
        ``dsr`` for the deflated Sharpe) and ``trades`` for the trade count; flat keys win."""
        metrics = mapping(data.get("metrics"))
        trades = _first(data.get("trades"), data.get("n_trades"), metrics.get("n_trades"))
        return cls(
            start=text(data.get("start")), end=text(data.get("end")), execution=text(data.get("execution")),
            n_periods=count(data.get("n_periods")), n_signals=count(data.get("n_signals")),
            n_unexecuted=count(data.get("n_unexecuted")), periods_per_year=number(data.get("periods_per_year")),
            sharpe=_first(data.get("sharpe"), metrics.get("sharpe")),
            n_trades=None if trades is None else int(trades),
            deflated_sharpe=_first(data.get("deflated_sharpe"), data.get("dsr")),
            psr=number(data.get("psr")), dsr=number(data.get("dsr")), metrics=scalars(metrics),
            benchmarks={str(k): scalars(v) for k, v in mapping(data.get("benchmarks")).items()},
            sharpe_inference=scalars(data.get("sharpe_inference")),
            config=json_object(mapping(data.get("config"))),
            equity_curve=_equity_points(data.get("equity_curve") or data.get("equity")),
        )

    def to_dict(self) -> JsonObject:
        return json_object(dataclasses.asdict(self))
