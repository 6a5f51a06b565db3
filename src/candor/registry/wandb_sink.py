"""Weights & Biases as a tracker beside MLflow: every training as a W&B run (``[tracking] backend``).

What a W&B run holds comes from the same functions as the MLflow run — one source, two sinks:
the config as :meth:`Config.recorded` gives it (nested, so W&B can filter on it), the identity of
:func:`~candor.registry.tracking.run_tags` plus the MLflow run id under ``config["candor"]``,
:func:`~candor.registry.tracking.training_metrics` (pooled scores, baselines and lift CI in the
summary, per-fold scores in the history with step = fold index), the report's feature importance
as a table, and :func:`~candor.registry.tracking.write_run_files` (``report/report.json``, plots,
importance CSV) in the run's files.

MLflow stays the registry: the W&B run is logged from inside
:func:`~candor.registry.tracking.log_training`, after MLflow's run has its model and before the
version is registered, so a W&B failure marks the MLflow run FAILED and nothing is registered.

W&B writes under ``<home>/wandb`` (``dir=<home>``), never the working directory. It reads its own
settings from the environment: ``WANDB_MODE=offline`` logs with no network into
``<home>/wandb/offline-run-*`` (upload later with ``wandb sync``), ``WANDB_API_KEY`` logs in.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from candor.config import Config, under_home
from candor.errors import StoreError
from candor.extras import import_wandb
from candor.registry.common import first_line
from candor.records.manifest import Manifest
from candor.registry.tracking import TrainingSink, run_tags, training_metrics, write_run_files

if TYPE_CHECKING:  # annotations only: importing the backtest engine loads numba (~0.3 s)
    from candor.backtest import BacktestResult

def training_sinks(config: Config) -> tuple[TrainingSink, ...]:
    """The trackers ``[tracking] backend`` adds beside MLflow: none, or the W&B sink."""
    if not config.tracking.uses_wandb:
        return ()
    return (WandbSink(import_wandb(), config.home, config.tracking.wandb_project, config.tracking.wandb_entity),)


@dataclass(frozen=True)
class WandbSink:
    """Logs each training as one W&B run in ``project`` with its files under ``<home>/wandb``."""

    wandb: ModuleType = field(repr=False)
    home: Path
    project: str
    entity: str | None = None
    name: str = "wandb"

    def log_training(self, manifest: Manifest, backtest: BacktestResult | None, mlflow_run_id: str) -> str:
        """Log one training as a finished W&B run; return its URL (online) or folder (offline)."""
        series = f"{manifest.symbol}/{manifest.timeframe}"
        try:
            run = self._start(manifest, mlflow_run_id)
        except Exception as exc:
            raise StoreError(f"W&B could not start a run for {series}: {first_line(exc)}; log in with "
                             "`wandb login` or set WANDB_MODE=offline.") from None
        try:
            reference = run.url or str(Path(run.dir).parent)
            log_run_contents(self.wandb, run, manifest, backtest)
        except Exception as exc:
            run.finish(exit_code=1)
            raise StoreError(f"W&B could not log the run of {series}: {first_line(exc)}") from None
        run.finish()
        return reference

    def _start(self, manifest: Manifest, mlflow_run_id: str) -> Any:
        series = f"{manifest.symbol}/{manifest.timeframe}"
        identity = {k: v for k, v in run_tags(manifest).items() if not k.startswith("mlflow.")}
        config = {**manifest.config, "candor": {**identity, "mlflow_run_id": mlflow_run_id}}
        # reinit="create_new": each training is its own run, also when one process trains a
        # universe; console off and no code capture: candor's own output is not the experiment.
        return self.wandb.init(
            project=self.project, entity=self.entity, dir=str(under_home(self.home)), config=config,
            name=series, group=series, job_type="train", tags=[manifest.symbol, manifest.timeframe],
            reinit="create_new", settings=self.wandb.Settings(console="off", save_code=False))


def log_run_contents(wandb: ModuleType, run: Any, manifest: Manifest, backtest: BacktestResult | None) -> None:
    """Metrics, feature importance and the run files of one training into an open W&B ``run``."""
    points = training_metrics(manifest.report)
    for fold, group in itertools.groupby(sorted((p for p in points if p.fold is not None), key=lambda p: p.fold),
                                         key=lambda p: p.fold):
        run.log({p.key: p.value for p in group}, step=fold)
    run.summary.update({p.key: p.value for p in points if p.fold is None})
    rows = [[r.feature, r.importance, r.std] for r in manifest.report.feature_importance]
    run.summary["feature_importance"] = wandb.Table(columns=["feature", "importance", "std"], data=rows)
    write_run_files(manifest, backtest, Path(run.dir))
