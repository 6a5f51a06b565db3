"""Read-only JSON endpoints under ``/api``: models, history, training runs, forecasts, drift.

Why each endpoint returns its JSON bytes itself: with a ``response_model`` FastAPI validates the
returned objects again (in a second threadpool hop for a sync endpoint) before serializing them.
Here the rows are validated once, into the same schema, and serialized by that schema's
:class:`pydantic.TypeAdapter` — the bytes FastAPI would send (``tests/api/test_read_fast_path.py``
checks they are equal); ``response_model`` stays for the OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import TypeAdapter

from candor.api import production, queries
from candor.api.schemas import (
    SYMBOL_PATTERN, AliasEventOut, DriftOut, ForecastRowOut, ModelHistoryOut, ModelOut, Timeframe,
    TrainingRunOut, VersionOut,
)
from candor.api.services import Services, services
from candor.registry.common import DEFAULT_HORIZON
from candor.store import TrainingRun, alias_events, drift_rows, latest_training_runs

router = APIRouter(prefix="/api", tags=["read"])

SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, description="ticker, e.g. SPX")]
SymbolQuery = Annotated[str | None, Query(pattern=SYMBOL_PATTERN, description="ticker, e.g. SPX")]
Svc = Annotated[Services, Depends(services)]

MODELS = TypeAdapter(list[ModelOut])
HISTORY = TypeAdapter(ModelHistoryOut)
RUNS = TypeAdapter(list[TrainingRunOut])
FORECASTS = TypeAdapter(list[ForecastRowOut])
DRIFT = TypeAdapter(list[DriftOut])
#: The columns ``/api/forecasts`` reads: the schema's fields, in its order.
FORECAST_FIELDS = list(ForecastRowOut.model_fields)
#: ``/api/forecasts`` answers up to this ``limit`` (the default) are kept as bytes with the registry
#: snapshot, like the overview (:func:`candor.api.queries.memo`): about 0.5 MB each at most, 64 kept.
CACHED_FORECAST_LIMIT = 1000


def json_response(adapter: TypeAdapter, value: object) -> Response:
    """``value`` serialized by ``adapter`` exactly as FastAPI serializes a ``response_model``."""
    return Response(adapter.dump_json(value, by_alias=True), media_type="application/json")


def require_symbol(svc: Services, symbol: str | None) -> None:
    """404 naming the known symbols, so a typo is distinguishable from 'nothing yet'."""
    if symbol is None:
        return
    known = queries.known_symbols(svc.engine, svc.registry)
    if symbol not in known:
        hint = f"known symbols: {', '.join(known)}" if known else "nothing has been trained yet"
        raise HTTPException(404, f"unknown symbol {symbol!r}; {hint}")


def require_series(svc: Services, symbol: str, timeframe: str) -> queries.Series:
    every = queries.list_series(svc.engine, svc.registry)  # once: the happy path needs nothing else
    series = next((s for s in every if (s.symbol, s.timeframe) == (symbol, timeframe)), None)
    if series is None:
        require_symbol(svc, symbol)
        have = sorted(s.timeframe for s in every if s.symbol == symbol)
        raise HTTPException(404, f"no model for {symbol}/{timeframe}; {symbol} has: {', '.join(have) or 'none'}")
    return series


def require_horizon(series: queries.Series, horizon: int | None) -> int:
    """The horizon asked for (default: the plain model's, else the series' first); 404 naming the
    horizons the series has when it has no model or run at that one."""
    if horizon is None:
        return DEFAULT_HORIZON if DEFAULT_HORIZON in series.horizons else series.horizons[0]
    if horizon not in series.horizons:
        have = ", ".join(str(h) for h in series.horizons)
        raise HTTPException(404, f"no horizon-{horizon} model for {series.symbol}/{series.timeframe}; "
                                 f"horizons: {have}")
    return horizon


HorizonQuery = Annotated[int | None, Query(ge=1, le=10000, description="label horizon in bars (default 5)")]


@router.get("/models", response_model=list[ModelOut], summary="Every series with its champion")
def list_models(svc: Svc) -> Response:
    return json_response(MODELS, [
        ModelOut(name=s.name, symbol=s.series.symbol, timeframe=s.series.timeframe, horizon=s.horizon,
                 versions=s.versions, latest=s.latest, champion=s.champion, previous=s.previous,
                 champion_trained_at=s.trained_at, champion_age_days=s.age_days)
        for s in queries.series_states(svc.engine, svc.registry)])


@router.get("/models/{symbol}/{timeframe}", response_model=ModelHistoryOut,
            summary="A model's version history and alias events (who moved the champion, when, why)")
def model_history(symbol: SymbolPath, timeframe: Timeframe, svc: Svc, horizon: HorizonQuery = None) -> Response:
    series = require_series(svc, symbol, timeframe)
    horizon = require_horizon(series, horizon)
    name = series.model_name(horizon)
    rows = svc.registry.history(name) if _registered(svc, name) else []
    champion = next((r.version for r in rows if "champion" in r.aliases), None)
    return json_response(HISTORY, ModelHistoryOut(
        name=name, symbol=symbol, timeframe=timeframe, horizon=horizon, champion=champion,
        versions=[VersionOut(version=r.version, status=r.status, aliases=list(r.aliases), created=r.created,
                             run_id=r.run_id, metrics=r.metrics, verdict=r.verdict, gate_reasons=r.gate_reasons)
                  for r in rows],
        alias_events=[AliasEventOut.model_validate(e) for e in alias_events(svc.engine, name)]))


def _registered(svc: Services, name: str) -> bool:
    return any(m.name == name for m in svc.registry.list_models())


@router.get("/training-runs", response_model=list[TrainingRunOut], summary="Training runs, newest first")
def training_runs(svc: Svc, symbol: SymbolQuery = None, timeframe: Timeframe | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  include_report: Annotated[bool, Query(description="add the full report document")] = False,
                  ) -> Response:
    require_symbol(svc, symbol)
    if include_report:
        return json_response(RUNS, [TrainingRunOut.model_validate(run) for run in latest_training_runs(
            svc.engine, symbol, timeframe, limit=limit)])
    # The page asked for, without the report documents (tens of kB each, dropped from the answer).
    runs = queries.runs_without_reports(svc.engine, symbol, timeframe, limit=limit)
    columns = [c.name for c in TrainingRun.__table__.columns if c.name != "report"]
    return json_response(RUNS, [TrainingRunOut.model_validate({**{c: getattr(run, c) for c in columns}, "report": None})
                                for run in runs])


@router.get("/forecasts", response_model=list[ForecastRowOut], summary="Stored forecasts, oldest bar first")
def list_forecasts(svc: Svc, symbol: SymbolQuery = None, timeframe: Timeframe | None = None,
                   horizon: Annotated[int | None, Query(ge=1, le=10000)] = None,
                   start: Annotated[dt.datetime | None, Query(description="first bar time (inclusive, ISO 8601)")] = None,
                   end: Annotated[dt.datetime | None, Query(description="last bar time (inclusive)")] = None,
                   limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> Response:
    require_symbol(svc, symbol)
    start, end = _utc(start), _utc(end)
    if start is not None and end is not None and start > end:
        raise HTTPException(422, f"`start` ({start}) is after `end` ({end})")

    def body() -> bytes:  # plain rows (no ORM objects), validated once into the schema, serialized by it
        rows = queries.forecast_records(svc.engine, FORECAST_FIELDS, symbol=symbol, timeframe=timeframe,
                                        horizon=horizon, start=start, end=end, limit=limit)
        return FORECASTS.dump_json(FORECASTS.validate_python(rows), by_alias=True)

    if limit > CACHED_FORECAST_LIMIT:
        content = body()
    else:  # a bot polling the same page: one query per new row or resolution, or per DATA_MAX_AGE_S
        key = "forecasts:" + repr((symbol, timeframe, horizon, start, end, limit))
        content = queries.memo(svc.engine, svc.registry, key, body)
    return Response(content, media_type="application/json")


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@router.get("/drift", response_model=list[DriftOut], summary="Drift monitor verdicts, oldest date first")
def list_drift(svc: Svc, symbol: SymbolQuery = None, timeframe: Timeframe | None = None,
               since: dt.date | None = None) -> Response:
    require_symbol(svc, symbol)
    return json_response(DRIFT, [DriftOut.model_validate(r) for r in drift_rows(svc.engine, symbol, timeframe,
                                                                                 since=since)])


@router.get("/shadow/{symbol}/{timeframe}",
            summary="The shadow challenger vs the champion on their common resolved forecasts (lift, CI, p, verdict)")
def shadow(symbol: SymbolPath, timeframe: Timeframe, svc: Svc, horizon: HorizonQuery = None) -> Response:
    series = require_series(svc, symbol, timeframe)
    panel = production.shadow_panel(svc, series, require_horizon(series, horizon))
    return Response(panel.model_dump_json(), media_type="application/json")


@router.get("/paper/{symbol}/{timeframe}",
            summary="The paper ledger: served forecasts traded under the backtest convention, per day, beside "
                    "buy & hold; live Sharpe with its 95% CI vs the champion's backtest Sharpe")
def paper(symbol: SymbolPath, timeframe: Timeframe, svc: Svc, horizon: HorizonQuery = None) -> Response:
    series = require_series(svc, symbol, timeframe)
    panel = production.paper_panel(svc, series, require_horizon(series, horizon))
    return Response(panel.model_dump_json(), media_type="application/json")
