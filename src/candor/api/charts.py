"""Plotly figure specs (plain dicts) for the pages; the browser draws them with the local plotly.js.

Why dicts and not ``plotly.graph_objects``: the specs are tiny, JSON-serialisable and testable,
and the server never needs plotly's Python layer — only its bundled ``plotly.min.js`` file.
Every chart says what it compares against (baseline line, diagonal, buy-and-hold), because a
number without its reference is how a trader gets fooled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from candor.api.queries import LivePoint
from candor.labels import CLASS_NAMES
from candor.records.report import CalibrationBin, FoldSummary, ImportanceRow
from candor.records.status import DriftStatus
from candor.store.forecasts import ABSTAIN

BULL, BEAR, NEUTRAL, INK, MUTED, ACCENT = "#1a9850", "#d73027", "#8c8c8c", "#1f2933", "#9aa5b1", "#2f6fdf"
DIRECTION_COLOURS = {"BULLISH": BULL, "BEARISH": BEAR, "NEUTRAL": NEUTRAL}
_FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12, "color": INK}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "x": 0, "font": {"size": 14}}, "font": _FONT,
            "margin": {"l": 55, "r": 15, "t": 40, "b": 45}, "height": 300,
            "paper_bgcolor": "white", "plot_bgcolor": "white",
            "legend": {"orientation": "h", "y": -0.3}, **extra,
            "xaxis": {"automargin": True, **extra.get("xaxis", {})},
            "yaxis": {"automargin": True, **extra.get("yaxis", {})}}


def _class_name(label: Any) -> str:
    try:
        return CLASS_NAMES[int(label)]
    except (KeyError, TypeError, ValueError):
        return str(label)


def weights_chart(weights: dict[str, float], prior_weight: float | None = None) -> dict[str, Any]:
    """Each member's share of the served forecast beside the class prior's share λ.

    The blend serves ``(1 − λ) · weighted members + λ · prior``, so a member's share is its weight
    × (1 − λ); a report written before λ was recorded draws the member weights alone.
    """
    lam = 0.0 if prior_weight is None else prior_weight
    shares = {name: w * (1 - lam) for name, w in weights.items()}
    names = sorted(shares, key=lambda k: -shares[k])
    values = [shares[n] for n in names]
    colours = [ACCENT] * len(names)
    title = "Ensemble weights (fit out-of-fold)"
    if prior_weight is not None:
        names, values, colours = ["class prior (λ)", *names], [prior_weight, *values], [NEUTRAL, *colours]
        title = f"Share of each forecast: class prior λ = {prior_weight:.0%}, members {1 - prior_weight:.0%}"
    return {"data": [{"type": "bar", "orientation": "h", "x": values, "y": names,
                      "marker": {"color": colours}, "text": [f"{v:.0%}" for v in values],
                      "textposition": "auto"}],
            "layout": _layout(title, xaxis={"tickformat": ".0%", "range": [0, 1]},
                              yaxis={"autorange": "reversed"}, height=max(160, 60 + 35 * len(names)))}


def folds_chart(folds: Sequence[FoldSummary]) -> dict[str, Any]:
    """Per-fold accuracy beside that fold's best baseline: does the edge hold in every period?"""
    labels = [f"fold {f.index}<br>{f.test_start[:10]}" for f in folds]
    best = [max((f.baselines or {"none": math.nan}).values()) for f in folds]
    return {"data": [
        {"type": "bar", "name": "model (test)", "x": labels, "y": [f.accuracy for f in folds],
         "marker": {"color": ACCENT}},
        {"type": "bar", "name": "best baseline", "x": labels, "y": best, "marker": {"color": MUTED}},
        {"type": "scatter", "mode": "markers", "name": "model (train)", "x": labels,
         "y": [f.train_accuracy for f in folds], "marker": {"color": INK, "symbol": "line-ew-open", "size": 18}},
    ], "layout": _layout("Accuracy per walk-forward fold", barmode="group", yaxis={"tickformat": ".0%", "range": [0, 1]})}


def confusion_chart(matrix: Sequence[Sequence[int]], classes: Sequence[Any]) -> dict[str, Any]:
    names = [_class_name(c) for c in classes]
    totals = [sum(row) or 1 for row in matrix]
    share = [[v / t for v in row] for row, t in zip(matrix, totals)]
    text = [[f"{v}<br>{s:.0%}" for v, s in zip(row, srow)] for row, srow in zip(matrix, share)]
    return {"data": [{"type": "heatmap", "z": share, "x": names, "y": names, "text": text,
                      "texttemplate": "%{text}", "colorscale": [[0, "#f5f7fa"], [1, ACCENT]],
                      "showscale": False, "zmin": 0, "zmax": 1}],
            "layout": _layout("Confusion matrix (out-of-sample, row = actual)",
                              xaxis={"title": {"text": "predicted"}}, yaxis={"title": {"text": "actual"},
                                                                              "autorange": "reversed"})}


def calibration_chart(bins: Sequence[CalibrationBin], source: str) -> dict[str, Any]:
    """Top-class confidence against how often it was right; the diagonal is perfect calibration."""
    used = [b for b in bins if b.count and b.mean_confidence is not None and b.accuracy is not None]
    return {"data": [
        {"type": "scatter", "mode": "lines", "name": "perfect", "x": [0, 1], "y": [0, 1],
         "line": {"color": MUTED, "dash": "dot"}},
        {"type": "scatter", "mode": "lines+markers", "name": "model", "x": [b.mean_confidence for b in used],
         "y": [b.accuracy for b in used], "text": [f"n={b.count}" for b in used],
         "marker": {"size": [6 + min(14, math.sqrt(b.count)) for b in used], "color": ACCENT}},
    ], "layout": _layout(f"Calibration ({source})", xaxis={"title": {"text": "confidence"}, "range": [0, 1],
                                                            "tickformat": ".0%"},
                         yaxis={"title": {"text": "hit rate"}, "range": [0, 1], "tickformat": ".0%"})}


#: What the model page says instead of an importance chart with no bar to draw.
IMPORTANCE_EMPTY = ("Feature importance: shuffling any single feature changed no holdout forecast (every "
                    "importance is 0), so this model's calls do not depend on its features.")


def importance_chart(records: Sequence[ImportanceRow], top: int = 15) -> dict[str, Any] | None:
    """The largest permutation importances, or None where no feature moved the score (nothing to
    draw: the page says :data:`IMPORTANCE_EMPTY` instead of an empty frame)."""
    if not any(r.importance for r in records):
        return None
    rows = sorted(records, key=lambda r: -(r.importance or 0.0))[:top]
    return {"data": [{"type": "bar", "orientation": "h", "x": [r.importance for r in rows],
                      "y": [r.feature for r in rows], "marker": {"color": ACCENT},
                      "error_x": {"type": "data", "array": [r.std or 0 for r in rows], "color": MUTED}}],
            "layout": _layout("Feature importance (OOS permutation: accuracy drop)",
                              yaxis={"autorange": "reversed"}, height=max(200, 60 + 22 * len(rows)))}


def equity_chart(times: Sequence[Any], equity: Sequence[float], benchmark: Sequence[float] | None,
                 title: str = "Backtest equity and drawdown") -> dict[str, Any]:
    """Equity (top) and drawdown from the running peak (bottom), beside buy-and-hold when known.

    The drawdown axis spans the deepest drawdown (at least 1%): a flat ledger (all zeros) would
    otherwise get plotly's default ±100%, as if it could have lost everything."""
    peak, drawdown = -math.inf, []
    for value in equity:
        peak = max(peak, value)
        drawdown.append(value / peak - 1 if peak > 0 else 0.0)
    data = [{"type": "scatter", "mode": "lines", "name": "strategy (after costs)", "x": list(times),
             "y": list(equity), "line": {"color": ACCENT}}]
    if benchmark is not None:
        data.append({"type": "scatter", "mode": "lines", "name": "buy & hold", "x": list(times),
                     "y": list(benchmark), "line": {"color": MUTED}})
    data.append({"type": "scatter", "mode": "lines", "name": "drawdown", "x": list(times), "y": drawdown,
                 "fill": "tozeroy", "line": {"color": BEAR}, "yaxis": "y2"})
    return {"data": data, "layout": _layout(
        title, height=380,
        yaxis={"domain": [0.35, 1], "title": {"text": "equity"}},
        yaxis2={"domain": [0, 0.25], "title": {"text": "drawdown"}, "range": (span := drawdown_range(drawdown)),
                "tickformat": ".1%" if span[0] > -0.05 else ".0%"})}


def drawdown_range(drawdown: Sequence[float]) -> list[float]:
    """The drawdown axis: from 10% below the deepest drawdown (at least −1%) to a sliver above 0."""
    bottom = 1.1 * min(min(drawdown, default=0.0), -0.01)
    return [bottom, -0.05 * bottom]


#: Where the forecast history draws an abstention: below the three directions, on a row of its own.
ABSTAINED_ROW = -2


def forecast_history_chart(rows: Sequence[Any]) -> dict[str, Any]:
    """Each call as a dot on its direction row: filled green if it came true, red if not, hollow
    while unresolved; the realised direction is drawn as a grey line behind.

    An abstention (direction ``NONE``) is no call: neither a NEUTRAL forecast nor a wrong one. It is
    drawn as a grey ring on an "abstained" row of its own, never in the hit/miss colours.
    """
    y_of = {"BEARISH": -1, "NEUTRAL": 0, "BULLISH": 1}
    calls = [r for r in rows if r.direction != ABSTAIN]
    abstained = [r for r in rows if r.direction == ABSTAIN]
    resolved = [r for r in rows if r.realized_direction is not None]
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": "realised", "x": [r.bar_ts.isoformat() for r in resolved],
         "y": [y_of.get(r.realized_direction, 0) for r in resolved], "line": {"color": "#cbd2d9", "shape": "hv"}}]
    if calls:
        colour = [MUTED if r.realized_direction is None else (BULL if r.realized_direction == r.direction else BEAR)
                  for r in calls]
        data.append({"type": "scatter", "mode": "markers", "name": "call (green = right, red = wrong, hollow = open)",
                     "x": [r.bar_ts.isoformat() for r in calls], "y": [y_of.get(r.direction, 0) for r in calls],
                     "text": [f"{r.direction} {r.confidence:.0%} → {r.realized_direction or 'open'}" for r in calls],
                     "marker": {"color": colour, "size": [6 + 10 * r.confidence for r in calls],
                                "symbol": ["circle-open" if r.realized_direction is None else "circle"
                                           for r in calls]}})
    if abstained:
        data.append({"type": "scatter", "mode": "markers", "name": "abstained (no call: neither right nor wrong)",
                     "x": [r.bar_ts.isoformat() for r in abstained], "y": [ABSTAINED_ROW] * len(abstained),
                     "text": [f"abstained: {getattr(r, 'abstain_reason', None) or 'no call'} → "
                              f"{r.realized_direction or 'open'}" for r in abstained],
                     "marker": {"color": MUTED, "size": 9, "symbol": "circle-open", "line": {"width": 1.5}}})
    rows_shown = ([ABSTAINED_ROW] if abstained else []) + [-1, 0, 1]
    return {"data": data, "layout": _layout(
        "Forecasts against realised direction",
        yaxis={"tickvals": rows_shown, "ticktext": [_ROW_NAMES[v] for v in rows_shown],
               "range": [rows_shown[0] - 0.5, 1.5], "zeroline": False})}  # y = 0 is the NEUTRAL row, not a level


_ROW_NAMES = {ABSTAINED_ROW: "abstained", -1: "BEARISH", 0: "NEUTRAL", 1: "BULLISH"}


def live_chart(points: Sequence[LivePoint], drift: Sequence[Any], oos_accuracy: float | None) -> dict[str, Any] | None:
    """Live rolling accuracy vs the causal baseline, the drift monitor's numbers and the OOS level;
    None when there is no accuracy to draw (the page says :func:`live_empty` instead of an empty grid)."""
    measured = [d for d in drift if d.accuracy is not None]
    if not points and not measured:
        return None
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": "live accuracy (rolling)",
         "x": [p.bar_ts.isoformat() for p in points], "y": [p.accuracy for p in points], "line": {"color": ACCENT}},
        {"type": "scatter", "mode": "lines", "name": "baseline (majority so far)",
         "x": [p.bar_ts.isoformat() for p in points], "y": [p.baseline for p in points],
         "line": {"color": MUTED, "dash": "dash"}},
    ]
    if measured:
        data.append({"type": "scatter", "mode": "markers", "name": "drift monitor accuracy",
                     "x": [d.bar_ts.isoformat() for d in measured], "y": [d.accuracy for d in measured],
                     "marker": {"color": [STATUS_COLOURS.get(d.status, MUTED) for d in measured], "size": 9,
                                "symbol": "diamond"}})
    shapes = []
    if oos_accuracy is not None:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": oos_accuracy, "y1": oos_accuracy,
                       "line": {"color": INK, "dash": "dot", "width": 1}})
    return {"data": data, "layout": _layout("Live accuracy vs baseline (dotted: out-of-sample accuracy)",
                                            yaxis={"tickformat": ".0%", "range": [0, 1]}, shapes=shapes)}


def live_empty(resolved: int, calls: int) -> str:
    """What the forecasts page says where :func:`live_chart` has nothing to draw."""
    if not resolved:
        return "Live accuracy: no forecast has resolved yet (a forecast resolves once its horizon has passed)."
    if not calls:
        return (f"Live accuracy: none of the {resolved} resolved forecasts made a call — every one abstained "
                "(its conformal set held several classes, or the champion has no significant edge). An abstention "
                "is neither a hit nor a miss, so there is no accuracy to draw yet.")
    return (f"Live accuracy: {calls} resolved call{'s' if calls != 1 else ''} so far "
            f"({resolved - calls} abstained); the rolling line starts once enough calls have resolved.")


STATUS_COLOURS = {DriftStatus.NORMAL: BULL, DriftStatus.MONITOR: "#e6a700", DriftStatus.DRIFT: "#f46d43",
                  DriftStatus.EMERGENCY: BEAR, DriftStatus.INSUFFICIENT: MUTED}
