"""Server-rendered pages: overview, model, forecasts. Charts are Plotly specs drawn client-side
by the plotly.js that ships inside candor (``api/static/plotly.min.js``: no CDN, works offline)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from itertools import groupby
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from candor.api import charts, production, queries
from candor.api.routes_read import HorizonQuery, SymbolPath, require_horizon, require_series
from candor.api.schemas import Timeframe
from candor.api.services import Services, services
from candor.registry.common import FIRST_CHAMPION_STEPS
from candor.records.verdict import Verdict
from candor.records.status import DriftStatus
from candor.store import DriftRow, alias_events, drift_rows
from candor.store.forecasts import ABSTAIN
from candor.records.report import CalibrationBin, TrainingReport
from candor.records.backtest import BacktestSummary

router = APIRouter(include_in_schema=False)
Svc = Annotated[Services, Depends(services)]
#: Newest forecasts listed on the forecasts page (the API serves the rest).
RECENT = 40
#: What an empty home tells a new user to run (:data:`candor.registry.common.FIRST_CHAMPION_STEPS`):
#: an embedded dataset, so it needs no file or network, then a forced promotion, so the home really
#: has a champion afterwards even when the gates refuse the model.
FIRST_STEP = "\n".join(FIRST_CHAMPION_STEPS)


def render(request: Request, template: str, **context: Any) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, template, {"now": dt.datetime.now(dt.UTC), **context})


def _script_json(figures: dict[str, Any]) -> str:
    """JSON safe inside a <script> element (no ``</script>`` can close it early)."""
    return json.dumps(figures, default=str).replace("</", "<\\/")


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, svc: Svc) -> HTMLResponse:
    states = queries.series_states(svc.engine, svc.registry)
    # One group per series, its horizon models as rows under it (states come series by series).
    groups = [(series, list(rows)) for series, rows in groupby(states, key=lambda s: s.series)]
    counts = {"series": len(groups), "models": len(states),
              "edge": sum(1 for s in states if s.run is not None and s.run.verdict == Verdict.SIGNIFICANT_EDGE),
              "drift": sum(1 for series, rows in groups if rows[0].drift is not None
                           and rows[0].drift.status in (DriftStatus.DRIFT, DriftStatus.EMERGENCY)),
              "champions": sum(1 for s in states if s.champion)}
    return render(request, "overview.html", groups=groups, counts=counts, first_step=FIRST_STEP)


def horizon_drift(row: DriftRow, horizon: int) -> Any:
    """The drift monitor's reading of one horizon: the row of that horizon (migration 0005: one row per
    horizon and judged bar); a row written before 0005 carries every horizon under
    ``details["horizons"]`` (its own numbers are the worst horizon's)."""
    entries = (row.details or {}).get("horizons") or []
    entry = next((e for e in entries if e.get("horizon") == horizon), None)
    if entry is None:
        return None if entries or row.horizon != horizon else row
    return SimpleNamespace(date=row.date, bar_ts=row.bar_ts, status=entry.get("status"), accuracy=entry.get("accuracy"),
                           baseline=entry.get("baseline"), n=entry.get("n") or 0, margin=entry.get("margin"))


def _calibration(report: TrainingReport | None,
                 rows: Callable[[], list[Any]]) -> tuple[list[CalibrationBin], str] | None:
    """The report's out-of-sample calibration when it has one, else one from resolved live calls
    (read only then: up to 5,000 rows). An abstention is no call, so it has no confidence to check:
    counted as a miss it would drag every bin down."""
    if report is not None and report.calibration:
        return list(report.calibration), "out-of-sample"
    resolved = [r for r in rows() if r.realized_direction is not None and r.direction != ABSTAIN]
    if len(resolved) < 10:
        return None
    bins: list[CalibrationBin] = []
    for i in range(10):
        lo, hi = i / 10, (i + 1) / 10
        inside = [r for r in resolved if lo < r.confidence <= hi or (i == 0 and r.confidence == 0)]
        if inside:
            bins.append(CalibrationBin(
                bin=i, lower=lo, upper=hi, mean_confidence=sum(r.confidence for r in inside) / len(inside),
                accuracy=sum(r.direction == r.realized_direction for r in inside) / len(inside), count=len(inside)))
    return bins, f"live calls, n={len(resolved)}, abstentions left out"


def _equity(backtest: BacktestSummary) -> dict[str, Any] | None:
    """An equity chart when the backtest section carries a curve (beside buy-and-hold when it has one)."""
    points = backtest.equity_curve
    if not points:
        return None
    bench = [p.buy_and_hold for p in points]
    return charts.equity_chart([p.ts for p in points], [p.equity for p in points],
                               None if any(b is None for b in bench) else bench)


@router.get("/models/{symbol}/{timeframe}", response_class=HTMLResponse)
def model_page(request: Request, symbol: SymbolPath, timeframe: Timeframe, svc: Svc, horizon: HorizonQuery = None,
               version: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$")] = None) -> HTMLResponse:
    series = require_series(svc, symbol, timeframe)
    horizon = require_horizon(series, horizon)
    name = series.model_name(horizon)
    registered = any(m.name == name for m in svc.registry.list_models())
    history = svc.registry.history(name) if registered else []
    champion = next((r.version for r in history if "champion" in r.aliases), None)
    shown = version or champion
    run = queries.run_for_version(svc.engine, symbol, timeframe, shown, horizon)
    if version is not None and run is None:
        raise HTTPException(404, f"no training run recorded for {name} version {version}")
    report = queries.run_report(run)
    figures: dict[str, Any] = {}
    if report is not None and report.weights:
        figures["weights"] = charts.weights_chart(report.weights, report.prior_weight)
    if report is not None and report.fold_details:
        figures["folds"] = charts.folds_chart(report.fold_details)
    if report is not None and report.oos.confusion_matrix:
        figures["confusion"] = charts.confusion_chart(report.oos.confusion_matrix, report.oos.classes or (-1, 0, 1))
    calibration = _calibration(report, lambda: queries.forecast_rows(
        svc.engine, symbol=symbol, timeframe=timeframe, horizon=horizon, limit=5000))
    if calibration:
        figures["calibration"] = charts.calibration_chart(*calibration)
    importance_note = None
    if report is not None and report.feature_importance:
        importance = charts.importance_chart(report.feature_importance)
        if importance is None:
            importance_note = charts.IMPORTANCE_EMPTY
        else:
            figures["importance"] = importance
    backtest = None if report is None else report.backtest
    if backtest is not None:
        equity = _equity(backtest)
        if equity:
            figures["equity"] = equity
    return render(request, "model.html", series=series, horizon=horizon, name=name, run=run, report=report,
                  oos=None if report is None else report.oos, holdout=None if report is None else report.holdout,
                  backtest=backtest, history=history, champion=champion, importance_note=importance_note,
                  shown=shown, events=alias_events(svc.engine, name)[::-1],
                  figures=_script_json(figures), figure_names=list(figures))


@router.get("/forecasts/{symbol}/{timeframe}", response_class=HTMLResponse)
def forecasts_page(request: Request, symbol: SymbolPath, timeframe: Timeframe, svc: Svc,
                   horizon: HorizonQuery = None) -> HTMLResponse:
    """One horizon's forecasts (never horizon 1 and 5 in one table), judged against that
    horizon's champion's out-of-sample accuracy — not whichever run happens to be newest."""
    series = require_series(svc, symbol, timeframe)
    horizon = require_horizon(series, horizon)
    name = series.model_name(horizon)
    rows = queries.forecast_rows(svc.engine, symbol=symbol, timeframe=timeframe, horizon=horizon, limit=5000)
    points = queries.live_accuracy(rows)
    drift = [d for d in (horizon_drift(r, horizon) for r in drift_rows(svc.engine, symbol, timeframe)) if d]
    champion = queries.champion_version(svc.registry, name)
    run = None if champion is None else queries.run_for_version(svc.engine, symbol, timeframe, champion, horizon)
    figures = {}
    if rows:
        figures["history"] = charts.forecast_history_chart(rows)
    resolved = [r for r in rows if r.realized_direction is not None]
    answered = [r for r in resolved if r.direction != ABSTAIN]  # an abstention is neither hit nor miss
    live = charts.live_chart(points, drift, run.oos_accuracy if run is not None else None)
    if live is not None:
        figures["live"] = live
    live_note = None if live is not None or not rows else charts.live_empty(len(resolved), len(answered))
    hits = sum(r.direction == r.realized_direction for r in answered)
    with_sets = [r for r in resolved if isinstance(r.prediction_set, list)]
    summary = {"n": len(rows), "resolved": len(resolved), "hit_rate": hits / len(answered) if answered else None,
               "answered": len(answered), "abstained": sum(r.direction == ABSTAIN for r in rows),
               "set_coverage": (sum(r.realized_direction in r.prediction_set for r in with_sets) / len(with_sets)
                                if with_sets else None), "set_n": len(with_sets),
               "coverage_target": svc.config.forecast.coverage,
               "baseline": points[-1].baseline if points else None, "live": points[-1].accuracy if points else None}
    return render(request, "forecasts.html", series=series, horizon=horizon, name=name, champion=champion,
                  rows=rows[::-1][:RECENT], summary=summary, drift=drift[-1] if drift else None, run=run,
                  live_note=live_note, figures=_script_json(figures), figure_names=list(figures))


@router.get("/live/{symbol}/{timeframe}", response_class=HTMLResponse)
def live_page(request: Request, symbol: SymbolPath, timeframe: Timeframe, svc: Svc,
              horizon: HorizonQuery = None) -> HTMLResponse:
    """The champion in production: its shadow challenger's paired comparison and the paper ledger
    beside buy & hold and the backtest Sharpe (the same read models as /api/shadow and /api/paper)."""
    series = require_series(svc, symbol, timeframe)
    horizon = require_horizon(series, horizon)
    shadow, paper = production.shadow_panel(svc, series, horizon), production.paper_panel(svc, series, horizon)
    figures = {}
    if paper.ledger is not None:
        days, live, hold = paper.equity()
        figures["paper"] = charts.equity_chart(days, live, hold, title="Paper ledger: served forecasts vs buy & hold")
    return render(request, "live.html", series=series, horizon=horizon, name=series.model_name(horizon),
                  shadow=shadow, paper=paper, days=list(paper.ledger.days[::-1][:RECENT]) if paper.ledger else [],
                  figures=_script_json(figures), figure_names=list(figures))
