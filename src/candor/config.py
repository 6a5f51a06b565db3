"""One typed configuration, parsed once at the edge, then frozen.

Sources, lowest priority first: built-in defaults (they live only here), ``candor.toml`` (in the
working directory or the file given), ``CANDOR_*`` environment variables for the few settings that
are naturally per-machine (home, database URL), then CLI flags as an ``overrides`` mapping.
Anything invalid becomes one :class:`~candor.errors.ConfigError` naming the field, the value
received and what is allowed. Nothing below this module reads the environment or re-validates.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from candor.errors import ConfigError

MODEL_CHOICES = ("rf", "gb", "gb_classic", "xgb", "lgbm", "logreg")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelConfig(_Frozen):
    """How a direction label is made from the future of each bar."""

    kind: Literal["threshold", "volscaled", "binary", "triple"] = "threshold"
    horizon: int = Field(5, ge=1, description="bars ahead the label looks")
    threshold: float = Field(0.002, ge=0.0, description="fixed return threshold (0.002 = ±0.2%)")
    vol_k: float = Field(0.5, gt=0.0)
    vol_window: int = Field(100, ge=5)
    pt_sigma: float = Field(1.0, gt=0.0)
    sl_sigma: float = Field(1.0, gt=0.0)


class FeatureConfig(_Frozen):
    groups: tuple[str, ...] | None = None
    short: int = Field(14, ge=2)
    medium: int = Field(50, ge=3)
    long: int = Field(200, ge=4)


class SplitConfig(_Frozen):
    """Purged walk-forward evaluation windows. ``None`` purge/embargo mean "= horizon"."""

    folds: int = Field(5, ge=2)
    window: Literal["expanding", "rolling"] = "expanding"
    purge: int | None = Field(None, ge=0)
    embargo: int | None = Field(None, ge=0)
    holdout: float = Field(0.15, gt=0.0, lt=0.5, description="newest share of rows never used for selection")


class ModelConfig(_Frozen):
    models: tuple[str, ...] = ("rf", "gb", "xgb", "lgbm")
    ensemble: Literal["ridge", "stacking", "equal"] = "ridge"
    inner_splits: int = Field(2, ge=2)
    scaling: Literal["standard", "minmax", "robust", "none"] = "standard"
    prune_threshold: float | None = Field(0.95, gt=0.0, le=1.0)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict, description="hyper-parameter overrides per model")
    n_jobs: int = Field(1, ge=1, description="threads per model fit")
    fold_jobs: int = Field(1, ge=1, description="outer folds fitted in parallel processes (the CLI uses every core)")

    @field_validator("models")
    @classmethod
    def _known_models(cls, models: tuple[str, ...]) -> tuple[str, ...]:
        if not models:
            raise ValueError("at least one model is needed")
        unknown = [m for m in models if m not in MODEL_CHOICES]
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r}; choose from {', '.join(MODEL_CHOICES)}")
        return models


class EvaluationConfig(_Frozen):
    n_boot: int = Field(1000, ge=100)
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    importance_repeats: int = Field(3, ge=0)


class BacktestSection(_Frozen):
    """How out-of-sample signals are traded in the report's backtest (see candor.backtest)."""

    short_on_bearish: bool = False
    execution: Literal["next_open", "next_close"] = "next_open"
    cost_bps: float = Field(1.0, ge=0.0)
    slippage_bps: float = Field(0.0, ge=0.0)
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)
    size_by_confidence: bool = False


class GateConfig(_Frozen):
    """Promotion gates; the accuracy-type minimums are seed 004's defaults."""

    min_accuracy: float | None = Field(None, ge=0.0, le=1.0)
    require_edge: bool = False


class RegistryConfig(_Frozen):
    """What a version must show to be tagged ``validated`` (seed 004's thresholds by default)."""

    min_accuracy: float = Field(0.60, ge=0.0, le=1.0)
    min_precision: float = Field(0.55, ge=0.0, le=1.0)
    min_recall: float = Field(0.50, ge=0.0, le=1.0)
    min_f1: float = Field(0.52, ge=0.0, le=1.0)
    promotion_margin: float = Field(0.0, ge=0.0, le=1.0)
    max_model_age_days: int = Field(60, ge=1)
    # Backtest gate (report["backtest"]); None turns one check off. 30 trades: fewer make the
    # Sharpe and hit rate noise (seed 002's 10 is too few); DSR 0.95: 95% confidence that the
    # after-cost Sharpe beats the best of every configuration tried (issue 5).
    min_backtest_sharpe: float | None = Field(0.5, description="annualised after-cost Sharpe")
    min_backtest_trades: int | None = Field(30, ge=0)
    min_deflated_sharpe: float | None = Field(0.95, ge=0.0, le=1.0, description="deflated Sharpe ratio (a probability)")


class TuneConfig(_Frozen):
    """Nested Optuna search (issue 6). Off unless ``enabled`` (``candor train --optimize``).

    Each member gets its own study inside every outer training fold and once more on all
    development rows for the production model; ``trials`` and ``timeout`` apply per study.
    """

    enabled: bool = False
    trials: int = Field(30, ge=1, description="trials per study (one study per member and fold)")
    timeout: float | None = Field(None, gt=0, description="seconds per study")
    metric: Literal["f1", "accuracy", "log_loss"] = "f1"
    inner_splits: int = Field(3, ge=2, description="inner purged walk-forward folds of the objective")
    study_storage: str | None = Field(None, description="Optuna RDB URL; None keeps studies in memory")
    study_name: str | None = Field(None, description="study name prefix in the storage (default candor.<SYMBOL>.<tf>)")


class UniverseConfig(_Frozen):
    """Which series ``candor train --all`` trains and where: datasets x timeframes, processes, Dask."""

    datasets: tuple[str, ...] = Field((), description="dataset names, symbols or files; empty = every embedded dataset")
    timeframes: tuple[str, ...] = Field((), description="empty = each series at its own timeframe")
    jobs: int = Field(1, ge=1, description="series trained in parallel processes")
    dask: str | None = Field(None, description="Dask scheduler address, e.g. tcp://host:8786")
    keep_going: bool = False


class Config(_Frozen):
    home: Path = Field(default_factory=lambda: Path("~/.candor").expanduser())
    seed: int = 42
    database_url: str | None = None
    labels: LabelConfig = LabelConfig()
    features: FeatureConfig = FeatureConfig()
    split: SplitConfig = SplitConfig()
    models: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gates: GateConfig = GateConfig()
    backtest: BacktestSection = BacktestSection()
    registry: RegistryConfig = RegistryConfig()
    tune: TuneConfig = TuneConfig()
    universe: UniverseConfig = UniverseConfig()
    device: Literal["cpu", "cuda"] = "cpu"

    @model_validator(mode="after")
    def _purge_covers_horizon(self) -> Config:
        horizon = self.labels.horizon
        if self.split.purge is not None and self.split.purge < horizon:
            raise ValueError(
                f"split.purge must be >= labels.horizon ({horizon}) so no training label "
                f"reaches into the test span. Got {self.split.purge}."
            )
        return self

    @property
    def purge(self) -> int:
        return self.labels.horizon if self.split.purge is None else self.split.purge

    @property
    def embargo(self) -> int:
        return self.labels.horizon if self.split.embargo is None else self.split.embargo

    def config_hash(self) -> str:
        """Stable short hash of everything that shapes a model (home excluded)."""
        payload = self.model_dump(mode="json", exclude={"home", "database_url"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    if environ.get("CANDOR_HOME"):
        layer["home"] = environ["CANDOR_HOME"]
    if environ.get("CANDOR_DATABASE_URL"):
        layer["database_url"] = environ["CANDOR_DATABASE_URL"]
    return layer


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path | None) -> dict[str, Any]:
    candidate = path if path is not None else Path("candor.toml")
    if not candidate.exists():
        if path is not None:
            raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing candor.toml.")
        return {}
    try:
        return tomllib.loads(candidate.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(candidate)!r} is not valid TOML: {exc}") from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "config"
    value = first.get("input")
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:
        return message
    if isinstance(value, dict):
        return f"`{field}`: {message}"
    return f"`{field}` {message}. Got {value!r}."


def load_config(
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Build the one frozen :class:`Config` from file, environment and CLI overrides."""
    layers = _merge(_read_toml(path), _env_layer(dict(os.environ if environ is None else environ)))
    layers = _merge(layers, overrides or {})
    try:
        return Config.model_validate(layers)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
