"""Request and response models: the validation edge of the web service.

Why strict patterns here: a symbol or timeframe from a URL ends up in SQL filters, registry
names and file paths of cached artifacts. The symbol rule is the one every layer uses
(:data:`candor.data.bars.SYMBOL_PATTERN`: no slash, no leading dot), so ``../x`` and friends
never get past the edge.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from candor.data.bars import SYMBOL_PATTERN, check_symbol
from candor.errors import ConfigError
#: Bars one /api/predict may carry: features need a few hundred; more is a denial of service.
MAX_PREDICT_BARS = 5000
#: Registered model names: ``candor.<SYMBOL>.<timeframe>`` and ``….h<horizon>`` for the other horizons
#: (a first filter on the URL; :func:`candor.registry.common.parse_model_name` has the last word).
MODEL_NAME_PATTERN = r"^candor\.[A-Za-z0-9-][A-Za-z0-9._-]{0,31}\.(m1|m5|m15|h1|h4|d1|w1)(\.h[1-9][0-9]{0,3})?$"
Timeframe = Literal["m1", "m5", "m15", "h1", "h4", "d1", "w1"]
Direction = Literal["BEARISH", "NEUTRAL", "BULLISH"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Bar(BaseModel):
    """One OHLCV bar, labelled at its open time. Prices must be positive, volume non-negative."""

    model_config = ConfigDict(extra="forbid")

    ts: dt.datetime
    open: float = Field(gt=0)
    high: float = Field(gt=0)
    low: float = Field(gt=0)
    close: float = Field(gt=0)
    volume: float = Field(ge=0)

    @field_validator("open", "high", "low", "close", "volume")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Bar:
        if self.high < max(self.open, self.close, self.low):
            raise ValueError(f"high ({self.high}) must be >= open, close and low")
        if self.low > min(self.open, self.close):
            raise ValueError(f"low ({self.low}) must be <= open and close")
        return self


class PredictRequest(BaseModel):
    """Bars in (oldest first, enough for the model's warm-up), forecast out."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["SPX"])
    timeframe: Timeframe
    bars: list[Bar] = Field(min_length=1, max_length=MAX_PREDICT_BARS,
                            description="oldest first; the forecast is for the newest bar")

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, symbol: str) -> str:
        """The rest of the symbol rule (no trailing timeframe: ``GOOD.d1`` at h4 would name GOOD/d1's
        horizon-4 model), before the registry is asked for a champion."""
        try:
            return check_symbol(symbol)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("bars")
    @classmethod
    def _increasing(cls, bars: list[Bar]) -> list[Bar]:
        for i in range(1, len(bars)):
            if bars[i].ts <= bars[i - 1].ts:
                raise ValueError(f"ts must increase: bar {i} ({bars[i].ts}) is not after bar {i - 1}")
        return bars


class ForecastOut(BaseModel):
    symbol: str
    timeframe: str
    horizon: int
    bar_ts: dt.datetime
    direction: str
    probabilities: dict[str, float]
    confidence: float
    model_name: str
    model_version: str
    prediction_set: list[str] | None = Field(None, description="conformal set at 1 − set_alpha; null: the "
                                                                "champion has no calibration data (see note)")
    set_alpha: float | None = None
    abstain_reason: str | None = Field(None, description="why direction is NONE; null when the forecast did not abstain")
    note: str | None = None


class ModelOut(BaseModel):
    """One registered model (a series at one label horizon) and its champion."""

    name: str
    symbol: str
    timeframe: str
    horizon: int
    versions: int
    latest: str | None
    champion: str | None
    previous: str | None
    champion_trained_at: dt.datetime | None
    champion_age_days: int | None


class VersionOut(BaseModel):
    version: str
    status: str
    aliases: list[str]
    created: dt.datetime
    run_id: str | None
    metrics: dict[str, float]
    verdict: str | None
    gate_reasons: str


class AliasEventOut(_Out):
    id: int
    model_name: str
    alias: str
    from_version: str | None
    to_version: str | None
    action: str
    reason: str | None
    actor: str | None
    created_at: dt.datetime


class ModelHistoryOut(BaseModel):
    name: str
    symbol: str
    timeframe: str
    horizon: int
    champion: str | None
    versions: list[VersionOut]
    alias_events: list[AliasEventOut]


class TrainingRunOut(_Out):
    id: int
    symbol: str
    timeframe: str
    horizon: int
    label_spec: str | None
    run_date: dt.datetime
    n_samples: int | None
    weights: dict[str, float] | None
    oos_accuracy: float | None
    oos_f1: float | None
    best_baseline: str | None
    baseline_accuracy: float | None
    lift: float | None
    lift_ci_low: float | None
    lift_ci_high: float | None
    p_value: float | None
    verdict: str | None
    holdout_accuracy: float | None
    mlflow_run_id: str | None
    model_name: str | None
    model_version: str | None
    status: str
    report: dict | None = None


class ForecastRowOut(_Out):
    id: int
    symbol: str
    timeframe: str
    horizon: int
    bar_ts: dt.datetime
    generated_at: dt.datetime
    direction: str
    prob_bearish: float | None
    prob_neutral: float | None
    prob_bullish: float | None
    confidence: float
    model_name: str
    model_version: str
    consensus_direction: str | None
    consensus_agreement: float | None
    realized_direction: str | None
    realized_return: float | None
    resolved_at: dt.datetime | None
    prediction_set: list[str] | None = None
    set_alpha: float | None = None
    abstain_reason: str | None = None


class DriftOut(_Out):
    symbol: str
    timeframe: str
    horizon: int
    bar_ts: dt.datetime
    date: dt.date
    accuracy: float | None
    n: int
    baseline: float | None
    margin: float | None
    status: str
    calibration_error: float | None
    max_feature_psi: float | None
    prediction_psi: float | None


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=r"^[0-9]{1,9}$", description="version number to make champion")
    force: bool = Field(False, description="promote a version that failed its gates (audited)")
    reason: str | None = Field(None, max_length=500)


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500)


class RegistryActionOut(BaseModel):
    name: str
    version: str
    status: str
    note: str
