"""The production loop on APScheduler: monthly retrain, weekly weights refit, daily forecast + drift.

Every job is a plain library function over an :class:`OpsContext` (config, store engine,
registry, bars); the scheduler only decides *when*. ``candor schedule run --once JOB`` calls the
same function, so what a cron fire does can be tested without waiting for the clock.

Weekly weights-only update (:func:`update_weights`), why this design: the champion's members are
kept as they are; their probabilities on the bars *after* the champion's training span (its
holdout and every bar since — rows the members never saw, so no inner purged split is needed)
are genuinely out-of-fold. The ensemble's own Ridge weight function (the seeds' optimiser) is
refit on those rows, and the copy with new weights is saved, logged, registered, validated and
promoted through the normal registry path. Before that, the procedure is checked on rows its
weights never saw: weights fit on the earlier two thirds of the unseen rows (purged: only labels
resolved before the check starts) are scored against the champion on the last third. Those are
the before/after accuracies recorded; when the refit scores worse, the champion is kept. Its
manifest keeps the members' ``created_at`` — the age limit is about how old the members are.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from candor.config import Config
from candor.errors import CandorError, ConfigError, ModelError

log = logging.getLogger(__name__)

JOBS = ("retrain", "update_weights", "forecast", "drift")


def make_registry(config: Config, engine: Any, tracking_uri: str | None = None) -> Any:
    """A Registry on ``tracking_uri`` (default: SQLite under home) with the configured gates."""
    from candor.registry import GateThresholds, Registry, default_gates
    from candor.registry.tracking import open_tracking

    r = config.registry
    gates = default_gates(GateThresholds(min_accuracy=r.min_accuracy, min_precision=r.min_precision,
                                         min_recall=r.min_recall, min_f1=r.min_f1))
    return Registry(open_tracking(config.home, tracking_uri).client, engine, gates=gates)


# ---- registering horizon models ---------------------------------------------------------------------
def register_artifact(registry: Any, run_id: str, artifact: Path) -> Any:
    """Register ``artifact`` under its horizon-aware name (``candor.SPX.d1.h20`` for horizon 20)."""
    return registry.register(run_id, artifact)


def config_for_horizon(config: Config, horizon: int) -> Config:
    """The same config with ``labels.horizon`` (and so purge/embargo defaults) set to ``horizon``."""
    from candor.config import _merge

    return Config.model_validate(_merge(config.model_dump(), {"labels": {"horizon": int(horizon)}}))


def retrain_series(config: Config, bars: pd.DataFrame, horizon: int, *, registry: Any,
                   tracking_uri: str | None = None, actor: str = "candor schedule") -> Any:
    """Full retrain of one series × horizon; register, validate and promote if not worse."""
    from candor.registry import VALIDATED
    from candor.store import record_training_run
    from candor.registry.tracking import log_training, open_tracking, training_run_fields
    from candor.training.workflow import run_training

    cfg = config_for_horizon(config, horizon)
    uri = tracking_uri or registry.client.tracking_uri
    outcome = run_training(bars, cfg, track=False, actor=actor)
    run_id = log_training(outcome.result, outcome.artifact, open_tracking(cfg.home, uri))
    staged = register_artifact(registry, run_id, outcome.artifact)
    version = registry.validate(staged.name, staged.version)
    record_training_run(registry.engine, **training_run_fields(outcome.result, run_id, version.name, version.version))
    if version.status != VALIDATED:
        return version
    result = registry.compare(version.name, version.version, margin=cfg.registry.promotion_margin, promote=True,
                              actor=actor, reason=f"{actor}: retrain", bars=bars)
    return type(version)(**{**version.__dict__, "promoted": result.promoted, "note": result.basis})


# ---- weekly weights-only update ---------------------------------------------------------------------
@dataclass(frozen=True)
class WeightUpdate:
    """What the weekly update did for one series × horizon."""

    name: str
    updated: bool
    reason: str
    rows: int = 0
    old_weights: dict[str, float] = field(default_factory=dict)
    new_weights: dict[str, float] = field(default_factory=dict)
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    #: Rows the before/after accuracies are measured on (the latest third, unseen by the weights).
    check_rows: int = 0
    version: str | None = None


def _unseen_rows(champion: Any, bars: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """Features, labels and label end times of the bars from the champion's holdout start on
    (never trained on)."""
    from candor.labels import make_labels

    start = champion.tags.get("holdout_start")
    if not start:
        raise ModelError(f"{champion.name} v{champion.version} has no holdout_start tag; cannot tell which bars "
                         "its members never saw — retrain it with this candor version.")
    labels = make_labels(bars, champion.model.label_spec)
    X = champion.model.features(bars).loc[pd.Timestamp(start):].dropna()
    X = X.loc[X.index.intersection(labels.y.index)]
    return X, labels.y.loc[X.index].to_numpy(), labels.t1.loc[X.index]


CHECK_SHARE = 1 / 3


def check_refit(estimator: Any, X: pd.DataFrame, y: np.ndarray, t1: pd.Series) -> tuple[float, float, int] | None:
    """Accuracy of the champion and of weights refit on earlier rows, both on the latest third.

    The refit sees only rows whose labels resolved before the checked rows start, so the
    comparison is out-of-sample for the weights. None when either part is too small to fit.
    """
    start = int(len(y) * (1 - CHECK_SHARE))
    fit = np.flatnonzero(t1.iloc[:start].to_numpy() < X.index[start])
    if len(fit) < 2 or len(np.unique(y[fit])) < 2:
        return None
    trial, _ = refit_weights(estimator, X.iloc[fit], y[fit])
    check_X, check_y = X.iloc[start:], y[start:]
    return (float(np.mean(estimator.predict(check_X) == check_y)),
            float(np.mean(trial.predict(check_X) == check_y)), len(check_y))


def refit_weights(estimator: Any, X: pd.DataFrame, y: np.ndarray) -> tuple[Any, dict[str, float]]:
    """A copy of ``estimator`` whose Ridge weights are refit on members' probabilities for (X, y)."""
    from candor.ensemble import _ridge_weights, align_proba

    names = list(estimator.members_)
    proba = {n: align_proba(m.predict_proba(X), m.classes_, estimator.classes_) for n, m in estimator.members_.items()}
    weights = _ridge_weights(proba, names, y, estimator.classes_, estimator.alpha)
    updated = copy.deepcopy(estimator)
    updated.weights_ = weights
    return updated, weights


def _why_not_reweightable(estimator: Any) -> str | None:
    if len(getattr(estimator, "members_", {})) < 2:
        return "single-member ensemble: there are no weights to refit"
    if getattr(estimator, "meta_model_", None) is not None or estimator.method != "ridge":
        return f"ensemble method {estimator.method!r}: only ridge weights are refit weekly"
    return None


def update_weights(config: Config, *, registry: Any, bars: pd.DataFrame, horizon: int, now: datetime | None = None,
                   min_rows: int = 60, actor: str = "candor schedule") -> WeightUpdate:
    """Refit the champion's ensemble weights on unseen recent rows; register + promote the result."""
    from candor.ops.forecast import load_champion

    now = now or datetime.now(UTC)
    symbol, timeframe = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"])
    champion = load_champion(registry, symbol, timeframe, horizon, max_age_days=10**6, now=now)
    estimator = champion.model.estimator
    why = _why_not_reweightable(estimator)
    if why:
        return WeightUpdate(champion.name, False, why)
    X, y, t1 = _unseen_rows(champion, bars)
    checked = check_refit(estimator, X, y, t1) if len(y) >= min_rows and len(np.unique(y)) >= 2 else None
    if checked is None:
        return WeightUpdate(champion.name, False, f"{len(y)} unseen labelled rows (need {min_rows}, 2+ classes "
                            "in the rows the check refits on)", rows=len(y))
    before, after, check_rows = checked
    old = dict(estimator.weights_)
    if after < before:
        return WeightUpdate(champion.name, False, f"weights refit on earlier rows scored {after:.3f} vs the "
                            f"champion's {before:.3f} on the latest {check_rows} rows: champion kept",
                            len(y), old, {}, before, after, check_rows)
    updated, weights = refit_weights(estimator, X, y)
    version = _register_update(config, registry, champion, updated, now, actor,
                               {"rows": len(y), "first": str(X.index[0]), "last": str(X.index[-1]),
                                "old_weights": old, "new_weights": weights, "accuracy_before": before,
                                "accuracy_after": after, "check_rows": check_rows, "updated_at": now.isoformat()})
    return WeightUpdate(champion.name, True, "weights refit", len(y), old, weights, before, after, check_rows, version)


def _register_update(config: Config, registry: Any, champion: Any, estimator: Any, now: datetime, actor: str,
                     update: dict[str, Any]) -> str:
    """Save, log (copying the champion's holdout tags), register, validate and promote the copy."""
    from candor.registry.artifact import save_model
    from candor.registry import VALIDATED
    from candor.registry.tracking import open_tracking

    manifest = {k: v for k, v in champion.model.manifest.items() if k != "files"}
    manifest["weights_update"] = {**update, "from_version": champion.version}
    symbol, timeframe = manifest["symbol"], manifest["timeframe"]
    target = Path(config.home) / "models" / symbol / timeframe / f"weights-{now:%Y%m%dT%H%M%S%f}"
    artifact = save_model(target, estimator, manifest)
    tracking = open_tracking(config.home, registry.client.tracking_uri)
    keep = ("holdout_start", "holdout_end", "holdout_rows", "label_spec", "symbol", "timeframe")
    tags = {k: v for k, v in champion.tags.items() if k in keep}
    run = tracking.client.create_run(tracking.experiment_id, tags={**tags, "candor.job": "update_weights",
                                                                    "mlflow.runName": f"{champion.name} weights"})
    tracking.client.log_artifacts(run.info.run_id, str(artifact), "model")
    tracking.client.set_terminated(run.info.run_id)
    staged = register_artifact(registry, run.info.run_id, artifact)
    version = registry.validate(staged.name, staged.version)
    if version.status == VALIDATED:
        registry.promote(version.name, version.version, actor=actor,
                         reason=f"weekly weights update on {update['rows']} unseen rows (accuracy on the "
                                f"latest {update['check_rows']}, weights fit before them: "
                                f"{update['accuracy_before']:.3f} → {update['accuracy_after']:.3f})")
    return version.version


# ---- the scheduler --------------------------------------------------------------------------------
@dataclass
class OpsContext:
    """What every job needs, built once by the caller (CLI or test) and passed in — no globals."""

    config: Config
    engine: Any
    registry: Any
    bars_loader: Callable[[str, str], pd.DataFrame] | None = None
    tracking_uri: str | None = None

    def bars(self, symbol: str, timeframe: str) -> pd.DataFrame:
        from candor.store import load_bars

        return self.bars_loader(symbol, timeframe) if self.bars_loader else load_bars(self.engine, symbol, timeframe)


@dataclass(frozen=True)
class NextRun:
    job: str
    cron: str
    next_run: datetime | None


def _each_series(ctx: OpsContext, work: Callable[[pd.DataFrame, int], Any]) -> list[Any]:
    """Run ``work(bars, horizon)`` for every series × horizon; log and collect failures, keep going."""
    from candor.ops.forecast import universe

    results = []
    for symbol, timeframe in universe(ctx.config, ctx.engine, None, None):
        for horizon in ctx.config.forecast.horizons:
            try:
                results.append(work(ctx.bars(symbol, timeframe), horizon))
            except CandorError as exc:
                log.error("%s/%s h%d: %s", symbol, timeframe, horizon, exc)
                results.append(exc)
    return results


def job_functions(ctx: OpsContext) -> dict[str, Callable[[], Any]]:
    """Job name → a no-argument callable doing that job now."""
    from candor.ops.drift import run_drift
    from candor.ops.forecast import run_forecasts

    def retrain() -> list[Any]:
        return _each_series(ctx, lambda bars, h: retrain_series(ctx.config, bars, h, registry=ctx.registry,
                                                                   tracking_uri=ctx.tracking_uri))

    def weights() -> list[Any]:
        return _each_series(ctx, lambda bars, h: update_weights(ctx.config, registry=ctx.registry, bars=bars, horizon=h))

    return {
        "retrain": retrain,
        "update_weights": weights,
        "forecast": lambda: run_forecasts(ctx.config, engine=ctx.engine, registry=ctx.registry,
                                          bars_loader=ctx.bars_loader),
        "drift": lambda: run_drift(ctx.config, engine=ctx.engine, registry=ctx.registry, bars_loader=ctx.bars_loader),
    }


def _trigger(config: Config, job: str) -> Any:
    from apscheduler.triggers.cron import CronTrigger

    expression = getattr(config.schedule, job)
    try:
        return CronTrigger.from_crontab(expression, timezone=config.schedule.timezone)
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"`schedule.{job}` must be a five-field cron line (e.g. '0 6 1 * *'). "
                          f"Got {expression!r}: {exc}") from None


def enabled_jobs(config: Config) -> list[str]:
    return [job for job in JOBS if getattr(config.schedule, job).strip()]


def next_runs(config: Config, now: datetime | None = None) -> list[NextRun]:
    """When each enabled job fires next (what ``candor schedule list`` prints)."""
    now = now or datetime.now(UTC)
    return [NextRun(job, getattr(config.schedule, job), _trigger(config, job).get_next_fire_time(None, now))
            for job in enabled_jobs(config)]


def run_job(name: str, ctx: OpsContext) -> Any:
    """Run one job now (``candor schedule run --once JOB``)."""
    jobs = job_functions(ctx)
    if name not in jobs:
        raise ConfigError(f"`job` must be one of {', '.join(JOBS)}. Got {name!r}.")
    log.info("job %s started", name)
    result = jobs[name]()
    log.info("job %s finished", name)
    return result


def build_scheduler(ctx: OpsContext, *, blocking: bool = True) -> Any:
    """An APScheduler with one cron job per enabled entry; jobs never overlap themselves."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=ctx.config.schedule.timezone)
    jobs = job_functions(ctx)
    for job in enabled_jobs(ctx.config):
        scheduler.add_job(_logged(job, jobs[job]), _trigger(ctx.config, job), id=job, name=job,
                          max_instances=1, coalesce=True, misfire_grace_time=3600)
    return scheduler


def _logged(name: str, func: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            log.info("job %s started", name)
            func()
            log.info("job %s finished", name)
        except Exception:  # a failed fire must not kill the scheduler; the next fire retries
            log.exception("job %s failed", name)
    return run
