"""The production loop on APScheduler: monthly retrain, weekly weights refit, daily fetch + forecast + drift.

Every job is a plain library function over an :class:`~candor.ops.context.OpsContext`; the
scheduler only decides *when*. ``candor schedule run --once JOB`` calls the same function, so
what a cron fire does can be tested without waiting for the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from candor.application.ingest import fetch_configured
from candor.config import Config
from candor.errors import CandorError, ConfigError
from candor.ops.context import OpsContext, served_series
from candor.ops.drift import DriftReport, run_drift
from candor.ops.forecast import ForecastReport, run_forecasts
from candor.ops.retrain import retrain_series
from candor.ops.weights import WeightUpdate, update_weights
from candor.registry.common import RegisteredVersion

log = logging.getLogger(__name__)

JOBS = ("retrain", "update_weights", "fetch", "forecast", "drift")


@dataclass(frozen=True)
class SeriesFailure:
    """One series × horizon a per-series job could not do, and the one-line reason."""

    symbol: str
    timeframe: str
    horizon: int
    error: str

    def __str__(self) -> str:
        return f"{self.symbol}/{self.timeframe} h{self.horizon}: failed — {self.error}"


def _each_series(ctx: OpsContext, work: Callable[[pd.DataFrame, int], Any]) -> list[Any]:
    """Run ``work(bars, horizon)`` for every series × horizon; log and collect failures, keep going."""
    results: list[Any] = []
    for symbol, timeframe in served_series(ctx.services):
        for horizon in ctx.config.forecast.horizons:
            try:
                results.append(work(ctx.bars(symbol, timeframe), horizon))
            except CandorError as exc:
                log.error("%s/%s h%d: %s", symbol, timeframe, horizon, exc)
                results.append(SeriesFailure(symbol, timeframe, horizon, str(exc)))
    return results


def outcome_lines(name: str, result: Any) -> list[str]:
    """What a job did, one line per series (``candor schedule run --once`` prints them, the
    scheduler logs them): more than "started / finished"."""
    items = result if isinstance(result, list) else [result]
    if not items:
        return [f"{name}: nothing to do (no configured or served series)"]
    return [_outcome_line(item) for item in items]


def _outcome_line(item: Any) -> str:
    if isinstance(item, WeightUpdate):
        if not item.updated:
            return f"{item.name}: no new version — {item.reason}"
        return (f"{item.name}: weights refit → version {item.version} {item.status}"
                f"{', promoted' if item.promoted else ''} — {item.reason}")
    if isinstance(item, RegisteredVersion):
        return (f"{item.name}: retrained → version {item.version} {item.status}"
                f"{', promoted' if item.promoted else ''}" + (f" — {item.note}" if item.note else ""))
    if isinstance(item, ForecastReport):
        return (f"forecast: {len(item.forecasts)} forecast(s), {len(item.flagged)} flagged, {len(item.skipped)} "
                f"skipped, {item.written} new row(s)")
    if isinstance(item, DriftReport):
        return (f"drift: {item.resolved} label(s) resolved, {len(item.results)} verdict(s), {len(item.alerts)} "
                f"alert(s), {len(item.actions)} action(s), {len(item.skipped)} skipped")
    error, stored = getattr(item, "error", None), getattr(item, "result", None)
    if hasattr(item, "series") and (error or stored is not None):  # the fetch job's FetchOutcome
        if error:
            return f"{item.name}: failed — {error}"
        return (f"{item.name}: {stored.added} new bar(s), {stored.already_stored} already stored"
                + (f", {stored.revised} revised ({stored.revisions})" if stored.revised else ""))
    return str(item)


def job_functions(ctx: OpsContext) -> dict[str, Callable[[], Any]]:
    """Job name → a no-argument callable doing that job now."""
    services = ctx.services
    return {
        "retrain": lambda: _each_series(ctx, lambda bars, h: retrain_series(services, bars, h)),
        "update_weights": lambda: _each_series(ctx, lambda bars, h: update_weights(services, bars, h)),
        "fetch": lambda: fetch_configured(services.store.engine, ctx.config),
        "forecast": lambda: run_forecasts(services, bars_loader=ctx.bars_loader),
        "drift": lambda: run_drift(services, bars_loader=ctx.bars_loader),
    }


@dataclass(frozen=True)
class NextRun:
    job: str
    cron: str
    next_run: datetime | None


def _trigger(config: Config, job: str) -> CronTrigger:
    # The cron line was checked when the config loaded (ScheduleConfig).
    return CronTrigger.from_crontab(getattr(config.schedule, job), timezone=config.schedule.timezone)


def enabled_jobs(config: Config) -> list[str]:
    return [job for job in JOBS if getattr(config.schedule, job).strip()]


def next_runs(config: Config, now: datetime | None = None) -> list[NextRun]:
    """When each enabled job fires next (what ``candor schedule list`` prints)."""
    now = now or datetime.now(UTC)
    return [NextRun(job, getattr(config.schedule, job), _trigger(config, job).get_next_fire_time(None, now))
            for job in enabled_jobs(config)]


def check_job(name: str) -> str:
    """``name`` if it is a scheduled job, else ConfigError naming the choices."""
    if name not in JOBS:
        raise ConfigError(f"`job` must be one of {', '.join(JOBS)}. Got {name!r}.")
    return name


def run_job(name: str, ctx: OpsContext) -> Any:
    """Run one job now (``candor schedule run --once JOB``)."""
    check_job(name)
    jobs = job_functions(ctx)
    log.info("job %s started", name)
    result = jobs[name]()
    for line in outcome_lines(name, result):
        log.info("job %s: %s", name, line)
    log.info("job %s finished", name)
    return result


def build_scheduler(ctx: OpsContext, *, blocking: bool = True) -> BlockingScheduler | BackgroundScheduler:
    """An APScheduler with one cron job per enabled entry; jobs never overlap themselves."""
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
            for line in outcome_lines(name, func()):
                log.info("job %s: %s", name, line)
            log.info("job %s finished", name)
        except Exception:  # a failed fire must not kill the scheduler; the next fire retries
            log.exception("job %s failed", name)
    return run
