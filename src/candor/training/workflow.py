"""One training as a user runs it: train, judge against the gates, save the artifact.

The CLI, the scheduler and the universe runner all call :func:`run_training`; it is the single
place that decides what a training writes (nothing on ``dry_run``, nothing before training has
succeeded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from candor.registry.artifact import build_manifest, save_model
from candor.config import Config
from candor.training.run import Progress, TrainResult, train
from candor.training.report import gate_failures


@dataclass
class TrainingOutcome:
    result: TrainResult
    artifact: Path | None
    gate_failures: list[str] = field(default_factory=list)
    registered: Any = None  # candor.registry.RegisteredVersion once tracked

    @property
    def passed(self) -> bool:
        return not self.gate_failures


def database_url(config: Config) -> str:
    return config.database_url or f"sqlite:///{Path(config.home) / 'candor.db'}"


def _publish(outcome: TrainingOutcome, bars: pd.DataFrame, config: Config, *, promote: bool,
             tracking_uri: str | None, actor: str | None) -> Any:
    """Log the MLflow run, register and gate the version, record training_runs, maybe promote."""
    from candor.backtest.gating import backtest_thresholds
    from candor.registry import GateThresholds, default_gates, track_and_register
    from candor.store import connect_store, upgrade

    url = database_url(config)
    upgrade(url)  # idempotent; refuses a newer schema with a clear message
    r = config.registry
    gates = default_gates(GateThresholds(min_accuracy=r.min_accuracy, min_precision=r.min_precision,
                                         min_recall=r.min_recall, min_f1=r.min_f1),
                          backtest_thresholds(r))
    with connect_store(url) as store:
        return track_and_register(outcome, config, engine=store.engine, tracking_uri=tracking_uri,
                                  promote=promote, actor=actor, gates=gates,
                                  margin=r.promotion_margin, bars=bars)


def default_artifact_dir(config: Config, symbol: str, timeframe: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(config.home) / "models" / symbol / timeframe / stamp


def run_training(
    bars: pd.DataFrame,
    config: Config,
    *,
    out: Path | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    track: bool = True,
    promote: bool = False,
    tracking_uri: str | None = None,
    actor: str | None = None,
) -> TrainingOutcome:
    """Train, check the gates, and unless ``dry_run`` save, track and register the artifact.

    ``track=False`` saves the artifact only (no MLflow run, no registry version, no database row).
    ``promote`` moves the champion alias when the registry gates pass and the challenger is not
    worse than the champion on the same holdout.
    """
    result = train(bars, config, progress=progress)
    failures = gate_failures(result, config.gates)
    artifact = None
    if not dry_run:
        target = (Path(out) / f"{result.symbol}_{result.timeframe}_{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
                  if out is not None else default_artifact_dir(config, result.symbol, result.timeframe))
        artifact = save_model(target, result.model, build_manifest(result))
    outcome = TrainingOutcome(result=result, artifact=artifact, gate_failures=failures)
    if artifact is not None and (track or promote):
        outcome.registered = _publish(outcome, bars, config, promote=promote,
                                      tracking_uri=tracking_uri, actor=actor)
    return outcome
