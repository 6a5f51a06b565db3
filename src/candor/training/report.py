"""The training report as a JSON-safe document.

The document keeps the shape ``candor train --output-json`` promises: symbol, timeframe,
n_samples, label, horizon, folds, models, weights, oos{...}, holdout{...}, timings.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from candor.evaluate import Verdict

HEADLINE_KEYS = (
    "accuracy", "balanced_accuracy", "f1", "log_loss", "baselines", "best_baseline",
    "best_baseline_accuracy", "lift", "lift_ci_low", "lift_ci_high", "p_value", "verdict",
)


def headline(report: Any) -> dict[str, Any]:
    """The promised keys first, then every other metric the evaluation computed."""
    full = report.to_dict()
    out = {key: full[key] for key in HEADLINE_KEYS if key in full}
    out.update({k: v for k, v in full.items() if k not in out})
    return out


def result_to_dict(result: Any) -> dict[str, Any]:
    return {
        "symbol": result.symbol,
        "timeframe": result.timeframe,
        "n_samples": result.n_samples,
        "label": result.label,
        "horizon": result.horizon,
        "class_distribution": result.class_distribution,
        "folds": len(result.folds),
        "fold_details": [dataclasses.asdict(f) for f in result.folds],
        "models": result.member_scores,
        "weights": result.weights,
        "oos": headline(result.oos),
        "holdout": headline(result.holdout),
        "backtest": None if result.backtest is None else _backtest_section(result.backtest),
        "n_trials": result.n_trials,
        "tuning": getattr(result, "tuning", None),
        "feature_importance": result.importance.to_dict(orient="records"),
        "calibration": result.calibration.to_dict(orient="records"),
        "data_fingerprint": result.fingerprint,
        "config_hash": result.config.config_hash(),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }


def _backtest_section(backtest: Any) -> dict[str, Any]:
    """The backtest's metrics, with the headline numbers the registry's backtest gate reads."""
    section = backtest.to_dict()
    metrics = section.get("metrics", {})
    section.setdefault("sharpe", metrics.get("sharpe"))
    section.setdefault("n_trades", metrics.get("n_trades"))
    section.setdefault("deflated_sharpe", section.get("dsr"))
    section["equity_curve"] = _equity_curve(backtest)
    return section


def _equity_curve(backtest: Any, points: int = 500) -> list[dict[str, Any]]:
    """A downsampled equity curve beside buy-and-hold, small enough for JSON and the dashboard."""
    equity, hold = backtest.equity, backtest.buy_and_hold_equity
    step = max(1, len(equity) // points)
    picks = list(range(0, len(equity), step))
    if picks and picks[-1] != len(equity) - 1:
        picks.append(len(equity) - 1)
    return [{"ts": equity.index[i].isoformat(), "equity": float(equity.iloc[i]), "buy_and_hold": float(hold.iloc[i])}
            for i in picks]

