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
from candor.ops.drift import run_drift
from candor.ops.forecast import run_forecasts
from candor.ops.retrain import retrain_series
from candor.ops.weights import update_weights

log = logging.getLogger(__name__)

JOBS = ("retrain", "update_weights", "fetch", "forecast", "drift")


def _each_series(ctx: OpsContext, work: Callable[[pd.DataFrame, int], Any]) -> list[Any]:
    """Run ``work(bars, horizon)`` for every series × horizon; log and collect failures, keep going."""
    results = []
    for symbol, timeframe in served_series(ctx.services):
        for horizon in ctx.config.forecast.horizons:
            try:
                results.append(work(ctx.bars(symbol, timeframe), horizon))
            except CandorError as exc:
                log.error("%s/%s h%d: %s", symbol, timeframe, horizon, exc)
                results.append(exc)
    return results


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
            func()
            log.info("job %s finished", name)
        except Exception:  # a failed fire must not kill the scheduler; the next fire retries
            log.exception("job %s failed", name)
    return run
