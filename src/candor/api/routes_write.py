"""``POST /api/predict`` and the token-guarded registry moves.

Why predict calls :func:`candor.ops.forecast.forecast_bars`: the web service must say exactly
what the forecast job would say for the same bars and champion, so both run the same function.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Path

from candor.api.auth import require_token, require_token_if_set
from candor.api.schemas import (
    MODEL_NAME_PATTERN, ForecastOut, PredictRequest, PromoteRequest, RegistryActionOut, RollbackRequest,
)
from candor.api.services import Services, services
from candor.data.bars import make_bars
from candor.data.sources import infer_timeframe
from candor.data.validate import validate_bars
from candor.errors import DataError
from candor.ops.forecast import SeriesForecast, forecast_bars, with_sets
from candor.ops.sets import set_misses
from candor.registry.common import DEFAULT_HORIZON, model_name, parse_model_name

router = APIRouter(prefix="/api", tags=["actions"])
Svc = Annotated[Services, Depends(services)]
ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN,
                                 description="candor.<SYMBOL>.<timeframe>, or candor.<SYMBOL>.<timeframe>.h<N> "
                                             f"for a horizon other than {DEFAULT_HORIZON}")]


def checked_name(name: str) -> str:
    """A name :func:`model_name` builds (``candor.SPX.d1.h5`` is not one: horizon 5 is the plain
    name), else :class:`~candor.errors.InvalidNameError` (422) — before any registry call."""
    return parse_model_name(name).name


def bars_frame(request: PredictRequest, warmup: int) -> pd.DataFrame:
    """The request's bars as a candor bar frame, checked by the same rules as any other input;
    fewer than the model's warm-up + 1 bars cannot give one complete feature row."""
    frame = pd.DataFrame([b.model_dump() for b in request.bars]).set_index("ts")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True))
    bars = make_bars(frame, request.symbol, request.timeframe)
    spaced = infer_timeframe(bars.index)
    if spaced is not None and spaced != request.timeframe:
        raise DataError(f"`timeframe` is {request.timeframe!r} but the bars are spaced as {spaced}; send "
                        f"{request.timeframe} bars or ask the {spaced} model.")
    validate_bars(bars, min_rows=warmup + 1)
    return bars


@router.post("/predict", response_model=ForecastOut,
             summary="Bars in, the champion's forecast for the newest bar out")
def predict(request: PredictRequest, svc: Svc,
            _caller: Annotated[str, Depends(require_token_if_set)]) -> ForecastOut:
    champion = svc.registry.champion(request.symbol, request.timeframe)
    model, version = champion.model, champion.version
    bars = bars_frame(request, model.manifest.warmup)
    forecast = forecast_bars(model, bars)
    # The same set and abstention the forecast job would store (ACI's level from the stored resolutions).
    misses = set_misses(svc.engine, [champion.name], series=(request.symbol, request.timeframe))
    item = with_sets(SeriesForecast(forecast, champion.name, version, report=model.manifest.report),
                     svc.config.forecast, misses)
    sets = item.sets
    return ForecastOut(symbol=forecast.symbol, timeframe=forecast.timeframe, horizon=forecast.horizon,
                       bar_ts=pd.Timestamp(forecast.bar_ts).to_pydatetime(), direction=item.direction,
                       probabilities=dict(forecast.probabilities), confidence=forecast.confidence,
                       model_name=model_name(request.symbol, request.timeframe), model_version=version,
                       prediction_set=None if sets.prediction_set is None else list(sets.prediction_set),
                       set_alpha=sets.alpha, abstain_reason=sets.abstain_reason, note=sets.note)


@router.post("/registry/{name}/promote", response_model=RegistryActionOut,
             summary="Move the champion alias to a version (bearer token)")
def promote(name: ModelName, body: PromoteRequest, svc: Svc,
            actor: Annotated[str, Depends(require_token)]) -> RegistryActionOut:
    result = svc.registry.promote(checked_name(name), body.version, force=body.force, actor=actor, reason=body.reason)
    return RegistryActionOut(name=result.name, version=result.version, status=result.status, note=result.note)


@router.post("/registry/{name}/rollback", response_model=RegistryActionOut,
             summary="Swap champion and previous (bearer token)")
def rollback(name: ModelName, svc: Svc, actor: Annotated[str, Depends(require_token)],
             body: RollbackRequest | None = None) -> RegistryActionOut:
    result = svc.registry.rollback(checked_name(name), actor=actor, reason=body.reason if body else None)
    return RegistryActionOut(name=result.name, version=result.version, status=result.status, note=result.note)


__all__ = ["router", "HTTPException"]
