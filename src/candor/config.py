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
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse, urlunparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from candor.errors import ConfigError
from candor.records.specs import (
    MODEL_CHOICES, TIMEFRAME_NAMES, BacktestConfig, FeatureSet, LabelSpec, ModelSpec, RegistrySpec, SplitSpec,
    describe,
)
from candor.records.status import AlertLevel, DriftStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EvaluationConfig(_Frozen):
    n_boot: int = Field(1000, ge=100)
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    importance_repeats: int = Field(3, ge=0)


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
    reuse_saved: Literal["auto", "require", "never"] = Field(
        "auto", description="parameters an earlier --optimize saved for the series: auto (true) reuses them when "
        "they were not tuned on this run's out-of-sample rows, else trains with the configured ones after one "
        "warning; require (--reuse-params) refuses (exit 1) instead; never (false, --ignore-saved-params) ignores them")

    @field_validator("reuse_saved", mode="before")
    @classmethod
    def _reuse_flag(cls, value: Any) -> Any:
        """``true`` / ``false`` (the earlier boolean form, and stored configs) read as auto / never."""
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            value = value.strip().lower() in ("true", "1", "yes")  # from CANDOR_TUNE__REUSE_SAVED
        if isinstance(value, bool):
            return "auto" if value else "never"
        return value


def _known_timeframes(timeframes: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [tf for tf in timeframes if tf not in TIMEFRAME_NAMES]
    if unknown:
        raise ValueError(f"entries must be timeframes ({', '.join(TIMEFRAME_NAMES)}); {unknown[0]!r} is not")
    return timeframes


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

    _timeframes = field_validator("timeframes")(_known_timeframes)



# ---- bars in the operational store: the revision policy and the fetch job's series -------------

class FetchSeries(_Frozen):
    """One series the scheduled ``fetch`` job downloads, as ``candor data fetch`` takes it."""

    provider: Literal["yfinance", "ccxt"]
    symbol: str = Field(min_length=1, description="the provider's symbol, e.g. SPY, EURUSD=X, BTC/USDT")
    timeframe: str
    period: str = Field("30d", description="how far back each fetch reads: 30d, 12w, 6mo, 5y")
    exchange: str | None = Field(None, description="ccxt exchange id (default binance)")
    calendar: str | None = Field(None, description="override the provider's calendar: a code, 24/7, 24/5 or none")
    gaps: Literal["refuse", "report", "ffill"] = "refuse"

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, timeframe: str) -> str:
        return _known_timeframes((timeframe,))[0]

    @model_validator(mode="after")
    def _fetchable(self) -> FetchSeries:
        # lazy: the provider checks load pandas and the calendars; only a config that fetches pays
        from candor.data.providers.checks import parse_period, stored_symbol
        from candor.data.gaps import check_calendar

        try:
            parse_period(self.period)
            stored_symbol(self.symbol)
            check_calendar(self.calendar)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if self.exchange is not None and self.provider != "ccxt":
            raise ValueError(f"`exchange` applies to the ccxt provider only. Got {self.exchange!r} with {self.provider}")
        return self


class DataConfig(_Frozen):
    """Bars into ``ohlc_bars``: what ``data import``, ``data fetch`` and the fetch job do with revised
    bars — a bar already stored whose prices differ (a corrected close, a split): refuse (one line
    naming the bars, nothing written), replace the stored values, or keep them — and which series
    the scheduled fetch job keeps fresh."""

    revisions: Literal["refuse", "replace", "keep"] = Field(
        "refuse", description="a stored bar whose prices differ: refuse (name them), replace them, keep the stored")
    fetch: tuple[FetchSeries, ...] = Field((), description="series the scheduled fetch job downloads ([[data.fetch]])")


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
    coverage: float = Field(0.9, description="target coverage of each forecast's conformal prediction set, in (0, 1)")
    aci_step: float = Field(0.005, gt=0.0, lt=1.0,
                            description="adaptive conformal step γ: α moves by γ(α − miss) per resolved forecast")
    abstain_without_edge: bool = Field(True, description="abstain (direction NONE) when the champion has no "
                                                          "significant out-of-sample edge")
    abstain_on_wide_sets: bool = Field(True, description="abstain when the conformal set holds more or fewer than "
                                                          "one class; false serves the model's direction beside its set")

    @field_validator("coverage")
    @classmethod
    def _coverage_inside(cls, coverage: float) -> float:
        if not 0.0 < coverage < 1.0:
            raise ValueError("must be inside (0, 1), e.g. 0.9 for sets that hold the outcome 90% of the time")
        return coverage

    @field_validator("horizons")
    @classmethod
    def _positive_horizons(cls, horizons: tuple[int, ...]) -> tuple[int, ...]:
        if not horizons or any(h < 1 for h in horizons) or len(set(horizons)) != len(horizons):
            raise ValueError("must be distinct positive bar counts, e.g. [1, 5, 20]")
        return horizons

    _timeframes = field_validator("timeframes")(_known_timeframes)

    @field_validator("universe")
    @classmethod
    def _series_entries(cls, universe: tuple[str, ...]) -> tuple[str, ...]:
        for entry in universe:
            symbol, sep, timeframe = entry.rpartition("/")
            if not sep or not symbol.strip() or timeframe not in TIMEFRAME_NAMES:
                raise ValueError(f"entries must be SYMBOL/timeframe with a timeframe of {', '.join(TIMEFRAME_NAMES)} "
                                 f"(e.g. SPX/d1); {entry!r} is not")
        return universe

    @field_validator("consensus_weights")
    @classmethod
    def _weights_by_timeframe(cls, weights: dict[str, float]) -> dict[str, float]:
        _known_timeframes(tuple(weights))
        negative = {tf: w for tf, w in weights.items() if not w >= 0}
        if negative:
            raise ValueError(f"weights must be >= 0 (0 leaves a timeframe out of the vote); {negative} are not")
        return weights


class DriftConfig(_Frozen):
    """The drift monitor: a one-sided CUSUM of live hits against the champion's out-of-sample
    accuracy, its thresholds set by false-alarm rates (the rule: :mod:`candor.ops.alarms`)."""

    false_alarms_per_year: float = Field(
        0.05, gt=0.0, lt=1.0, description="P(a drift alarm within a year of stationary forecasts): sets the threshold")
    emergency_false_alarms_per_year: float = Field(
        0.01, gt=0.0, lt=1.0, description="the same for emergency (alert + rollback/retrain); <= false_alarms_per_year")
    detect_drop: float = Field(0.10, gt=0.0, lt=1.0, description="the accuracy drop the test is tuned to: p1 = baseline - 0.10")
    forecasts_per_year: int = Field(252, ge=1, description="resolved forecasts a year brings per series x horizon "
                                                            "(the forecast job runs each trading day)")
    thin_overlapping: bool = Field(True, description="test only forecasts whose label windows do not overlap "
                                                     "(overlapping outcomes are correlated and void the rate)")
    min_samples: int = Field(30, ge=1, description="tested forecasts needed before judging")
    window: int = Field(60, ge=1, description="newest resolved forecasts in the rolling accuracy (shown, not tested)")
    psi_bins: int = Field(10, ge=2)
    psi_window: int = Field(60, ge=10, description="newest bars whose features are judged, against an empirical null "
                                                   "of equally long windows of the champion's span (candor.ops.feature_drift)")
    psi_warn: float = Field(0.25, gt=0.0, description="prediction PSI above this → monitor; a feature is flagged only "
                                                      "above this and beyond its empirical null")
    feature_null_quantile: float = Field(
        0.9999, gt=0.5, lt=1.0, description="features are flagged beyond the (1 - this) / features tail of a gamma "
                                            "fitted to their PSIs over equally long reference windows")
    feature_null_min_windows: int = Field(100, ge=10, description="reference windows needed before judging features")
    calibration_warn: float = Field(0.10, gt=0.0, description="ECE rise over the holdout's above this → monitor")

    @model_validator(mode="before")
    @classmethod
    def _no_bands(cls, data: Any) -> Any:
        named = sorted(set(data) & {"normal_pts", "drift_pts", "emergency_pts"}) if isinstance(data, dict) else []
        if named:
            raise ValueError(f"{', '.join(named)}: the fixed accuracy bands were replaced by a sequential test; "
                             "set drift.false_alarms_per_year (and emergency_false_alarms_per_year, detect_drop) instead")
        return data

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if self.emergency_false_alarms_per_year > self.false_alarms_per_year:
            raise ValueError(f"drift.emergency_false_alarms_per_year must be <= drift.false_alarms_per_year. "
                             f"Got {self.emergency_false_alarms_per_year} > {self.false_alarms_per_year}.")
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


# Cron lines as APScheduler 3's CronTrigger.from_crontab reads them, checked here without importing
# the scheduler: five fields (minute hour day month day_of_week), each a comma list of ``*``, ``*/s``,
# ``a``, ``a-b``, ``a/s``, ``a-b/s``, or names (jan-dec in the month, mon-sun in the day of week, a
# range of names allowed) and ``last`` in the day field. Note APScheduler's day-of-week numbers run
# 0 = Monday to 6 = Sunday (unlike classic cron's 0 = Sunday): names avoid the ambiguity.
_CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day", 1, 31, ("last",)),
                ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
                ("day_of_week", 0, 6, ("mon", "tue", "wed", "thu", "fri", "sat", "sun")))
_CRON_NUMBERS = re.compile(r"(?:(?P<all>\*)|(?P<first>\d+)(?:-(?P<last>\d+))?)(?:/(?P<step>\d+))?")
_CRON_NAMES = re.compile(r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?", re.IGNORECASE)


def _cron_item(item: str, name: str, low: int, high: int, words: tuple[str, ...]) -> str | None:
    """Why one comma-separated item of a cron field is invalid (None when it is valid)."""
    numbers = _CRON_NUMBERS.fullmatch(item)
    if numbers:
        first = low if numbers["all"] else int(numbers["first"])
        last = high if numbers["all"] or numbers["last"] is None and numbers["step"] else int(numbers["last"] or first)
        if not low <= first <= last <= high:
            return f"{name} {item!r} is outside {low}-{high} or its range runs backwards"
        span = (last or high) - first  # the span APScheduler allows a step over
        if numbers["step"] is not None and not 0 < int(numbers["step"]) <= span:
            return f"{name} step in {item!r} must be 1 to {span}" if span else f"{name} {item!r} has no span to step over"
        return None
    if item.lower() == "last" and "last" in words:
        return None
    names = _CRON_NAMES.fullmatch(item)
    choices = [w for w in words if w != "last"]
    if names and choices and all(n.lower() in choices for n in (names["first"], names["last"]) if n):
        if names["last"] and choices.index(names["last"].lower()) < choices.index(names["first"].lower()):
            return f"{name} range {item!r} runs backwards"
        return None
    allowed = f"{low}-{high}" + (f" or {', '.join(words)}" if words else "")
    return f"{name} {item!r} is not a cron value ({allowed}, *, ranges a-b, steps /n, lists a,b)"


def _check_cron(expression: str) -> str:
    """``expression`` if it is a five-field cron line (or blank: the job is off), else ValueError."""
    if not expression.strip():
        return expression
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"must be a five-field cron line 'minute hour day month day_of_week' (e.g. '0 6 1 * *'), "
                         f"or empty to turn the job off; it has {len(fields)} field(s)")
    for text, (name, low, high, words) in zip(fields, _CRON_FIELDS):
        for item in text.split(","):
            problem = _cron_item(item, name, low, high, words)
            if problem:
                raise ValueError(f"must be a five-field cron line (e.g. '0 6 1 * *'): {problem}")
    return expression


def _check_timezone(timezone: str) -> str:
    """``timezone`` if the IANA database knows it (what the scheduler's triggers use), else ValueError."""
    try:
        zoneinfo.ZoneInfo(timezone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError("must be an IANA time zone such as UTC or America/New_York") from None
    return timezone


class ScheduleConfig(_Frozen):
    """Cron lines (UTC, five fields) for the scheduler; an empty string disables a job."""

    timezone: str = "UTC"
    retrain: str = Field("0 6 1 * *", description="monthly full retrain: the 1st at 06:00")
    update_weights: str = Field("0 6 * * mon", description="weekly ensemble-weights refit: Mondays 06:00")
    fetch: str = Field("15 21 * * mon-fri", description="daily fetch of data.fetch's series before the forecast")
    forecast: str = Field("30 21 * * mon-fri", description="daily forecast after the US close")
    drift: str = Field("0 22 * * mon-fri", description="daily drift check after the forecast")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        return _check_timezone(timezone)

    @field_validator("retrain", "update_weights", "fetch", "forecast", "drift")
    @classmethod
    def _cron_line(cls, expression: str) -> str:
        # Checked when the config loads, so a typo fails every command at once, not the first fire;
        # the scheduler builds its APScheduler triggers from the same lines when it starts.
        return _check_cron(expression)


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
    labels: LabelSpec = LabelSpec()
    features: FeatureSet = FeatureSet()
    split: SplitSpec = SplitSpec()
    models: ModelSpec = ModelSpec()
    evaluation: EvaluationConfig = EvaluationConfig()
    backtest: BacktestConfig = BacktestConfig()
    registry: RegistrySpec = RegistrySpec()
    api: ApiConfig = Field(default_factory=ApiConfig, exclude=True,
                           description="web service; excluded from dumps and the config hash")
    data: DataConfig = DataConfig()
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
        if "returns" not in self.features.groups:
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


#: Query parameters that carry a credential (libpq and psycopg accept ``?password=``).
_SECRET_QUERY = re.compile(r"(?i)([?&;](?:password|sslpassword|passwd|pwd|token|access_token|api_key|apikey|"
                           r"secret|key)=)[^&;#]*")


def safe_uri(uri: str) -> str:
    """The URI with every credential replaced by ``***`` — the one form candor prints or records.

    The userinfo password of a ``scheme://user:password@host/…`` URL is rendered by SQLAlchemy
    (``make_url(uri).render_as_string(hide_password=True)``); what SQLAlchemy cannot read as one
    URL (a bare path, ``databricks``, a port that is no number, a password with a raw ``@``) is
    masked up to the last ``@`` of its network location. Credentials given as query parameters
    (``?password=``, ``sslpassword=``, ``token=``…) are masked too."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(uri)
    except (ArgumentError, ValueError):
        url = None
    if url is not None and "@" not in f"{url.host or ''}{url.database or ''}":
        masked = url.render_as_string(hide_password=True) if url.password is not None else uri
    else:
        parsed = urlparse(uri)
        masked = uri if parsed.password is None else urlunparse(
            parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@")))
    return _SECRET_QUERY.sub(r"\1***", masked)


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>()\[\]]+")


def mask_urls(text: str) -> str:
    """``text`` (a third-party error message) with every URL in it rendered by :func:`safe_uri`."""
    return _URL_IN_TEXT.sub(lambda found: safe_uri(found.group()), text)


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
        raise ConfigError(describe(exc)) from None
