"""One training as a user runs it: derive the run's config, train, judge, save, publish.

The CLI, the universe runner, the scheduler's retrain and the drift monitor's emergency retrain
all call :func:`run_training`; it is the single place that decides what a training writes
(nothing on ``dry_run``, nothing before training has succeeded) and which gates judge it.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from candor.config import Config, under_home
from candor.data.bars import last_period, timeframe_of
from candor.errors import ConfigError
from candor.logs import adopt_optuna, collected
from candor.features import warmup_bars
from candor.registry.artifact import STAGING, save_model
from candor.training.manifest import build_manifest
from candor.registry.common import RegisteredVersion
from candor.registry.gates import GateResult, default_gates, failure_reasons, run_gates
from candor.registry.publish import Candidate, publish
from candor.registry.repair import Repair, repair_interrupted, sweep_staging
from candor.services import Services, open_services
from candor.training.device import DeviceChoice
from candor.training.run import Progress, RowPlan, TrainResult, plan_rows, train
from candor.training.matrix import MIN_TRAINING_ROWS
from candor.training.runconfig import DerivedSetting, RunConfig, derive_run_config
from candor.training.tuning import save_best_params
from candor.application.ledger import counted, ledger_store, record as record_trial


@dataclass
class TrainingOutcome:
    """A finished training: the result, where it was saved, the gates' verdicts, the registry's."""

    result: TrainResult
    artifact: Path | None
    gate_results: list[GateResult] = field(default_factory=list)
    registered: RegisteredVersion | None = None
    run: RunConfig | None = None
    #: What earlier, killed publishes of this series had left half-written, and what was done.
    repairs: list[Repair] = field(default_factory=list)

    @property
    def gate_failures(self) -> list[str]:
        return failure_reasons(self.gate_results)

    @property
    def passed(self) -> bool:
        return not self.gate_failures


log = logging.getLogger(__name__)

#: The run's log (its INFO lines, one JSON object per line), written beside the report in the
#: artifact folder and logged into the MLflow run.
TRAINING_LOG = "training_log.jsonl"


def remove_abandoned_staging(folder: Path, depth: int = 3) -> list[Path]:
    """Staging folders ``depth`` levels under ``folder`` whose writer process is gone (killed
    mid-publish), removed: 3 under ``<home>/models`` (``<symbol>/<tf>/<name>``), 1 under ``--out``
    (:func:`candor.registry.repair.sweep_staging`)."""
    return [Path(repair.subject) for repair in sweep_staging(folder, depth)]


def default_artifact_dir(config: Config, symbol: str, timeframe: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return under_home(config.home, "models", symbol, timeframe, stamp)


@dataclass(frozen=True)
class TrainingPlan:
    """A training checked before anything is opened: the bars it trains on (after ``--period``),
    the run's derived config, and its rows (labelled matrix, holdout, folds: :func:`plan_rows`)."""

    bars: pd.DataFrame
    run: RunConfig
    rows: RowPlan


def plan_training(bars: pd.DataFrame, config: Config, *, dry_run: bool = False, force: bool = False,
                  period: str | None = None, horizon: int | None = None,
                  horizon_source: str = "requested horizon", threads: int | None = None,
                  device: DeviceChoice | None = None) -> TrainingPlan:
    """Everything :func:`run_training` checks before it opens a store or fits a model — the flags,
    the ``period`` window, the run's derived config, the labels and the folds they allow. Opens and
    writes nothing, so a shell calls it before it opens the services it passes down, and a refused
    training (too many folds, a threshold that leaves one class) leaves ``<home>`` as it was."""
    if force and dry_run:
        raise ConfigError("--force promotes what it trains, and --dry-run writes nothing; drop one of them.")
    bars, data_settings = _window(bars, config, period, horizon)
    symbol, timeframe = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"])
    run = derive_run_config(config, symbol, timeframe, horizon=horizon, horizon_source=horizon_source,
                            threads=threads, device=device, data=data_settings)
    # Saved tuned parameters (candor.training.reuse): with tune.reuse_saved = "require" an overlap
    # with this run's out-of-sample rows is refused inside plan_rows; with "auto" the run trains
    # with the configured parameters instead, after one warning line (derive_run_config says it).
    auto = run.reused is not None and run.config.tune.reuse_saved == "auto"
    rows = plan_rows(bars, run.config, reused=None if auto else run.reused)
    if auto:
        overlap = run.reused.overlap(*rows.oos_span)
        if overlap is None:
            rows = replace(rows, extra_trials=rows.extra_trials + run.reused.n_trials)
        else:
            run = derive_run_config(config, symbol, timeframe, horizon=horizon, horizon_source=horizon_source,
                                    threads=threads, device=run.device, data=data_settings, saved_refused=overlap)
    return TrainingPlan(bars, run, rows)


def run_training(
    bars: pd.DataFrame,
    config: Config,
    *,
    out: Path | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    track: bool = True,
    promote: bool = False,
    actor: str = "candor train",
    reason: str = "candor train --promote",
    horizon: int | None = None,
    horizon_source: str = "requested horizon",
    threads: int | None = None,
    device: DeviceChoice | None = None,
    services: Services | None = None,
    period: str | None = None,
    force: bool = False,
    plan: TrainingPlan | None = None,
    command: str = "candor train",
) -> TrainingOutcome:
    """Derive the run's config, train, run the gates, and unless ``dry_run`` save and publish.

    ``track=False`` saves the artifact only (no MLflow run, no registry version, no database row).
    ``promote`` moves the champion alias when the gates pass and the challenger is not significantly
    worse than the champion — both re-scored on the challenger's holdout rows, their per-row
    difference in correctness tested by the paired block-bootstrap test at ``evaluation.alpha``, and
    refused only where the lift's CI lies wholly below ``−registry.promotion_margin``
    (:mod:`candor.registry.compare`); ``force`` promotes a version that passed the gates without
    that comparison (audited as ``force_promote``; it never overrides the gates or the hash checks).
    ``period`` (``"5y"``, see :data:`candor.data.bars.PERIODS`) trains on the window of that many
    years ending at the last bar, whatever the bars' source, recorded as the ``data.period`` derived
    setting. ``services`` is where it is published: a shell opens them (after :func:`plan_training`)
    and passes them down; without them they are opened from ``config`` once the plan is checked.
    ``horizon``, ``threads`` and ``device`` feed :func:`derive_run_config`; ``plan`` is the
    :func:`plan_training` of these same arguments when the shell already made it.
    """
    adopt_optuna()  # imported with candor.training.tuning: its lines through candor's handlers
    with collected() as lines:
        plan = plan or plan_training(bars, config, dry_run=dry_run, force=force, period=period, horizon=horizon,
                                     horizon_source=horizon_source, threads=threads, device=device)
        _log_data(plan)
        outcome = _run_planned(plan, config, out=out, dry_run=dry_run, progress=progress, track=track,
                               promote=promote, actor=actor, reason=reason, services=services, force=force,
                               command=command, lines=lines)
    return outcome


def _log_data(plan: TrainingPlan) -> None:
    rows, bars = plan.rows, plan.bars
    log.info("data: %s/%s, %d bars (%s to %s) → %d labelled rows, %d features, %d folds, holdout %d rows in %.2fs",
             bars.attrs.get("symbol"), bars.attrs.get("timeframe"), len(bars), bars.index[0], bars.index[-1],
             rows.data.n_samples, rows.data.X.shape[1], len(rows.folds), len(rows.hold), rows.seconds,
             extra={"stage": "data", "metrics": {
                 "symbol": bars.attrs.get("symbol"), "timeframe": bars.attrs.get("timeframe"), "bars": len(bars),
                 "rows": rows.data.n_samples, "features": rows.data.X.shape[1], "folds": len(rows.folds),
                 "holdout_rows": len(rows.hold), "seconds": round(rows.seconds, 3)}})


def _write_log(outcome: TrainingOutcome, lines: list[str], services: Services | None) -> None:
    """The run's log beside its report (``<artifact>/training_log.jsonl``) and, when the run was
    tracked with MLflow details (``tracking.backend`` mlflow or both), into its MLflow run. The artifact's hashes do not list it: a log is no model input."""
    path = Path(outcome.artifact) / TRAINING_LOG
    try:
        path.write_text("".join(f"{line}\n" for line in lines))
    except OSError as exc:  # the model is saved and published: a log that cannot be written is a warning
        log.warning("could not write the training log %s: %s", path, exc)
        return
    run_id = outcome.registered.run_id if outcome.registered is not None else None
    # a W&B-only backend keeps in MLflow what the registry needs: the model, not the run's log
    if run_id and services is not None and services.config.tracking.mlflow_details:
        try:
            services.tracking.client.log_artifact(run_id, str(path))
        except Exception as exc:  # noqa: BLE001 — the log is a convenience; the run is already recorded
            log.warning("could not log %s into MLflow run %s: %s", TRAINING_LOG, run_id, exc)


def _run_planned(plan: TrainingPlan, config: Config, *, out: Path | None, dry_run: bool, progress: Progress | None,
                 track: bool, promote: bool, actor: str, reason: str, services: Services | None, force: bool,
                 command: str, lines: list[str]) -> TrainingOutcome:
    bars, run = plan.bars, plan.run
    promote = promote or force
    publishing = not dry_run and (track or promote)
    folders = [(Path(out), 1)] if out is not None else [(under_home(config.home, "models"), 3)]
    # Open the stores before training: an unreachable database fails in a second, not after the fit.
    opened = (nullcontext(services) if services is not None or not publishing
              else open_services(run.config, migrate=True))
    # The trial ledger (candor.application.ledger): the target's earlier trials count in this run's
    # n_trials (its Deflated Sharpe), and this run is recorded once trained, dry runs included.
    with opened as live, ledger_store(run.config, live) as ledger:
        plan = counted(plan, ledger)
        run = plan.run
        repairs: list[Repair] = []
        if not dry_run:  # what a killed publish of this series left: repaired before anything new is written
            repairs = (repair_interrupted(live.registry, live.tracking, symbol=str(bars.attrs["symbol"]),
                                          timeframe=str(bars.attrs["timeframe"]), folders=folders)
                       if publishing and live is not None else
                       [r for folder, depth in folders for r in sweep_staging(folder, depth)])
        for repair in repairs:
            log.warning("repaired after an interrupted publish: %s", repair)
        result = replace(train(bars, run.config, progress=progress, reused=run.reused, rows=plan.rows),
                         derived=run.derived)
        record_trial(ledger, result, plan, dry_run=dry_run, command=command, actor=actor)
        outcome = TrainingOutcome(result, None, run_gates(result.report, default_gates(run.config.registry)), run=run,
                                  repairs=repairs)
        log.info("gates: %s", "passed" if outcome.passed else "failed: " + "; ".join(outcome.gate_failures),
                 extra={"stage": "gates", "metrics": {"passed": outcome.passed, "failures": outcome.gate_failures}})
        if dry_run:
            log.info("publish: dry run, nothing written", extra={"stage": "publish", "metrics": {"dry_run": True}})
            return outcome
        started = time.perf_counter()
        target = (Path(out) / f"{result.symbol}_{result.timeframe}_{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
                  if out is not None else default_artifact_dir(run.config, result.symbol, result.timeframe))
        manifest = build_manifest(result)
        if not (publishing and live is not None):
            outcome.artifact = save_model(target, result.model, manifest)
        else:
            # Staged under a name no reader takes for a model, renamed by publish once its version is
            # recorded: a kill in between leaves a staging folder the next training (or `registry
            # reconcile`) renames into place or removes (candor.registry.repair), never an orphan model.
            staging = save_model(target.with_name(f"{target.name}{STAGING}{os.getpid()}"), result.model, manifest)
            try:
                outcome.registered = publish(live.registry, live.tracking,
                                             Candidate(staging, manifest, result.backtest, kept_at=target),
                                             promote=promote, force=force, actor=actor, reason=reason,
                                             margin=run.config.registry.promotion_margin, bars=bars,
                                             alpha=run.config.evaluation.alpha, n_boot=run.config.evaluation.n_boot)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            outcome.artifact = target
        save_best_params(result, run.config.home)
        _log_publish(outcome, time.perf_counter() - started)
        _write_log(outcome, lines, live)
    return outcome


def _log_publish(outcome: TrainingOutcome, seconds: float) -> None:
    registered = outcome.registered
    fields = {"artifact": str(outcome.artifact), "seconds": round(seconds, 3)}
    if registered is not None:
        fields |= {"name": registered.name, "version": registered.version, "status": registered.status,
                   "promoted": registered.promoted, "mlflow_run_id": registered.run_id}
    log.info("publish: saved %s%s in %.2fs", outcome.artifact,
             "" if registered is None else f", registered {registered.name} v{registered.version} ({registered.status}"
             f"{', promoted' if registered.promoted else ''})", seconds,
             extra={"stage": "publish", "metrics": fields})


def _window(bars: pd.DataFrame, config: Config, period: str | None,
            horizon: int | None) -> tuple[pd.DataFrame, tuple[DerivedSetting, ...]]:
    """The ``period`` window of ``bars`` and its record; refused (one line) when it leaves fewer
    bars than the labelled matrix needs (the features' warm-up, the horizon and its minimum rows)."""
    if period is None:
        return bars, ()
    needed = (warmup_bars(config.features, timeframe_of(bars))
              + (horizon or config.labels.horizon) + MIN_TRAINING_ROWS)
    window = last_period(bars, period, min_rows=needed)
    source = (f"--period {period}: the {len(window):,} of {len(bars):,} bars from {window.index[0]:%Y-%m-%d} "
              f"to {window.index[-1]:%Y-%m-%d}")
    return window, (DerivedSetting("data.period", period, source),)
