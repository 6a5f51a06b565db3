"""A training's place in the trial ledger: count the target's earlier trials, record this one.

:func:`candor.application.train.run_training` calls these three around :func:`candor.training.run.train`:

* :func:`ledger_store` — the store the ledger is in. A publishing training has it open already
  (its services). A dry run (or ``track=False``) opens no services; it records its trial only
  when the store can be opened cheaply: the embedded SQLite file already exists, or a database is
  configured and answers. A fresh ``<home>`` is left as it was (no ``candor.db`` is created for a
  dry run), and an unreachable or unmigrated configured database costs the dry run a warning, not
  a failure — that dry run's Deflated Sharpe then counts only its own trials, and says so.
* :func:`counted` — adds the target's earlier trials to the run's trial count (through the row
  plan's ``extra_trials``, which :func:`~candor.training.run.train` adds to ``n_trials``), so the
  Deflated Sharpe of the backtest, the ``min_deflated_sharpe`` gate and a later replay of the
  model (``manifest.report.n_trials``) deflate for every configuration ever tried on the target;
  recorded as the derived setting ``ledger.prior_trials``.
* :func:`record` — appends this training's row once it has trained (before it is published: a
  training whose publish fails was still looked at).

:func:`check_ledger` is the up-front check of a command that writes its trials only once it has
computed them (``candor research``): the ledger it will write to is refused before the compute.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from candor import __version__
from candor.config import Config
from candor.errors import CandorError
from candor.records.ledger import Trial
from candor.store import Store, connect_store
from candor.store.ledger import record_trial, trial_count
from candor.store.migrate import refuse_newer
from candor.training.runconfig import DerivedSetting

if TYPE_CHECKING:
    from candor.training.run import TrainResult

#: A :class:`candor.application.train.TrainingPlan` (named, not imported: train imports this module).
TrainingPlan = Any

log = logging.getLogger(__name__)


def embedded_store_file(config: Config) -> Path | None:
    """The embedded SQLite file (``<home>/candor.db``) when no database is configured, else None."""
    if config.database_url is not None:
        return None
    from sqlalchemy.engine import make_url

    database = make_url(config.store_url).database
    return Path(database) if database else None


@contextmanager
def ledger_store(config: Config, services: Any | None) -> Iterator[Store | None]:
    """The store to count and record trials in: the open services' store, else one opened cheaply
    (see the module docstring), else None (the trial goes unrecorded: logged, a warning when a
    configured database cannot be reached)."""
    if services is not None:
        yield services.store
        return
    embedded = embedded_store_file(config)
    if embedded is not None and not embedded.exists():
        # info, not a warning: a dry run on a fresh home is the usual first step, and it writes nothing
        log.info("no operational store at %s yet: this trial is not recorded in the ledger", embedded)
        yield None
        return
    from candor.services import open_store

    try:
        store = open_store(config)
    except CandorError as exc:
        log.warning("the trial ledger is not available (%s): this trial is not recorded and its Deflated "
                    "Sharpe counts only its own trials", exc)
        yield None
        return
    with store:
        yield store


def check_ledger(config: Config) -> None:
    """Refuse now, before any compute, a ledger that a command would fail to write its trials to later
    (``candor research``: parse, validate, open, then search), creating and changing nothing: an
    unusable ``<home>``, a configured database that does not answer or is not at this candor's schema
    (:func:`candor.services.open_store`'s rule), an embedded one that a newer candor migrated (an
    older one is migrated when the trials are written, as on any first use). A fresh ``<home>`` is
    only checked (:func:`candor.services.check_home`): its store is created when the trials are
    written, so a command refused in between leaves it as it was."""
    from candor.services import check_home, open_store

    embedded = embedded_store_file(config)
    if embedded is None:
        open_store(config).close()  # a configured database: reached and checked, nothing written
        return
    check_home(config)
    if embedded.exists():
        with connect_store(config.store_url, require_schema=False) as store:
            refuse_newer(store.engine)


def label_kind(config: Config) -> str:
    return str(config.labels.kind)


def counted(plan: TrainingPlan, store: Store | None) -> TrainingPlan:
    """``plan`` with the target's earlier ledger trials added to its trial count (unchanged when
    there is no ledger or no earlier trial)."""
    if store is None:
        return plan
    config, bars = plan.run.config, plan.bars
    symbol, timeframe, horizon = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"]), config.labels.horizon
    prior = trial_count(store.engine, symbol, timeframe, horizon, label_kind(config))
    if prior == 0:
        return plan
    setting = DerivedSetting("ledger.prior_trials", prior,
                             f"{prior} earlier trial(s) of {symbol}/{timeframe}/h{horizon} ({label_kind(config)} "
                             f"labels) in the trial ledger, counted in n_trials for the Deflated Sharpe "
                             f"(candor ledger --target {symbol}/{timeframe}/h{horizon})")
    return replace(plan, run=replace(plan.run, derived=(*plan.run.derived, setting)),
                   rows=replace(plan.rows, extra_trials=plan.rows.extra_trials + prior))


def prior_of(plan: TrainingPlan) -> int:
    """The ledger trials :func:`counted` added to ``plan`` (0 when none)."""
    return next((int(s.value) for s in plan.run.derived if s.field == "ledger.prior_trials"), 0)


def trial_of(result: TrainResult, *, prior: int, dry_run: bool, command: str, actor: str | None) -> Trial:
    """The ledger row of a finished training."""
    report = result.report
    backtest = report.backtest
    span = result.data_span
    return Trial(
        symbol=result.symbol, timeframe=result.timeframe, horizon=int(result.horizon),
        label_kind=label_kind(result.config), label=result.label, config_hash=report.config_hash,
        data_fingerprint=report.data_fingerprint, data_first=span.first_bar, data_last=span.last_bar,
        n_samples=report.n_samples, n_trials=max(1, int(result.n_trials) - prior),
        tuning_trials=int((result.tuning or {}).get("n_trials_total", 0)), prior_trials=prior,
        lift=report.oos.lift, lift_ci_low=report.oos.lift_ci_low, lift_ci_high=report.oos.lift_ci_high,
        p_value=report.oos.p_value, verdict=None if report.oos.verdict is None else str(report.oos.verdict),
        sharpe=None if backtest is None else backtest.sharpe,
        deflated_sharpe=None if backtest is None else backtest.deflated_sharpe,
        dry_run=dry_run, command=command[:200], actor=None if actor is None else actor[:128],
        candor_version=__version__,
    )


def record(store: Store | None, result: TrainResult, plan: TrainingPlan, *, dry_run: bool, command: str,
           actor: str | None) -> int | None:
    """Append ``result``'s trial to the ledger; its id, or None when there is no ledger."""
    if store is None:
        return None
    return record_trial(store.engine, trial_of(result, prior=prior_of(plan), dry_run=dry_run, command=command,
                                               actor=actor))
