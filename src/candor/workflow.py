"""One training as a user runs it: train, judge against the gates, save the artifact.

The CLI, the scheduler and the universe runner all call :func:`run_training`; it is the single
place that decides what a training writes (nothing on ``dry_run``, nothing before training has
succeeded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from candor.artifact import build_manifest, save_model
from candor.config import Config
from candor.pipeline import Progress, TrainResult, train
from candor.report import gate_failures


@dataclass
class TrainingOutcome:
    result: TrainResult
    artifact: Path | None
    gate_failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.gate_failures


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
) -> TrainingOutcome:
    """Train, check the gates, and unless ``dry_run`` save the versioned artifact."""
    result = train(bars, config, progress=progress)
    failures = gate_failures(result, config.gates)
    artifact = None
    if not dry_run:
        target = (Path(out) / f"{result.symbol}_{result.timeframe}_{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
                  if out is not None else default_artifact_dir(config, result.symbol, result.timeframe))
        artifact = save_model(target, result.model, build_manifest(result))
    return TrainingOutcome(result=result, artifact=artifact, gate_failures=failures)
