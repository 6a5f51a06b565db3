"""One typed configuration, parsed once at the edge, then frozen.

Sources, lowest priority first: built-in defaults (they live only here), ``candor.toml`` (in the
working directory or the file given), environment variables for the few settings that are
naturally per-machine (``CANDOR_HOME``, ``CANDOR_DATABASE_URL``, ``MLFLOW_TRACKING_URI``,
``CANDOR_API_TOKEN``), then CLI flags as an ``overrides`` mapping. Where candor's databases are
(:attr:`Config.store_url`, :attr:`Config.tracking_store`) is decided here, once.
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
from urllib.parse import urlparse, urlunparse

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from candor.errors import ConfigError
from candor.records.status import AlertLevel, DriftStatus

MODEL_CHOICES = ("rf", "gb", "gb_classic", "xgb", "lgbm", "logreg", "arima_garch")


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
    class_weight: Literal["none", "balanced"] = Field(
        "none", description="'balanced' trains members as if every class were equally common (opt-in: it "
        "pushes predictions toward rare classes; use it only where it improves the pooled OOS log-loss)")
    shrink_to_prior: bool = Field(
        True, description="blend the ensemble with the class prior, the weight fit on out-of-fold rows")

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


class RegistryConfig(_Frozen):
    """The one gate list: what a version must show to be tagged ``validated``.

    The same gates decide ``candor train``'s exit code (2 when any fails) and the registry tag, so
    the two can never disagree. ``max_model_age_days`` is the one age rule for serving a champion
    (forecast job, API, drift, weekly update); ``None`` means no limit.
    """

    min_accuracy: float = Field(0.60, ge=0.0, le=1.0)
    min_precision: float = Field(0.55, ge=0.0, le=1.0)
    min_recall: float = Field(0.50, ge=0.0, le=1.0)
    min_f1: float = Field(0.52, ge=0.0, le=1.0)
    require_edge: bool = Field(True, description="the out-of-sample lift over the best baseline must be significant")
    require_adjusted_edge: bool = Field(
        True, description="in a universe, the edge must stay significant after universe.correction")
    promotion_margin: float = Field(0.0, ge=0.0, le=1.0)
    max_model_age_days: int | None = Field(60, ge=1, description="oldest champion that may serve; None = no limit")
    # Backtest gate (report["backtest"]); None turns one check off. 30 trades: with fewer the
    # Sharpe and hit rate are mostly noise (at 10 trades one trade moves the hit rate 10 points);
    # DSR 0.95: 95% confidence that the after-cost Sharpe beats the best of every configuration
    # tried, so the luckiest of many trials does not pass on luck.
    min_backtest_sharpe: float | None = Field(0.5, description="annualised after-cost Sharpe")
    min_backtest_trades: int | None = Field(30, ge=0)
    min_deflated_sharpe: float | None = Field(0.95, ge=0.0, le=1.0, description="deflated Sharpe ratio (a probability)")


class TuneConfig(_Frozen):
    """Nested Optuna search. Off unless ``enabled`` (``candor train --optimize``).

    Each member gets its own study inside every outer training fold and once more on all
    development rows for the production model, so no out-of-sample score judges parameters
    tuned on its own rows; ``trials`` and ``timeout`` apply per study.
    """

    enabled: bool = False
    trials: int = Field(30, ge=1, description="trials per study (one study per member and fold)")
    timeout: float | None = Field(None, gt=0, description="seconds per study")
    metric: Literal["f1", "accuracy", "log_loss"] = "f1"
    inner_splits: int = Field(3, ge=2, description="inner purged walk-forward folds of the objective")
    study_storage: str | None = Field(None, description="Optuna RDB URL; None keeps studies in memory")
    study_name: str | None = Field(None, description="study name prefix in the storage (default candor.<SYMBOL>.<tf>)")
    reuse_saved: bool = Field(
        True, description="train with the parameters an earlier --optimize saved for the series, refused when they "
        "were tuned on this run's out-of-sample rows; false (--ignore-saved-params) uses the configured ones")


class UniverseConfig(_Frozen):
    """Which series ``candor train --all`` trains and where: datasets x timeframes, processes, Dask."""

    # aapl_m1 (six sessions of minutes) is a resampling source: too short for daily-context warm-up.
    datasets: tuple[str, ...] = Field(("sp500", "nasdaq", "aapl", "aapl_h1"),
                                      description="dataset names, symbols or files; empty = every embedded dataset")
    timeframes: tuple[str, ...] = Field((), description="empty = each series at its own timeframe")
    jobs: int = Field(1, ge=1, description="series trained in parallel processes")
    dask: str | None = Field(None, description="Dask scheduler address, e.g. tcp://host:8786")
    keep_going: bool = False
    correction: Literal["bh", "holm", "none"] = Field(
        "bh", description="p-values adjusted across the series trained together: bh (Benjamini-Hochberg, "
        "false-discovery rate), holm (family-wise error) or none")



# ---- operations: forecast job, drift monitor, alerts, scheduler, logging -----------------------


class ForecastConfig(_Frozen):
    """The forecast job: which series and horizons, how old a champion may be, stale-bar policy."""

    horizons: tuple[int, ...] = Field((5,), description="one champion per horizon; 5 is the plain model name")
    universe: tuple[str, ...] = Field((), description="SYMBOL/timeframe entries; empty = every stored series")
    timeframes: tuple[str, ...] = Field((), description="restrict the universe to these timeframes")
    gap_policy: Literal["refuse", "flag", "ignore"] = Field(
        "refuse", description="latest bar older than the calendar expects: refuse, forecast but flag, or ignore")
    lookback_bars: int = Field(600, ge=50, description="newest bars used to compute features")
    consensus_weights: dict[str, float] = Field(default_factory=dict, description="timeframe → vote weight (default 1)")

    @field_validator("horizons")
    @classmethod
    def _positive_horizons(cls, horizons: tuple[int, ...]) -> tuple[int, ...]:
        if not horizons or any(h < 1 for h in horizons) or len(set(horizons)) != len(horizons):
            raise ValueError("must be distinct positive bar counts, e.g. [1, 5, 20]")
        return horizons


class DriftConfig(_Frozen):
    """Accuracy bands relative to the validation baseline (points = accuracy * 100; why these
    widths: :mod:`candor.ops.drift`)."""

    normal_pts: float = Field(5.0, ge=0.0, description="normal while accuracy >= baseline - 5 pts")
    drift_pts: float = Field(15.0, ge=0.0, description="drift below baseline - 15 pts (monitor in between)")
    emergency_pts: float = Field(25.0, ge=0.0, description="emergency below baseline - 25 pts")
    min_samples: int = Field(30, ge=1, description="resolved forecasts needed before judging")
    window: int = Field(60, ge=1, description="newest resolved forecasts in the rolling accuracy")
    psi_bins: int = Field(10, ge=2)
    psi_window: int = Field(60, ge=10, description="newest bars compared with the training distribution")
    psi_warn: float = Field(0.25, gt=0.0, description="feature or prediction PSI above this → monitor")
    calibration_warn: float = Field(0.10, gt=0.0, description="ECE rise over the holdout's above this → monitor")

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if not self.normal_pts <= self.drift_pts <= self.emergency_pts:
            raise ValueError(f"drift bands must satisfy normal_pts <= drift_pts <= emergency_pts. "
                             f"Got {self.normal_pts}, {self.drift_pts}, {self.emergency_pts}.")
        return self


class AlertConfig(_Frozen):
    """Where alerts go and what an emergency does. The URL is a secret: never dumped in clear."""

    webhook_url: SecretStr | None = None
    retries: int = Field(3, ge=0)
    timeout_s: float = Field(5.0, gt=0.0)
    backoff_s: float = Field(0.5, ge=0.0, description="wait before retry k is backoff_s * 2**(k-1)")
    on_emergency: Literal["none", "retrain", "rollback"] = "none"
    rollback_cooldown_hours: float = Field(
        24.0, ge=0.0, description="no automatic rollback within this long of the champion's last move")
    min_status: AlertLevel = Field(DriftStatus.DRIFT, description="lowest status that alerts")


class ScheduleConfig(_Frozen):
    """Cron lines (UTC, five fields) for the scheduler; an empty string disables a job."""

    timezone: str = "UTC"
    retrain: str = Field("0 6 1 * *", description="monthly full retrain: the 1st at 06:00")
    update_weights: str = Field("0 6 * * mon", description="weekly ensemble-weights refit: Mondays 06:00")
    forecast: str = Field("30 21 * * mon-fri", description="daily forecast after the US close")
    drift: str = Field("0 22 * * mon-fri", description="daily drift check after the forecast")

    @model_validator(mode="after")
    def _valid_cron_lines(self) -> ScheduleConfig:
        # Checked when the config loads, so a typo fails every command at once, not the first fire.
        for job in ("retrain", "update_weights", "forecast", "drift"):
            expression = getattr(self, job)
            if expression.strip():
                try:
                    CronTrigger.from_crontab(expression, timezone=self.timezone)
                except (ValueError, LookupError) as exc:
                    raise ValueError(f"`schedule.{job}` must be a five-field cron line (e.g. '0 6 1 * *'). "
                                     f"Got {expression!r}: {exc}") from None
        return self


class TrackingConfig(_Frozen):
    """Where each training is tracked; the MLflow registry holds the models whatever ``backend`` is.

    ``mlflow`` (default) logs the whole run to MLflow; ``wandb`` logs it as a W&B run and keeps in
    MLflow only the run the registry versions point at (identity tags and the model); ``both`` does
    both. W&B needs ``pip install 'candor[wandb]'`` and reads its own settings (``WANDB_MODE``,
    ``WANDB_API_KEY``) from the environment; its files go under ``<home>/wandb``.
    """

    backend: Literal["mlflow", "wandb", "both"] = "mlflow"
    wandb_project: str = Field("candor", min_length=1, description="W&B project of the runs")
    wandb_entity: str | None = Field(None, description="W&B team or user; None = the login's default entity")

    @property
    def uses_wandb(self) -> bool:
        return self.backend in ("wandb", "both")

    @property
    def mlflow_details(self) -> bool:
        """Whether the MLflow run gets params, metrics and plots (not only the registry's needs)."""
        return self.backend in ("mlflow", "both")


class LoggingConfig(_Frozen):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = Field(False, description="one JSON object per line (same as --log-json)")


class ApiConfig(_Frozen):
    """The web service (``candor serve``). ``token`` guards the write endpoints (promote, rollback).

    ``token=None`` disables writes entirely (403): a service reachable by others must never move
    the champion alias unauthenticated. The token is a secret: it comes from ``CANDOR_API_TOKEN``
    rather than a file checked into a repository, and the whole section is excluded from dumps,
    so it never reaches a manifest, an MLflow param or the config hash.
    """

    token: SecretStr | None = Field(None, description="bearer token for write endpoints; None = writes disabled")
    host: str = Field("127.0.0.1", min_length=1, description="interface to bind; 127.0.0.1 = this machine only")
    port: int = Field(8000, ge=1, le=65535)
    max_body_mb: float = Field(2.0, gt=0.0, le=512.0, description="largest request body; 413 beyond it")


class Config(_Frozen):
    home: Path = Field(default_factory=lambda: Path("~/.candor").expanduser())
    seed: int = 42
    database_url: str | None = Field(None, description="operational store; None = sqlite:///<home>/candor.db")
    tracking_uri: str | None = Field(None, description="MLflow tracking/registry; None = sqlite:///<home>/mlflow.db")
    labels: LabelConfig = LabelConfig()
    features: FeatureConfig = FeatureConfig()
    split: SplitConfig = SplitConfig()
    models: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    backtest: BacktestSection = BacktestSection()
    registry: RegistryConfig = RegistryConfig()
    api: ApiConfig = Field(default_factory=ApiConfig, exclude=True,
                           description="web service; excluded from dumps and the config hash")
    forecast: ForecastConfig = ForecastConfig()
    drift: DriftConfig = DriftConfig()
    alerts: AlertConfig = AlertConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    logging: LoggingConfig = LoggingConfig()
    tracking: TrackingConfig = TrackingConfig()
    tune: TuneConfig = TuneConfig()
    universe: UniverseConfig = UniverseConfig()
    device: Literal["cpu", "cuda"] = "cpu"

    @field_validator("home", mode="before")
    @classmethod
    def _home_is_a_path(cls, home: object) -> Path:
        if not isinstance(home, str | Path) or not str(home).strip():
            raise ValueError(f"must be a folder path such as ~/.candor. Got {home!r}")
        return Path(home).expanduser()

    @field_validator("database_url", "tracking_uri")
    @classmethod
    def _blank_is_default(cls, url: str | None) -> str | None:
        return url.strip() or None if url is not None else None

    @model_validator(mode="after")
    def _purge_covers_horizon(self) -> Config:
        horizon = self.labels.horizon
        if self.split.purge is not None and self.split.purge < horizon:
            raise ValueError(
                f"split.purge must be >= labels.horizon ({horizon}) so no training label "
                f"reaches into the test span. Got {self.split.purge}."
            )
        return self

    @model_validator(mode="after")
    def _arima_garch_inputs(self) -> Config:
        """arima_garch reads the ``returns`` group's ret_1 and classifies a fixed return cut."""
        if "arima_garch" not in self.models.models:
            return self
        if self.labels.kind not in ("threshold", "binary"):
            raise ValueError(
                f"models.models: arima_garch classifies threshold and binary labels, not {self.labels.kind!r}. "
                "Fix: use --label threshold or binary, or leave arima_garch out of --models."
            )
        if self.features.groups is not None and "returns" not in self.features.groups:
            raise ValueError(
                "models.models: arima_garch reads the 1-bar log return (ret_1) of the 'returns' feature group, "
                "which features.groups leaves out. Fix: add 'returns' to the groups or leave arima_garch out."
            )
        return self

    @property
    def purge(self) -> int:
        return self.labels.horizon if self.split.purge is None else self.split.purge

    @property
    def embargo(self) -> int:
        return self.labels.horizon if self.split.embargo is None else self.split.embargo

    @property
    def store_url(self) -> str:
        """The operational database: ``database_url``, else SQLite under ``home``."""
        return self.database_url or f"sqlite:///{self.home / 'candor.db'}"

    @property
    def tracking_store(self) -> str:
        """The MLflow tracking and registry URI: ``tracking_uri``, else SQLite under ``home``."""
        return self.tracking_uri or f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str | None:
        """Where a local default tracking store keeps artifacts (``<home>/mlartifacts``); a
        configured tracking server decides its own, so None then."""
        return None if self.tracking_uri else (self.home.resolve() / "mlartifacts").as_uri()

    def recorded(self) -> dict[str, Any]:
        """The config as manifests, MLflow params and reports record it: where it ran (home,
        database, tracking server) left out, and the password of any other URL (the Optuna study
        storage) masked — an artifact is shared, a password must not travel with it."""
        dumped = self.model_dump(mode="json", exclude=_UNRECORDED)
        if dumped["tune"]["study_storage"]:
            dumped["tune"]["study_storage"] = safe_uri(dumped["tune"]["study_storage"])
        return dumped

    def config_hash(self) -> str:
        """Stable short hash of everything that shapes a model (home excluded)."""
        payload = self.model_dump(mode="json", include=_MODEL_SHAPING)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


#: Where a config ran: never recorded in what a training leaves behind.
_UNRECORDED = {"home", "database_url", "tracking_uri"}


def under_home(home: Path, *parts: str) -> Path:
    """``home/parts…``, refused (ConfigError) unless it resolves inside ``home``: a name taken from
    data (a symbol, a timeframe) must never steer a write elsewhere."""
    base = Path(home).expanduser().resolve()
    target = base.joinpath(*parts).resolve()
    if not target.is_relative_to(base):
        raise ConfigError(f"refusing to write {str(target)!r}: it is outside `home` {str(base)!r} "
                          f"(from the names {list(parts)!r}).")
    return target


def safe_uri(uri: str) -> str:
    """The URI with any password replaced by ``***`` (the only form candor prints or records)."""
    parsed = urlparse(uri)
    if parsed.password is None:
        return uri
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return urlunparse(parsed._replace(netloc=netloc))


#: Sections that change what a training produces; where it runs, stores or alerts does not count.
_MODEL_SHAPING = {"seed", "labels", "features", "split", "models", "evaluation", "backtest", "tune", "device"}


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    if environ.get("CANDOR_HOME"):
        layer["home"] = environ["CANDOR_HOME"]
    if environ.get("CANDOR_DATABASE_URL"):
        layer["database_url"] = environ["CANDOR_DATABASE_URL"]
    if environ.get("MLFLOW_TRACKING_URI"):
        layer["tracking_uri"] = environ["MLFLOW_TRACKING_URI"]
    if environ.get("CANDOR_API_TOKEN"):
        layer["api"] = {"token": environ["CANDOR_API_TOKEN"]}
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
    if not candidate.is_file():
        raise ConfigError(f"config file {str(candidate)!r} is not a file; pass the path of a candor.toml.")
    try:
        return tomllib.loads(candidate.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(candidate)!r} is not UTF-8 text (byte {exc.start}); save it as "
                          "UTF-8 TOML.") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(candidate)!r} cannot be read: {exc.strerror or exc}.") from None
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
