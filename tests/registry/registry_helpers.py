"""Helpers for the registry tests: isolated stores and hand-made artifacts in candor's format."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sklearn.dummy import DummyClassifier

from candor.features import FeatureSet
from candor.labels import LabelSpec
from candor.registry.artifact import save_model
from candor.records.manifest import Manifest
from candor.records.report import TrainingReport
from candor.records.evaluation import Evaluation


@dataclass
class Stores:
    """One test's MLflow tracking store, operational store and experiment."""

    home: Path
    uri: str
    db_url: str
    engine: Any
    client: Any
    experiment_id: str


def make_stores(folder: Path, templates: tuple[Path, Path]) -> Stores:
    from mlflow import MlflowClient

    from candor.store import make_engine
    from candor.registry.tracking import ensure_experiment

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(templates[0], folder / "mlflow.db")
    shutil.copy(templates[1], folder / "candor.db")
    uri, db_url = f"sqlite:///{folder / 'mlflow.db'}", f"sqlite:///{folder / 'candor.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = ensure_experiment(client, "candor", (folder / "mlartifacts").as_uri())
    return Stores(folder, uri, db_url, make_engine(db_url), client, experiment_id)


def report(accuracy: float = 0.65, verdict: str = "significant edge", holdout: float | None = None,
           **extra: float) -> TrainingReport:
    """A training report carrying the parts the gates read (everything else left empty)."""
    oos = Evaluation.model_validate({
        "accuracy": accuracy, "precision": 0.6, "recall": 0.6, "f1": 0.6, "lift": 0.05,
        "p_value": 0.01 if verdict == "significant edge" else 0.4, "verdict": verdict,
        "best_baseline": "majority", "best_baseline_accuracy": accuracy - 0.05, **extra})
    hold = Evaluation(accuracy=accuracy if holdout is None else holdout, f1=0.6, lift=0.04)
    return TrainingReport(oos=oos, holdout=hold)


class Lookup:
    """A stand-in estimator whose prediction for each row is fixed in advance, looked up by the row's
    timestamp (rows it was not given predict 0): lets a test set exactly which rows a version gets right."""

    def __init__(self, answers: Any) -> None:
        self.answers = answers
        self.classes_ = sorted(set(answers.tolist()) | {0})

    def predict(self, X: Any) -> Any:
        return self.answers.reindex(X.index).fillna(0).astype(int).to_numpy()

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        return (self.predict(X)[:, None] == np.asarray(self.classes_)[None, :]).astype(float)


def make_artifact(folder: Path, *, symbol: str = "SPX", timeframe: str = "d1", rep: TrainingReport | None = None,
                  created_at: datetime | None = None, estimator: Any = None) -> Path:
    """An artifact directory in ``candor.registry.artifact.save_model``'s format with a tiny estimator
    (``estimator``: another, e.g. a :class:`Lookup`)."""
    manifest = Manifest(
        symbol=symbol, timeframe=timeframe, created_at=created_at or datetime.now(UTC), candor_version="test",
        feature_names=("ret_1",), feature_set=FeatureSet(), label_spec=LabelSpec(), warmup=10, config_hash="abc",
        data_fingerprint="f" * 64, report=rep if rep is not None else report(),
    )
    if estimator is None:
        estimator = DummyClassifier(strategy="most_frequent").fit([[0.0], [1.0]], [1, 1])
    return save_model(folder, estimator, manifest)


def log_run(stores: Stores, artifact: Path, *, holdout_start: str = "2018-01-02",
            holdout_end: str = "2018-12-31") -> str:
    """An MLflow run holding ``artifact`` under ``model`` plus the holdout tags tracking writes."""
    tags = {"holdout_start": holdout_start, "holdout_end": holdout_end, "holdout_rows": "250",
            "label_spec": '{"kind": "threshold"}'}
    run = stores.client.create_run(stores.experiment_id, tags=tags)
    stores.client.log_artifacts(run.info.run_id, str(artifact), "model")
    stores.client.set_terminated(run.info.run_id)
    return run.info.run_id


def registered(registry: Any, stores: Stores, folder: Path, *, validate: bool = True, **kwargs: Any) -> str:
    """Make, log, register (and validate) one artifact; return the version number."""
    holdout = {k: kwargs.pop(k) for k in ("holdout_start", "holdout_end") if k in kwargs}
    artifact = make_artifact(folder, **kwargs)
    version = registry.register(log_run(stores, artifact, **holdout), artifact)
    if validate:
        registry.validate(version.name, version.version)
    return version.version


def cli_stores(home: Path, templates: tuple[Path, Path], monkeypatch: Any) -> tuple[Any, Any, Any]:
    """``home`` as the CLI's CANDOR_HOME, its default MLflow and store databases copied from the
    migrated templates (no configured database or tracking URI): (registry, engine, run holder
    for :func:`log_run`). The caller disposes of the engine."""
    from candor.registry import Registry
    from candor.registry.tracking import open_tracking
    from candor.store import make_engine

    home.mkdir()
    shutil.copy(templates[0], home / "mlflow.db")
    shutil.copy(templates[1], home / "candor.db")
    monkeypatch.setenv("CANDOR_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CANDOR_DATABASE_URL", raising=False)
    tracking = open_tracking(f"sqlite:///{home.resolve() / 'mlflow.db'}", (home.resolve() / "mlartifacts").as_uri())
    engine = make_engine(f"sqlite:///{home / 'candor.db'}")
    holder = type("S", (), {"client": tracking.client, "experiment_id": tracking.experiment_id})
    return Registry(tracking.client, engine), engine, holder
