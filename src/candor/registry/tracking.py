"""MLflow tracking: one run per training with the whole config, every score and the model.

Why an explicit ``MlflowClient`` everywhere (never ``mlflow.start_run`` / ``set_tracking_uri``):
the fluent API keeps the active run and URI in process globals, which leak between tests and
between the scheduler's jobs. Everything here takes the client (or the URI) as a parameter, and
the URI comes from the config (:attr:`candor.config.Config.tracking_store`), resolved once.

Default store: ``sqlite:///<home>/mlflow.db`` with artifacts under ``<home>/mlartifacts``; open
the UI on it with ``mlflow ui --backend-store-uri sqlite:///$HOME/.candor/mlflow.db``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from candor import __version__
from candor.config import mask_urls, safe_uri
from candor.errors import ConfigError, StoreError
from candor.registry.common import OWNER_HOST, OWNER_PID, PUBLISH_STATE, PUBLISHING
from candor.labels import CLASS_NAMES
from candor.records.manifest import Manifest
from candor.records.report import TrainingReport

if TYPE_CHECKING:  # annotations only: importing the backtest engine loads numba (~0.3 s)
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from candor.backtest import BacktestResult
# MLflow itself (1-1.5 s of imports) loads where a client is built or a run logged, not with this
# module: `candor forecast` and `candor drift` read champions without it (candor.registry.direct).

EXPERIMENT = "candor"
#: MLflow refuses longer param values (6000) and tag values; stay safely below.
PARAM_LIMIT = 6000
TAG_LIMIT = 5000
_TRUNCATED = "…[truncated]"


def owner_tags() -> dict[str, str]:
    """The tags a run is created with: this process, this host, ``publishing``."""
    return {OWNER_PID: str(os.getpid()), OWNER_HOST: socket.gethostname(), PUBLISH_STATE: PUBLISHING}


class TrainingSink(Protocol):
    """Another tracker every training is logged to beside MLflow (``[tracking] backend``).

    ``log_training`` logs one finished training, knowing the id of its MLflow run (the one the
    registry versions), and returns a reference to what it wrote (a URL or a local folder); it
    raises :class:`~candor.errors.StoreError` when it cannot log.
    """

    name: str

    def log_training(self, manifest: Manifest, backtest: BacktestResult | None, mlflow_run_id: str) -> str: ...


@dataclass(frozen=True)
class Tracking:
    """A client bound to one tracking URI plus the experiment candor logs into.

    ``log_details=False`` (``backend = "wandb"``) keeps in the MLflow run only what the registry
    needs — the identity tags and the model — and leaves params, metrics and plots to ``sinks``.
    """

    client: MlflowClient
    uri: str
    experiment_id: str
    log_details: bool = True
    sinks: tuple[TrainingSink, ...] = ()


#: The database backends MLflow's SQLAlchemy tracking and registry stores serve (its DATABASE_ENGINES).
SQL_BACKENDS = ("sqlite", "postgresql", "mysql", "mssql")


def check_tracking_uri(uri: str) -> str:
    """Refuse (ConfigError, password masked) a tracking URI that no MLflow store serves, before
    anything is opened or written. MLflow would refuse it only while building the client, with the
    URI — password included — in its message. A SQL database URI (MLflow's SQLAlchemy stores:
    :data:`SQL_BACKENDS`) is accepted without importing MLflow."""
    if uri.split(":", 1)[0].lower().split("+", 1)[0] in SQL_BACKENDS:
        return uri
    from mlflow.exceptions import MlflowException

    try:  # MLflow's own scheme → store lookup: a dictionary, no connection
        from mlflow.tracking._model_registry.utils import _get_store_registry
        from mlflow.tracking._tracking_service.utils import _tracking_store_registry
    except ImportError:  # pragma: no cover - MLflow moved them; open_tracking still masks the URI
        return uri
    try:
        for registry in (_tracking_store_registry, _get_store_registry()):
            registry.get_store_builder(uri)
    except MlflowException:
        raise ConfigError(f"`tracking_uri` {safe_uri(uri)!r} names no MLflow tracking store; use an http(s):// "
                          "server, sqlite:///path/mlflow.db or postgresql+psycopg://user@host/db (set "
                          "MLFLOW_TRACKING_URI or tracking_uri in candor.toml).") from None
    return uri


#: Seconds to wait for a tracking server (its TCP port, or a SQL server's login) before giving up.
PROBE_TIMEOUT_S = 5
#: MLflow's HTTP client retries 7 times with backoff factor 2 and a 120 s timeout: an unreachable
#: server was reported after about 4 minutes. These bound it to seconds; a value the user set wins.
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
               "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
#: Drivers of SQL tracking stores and the name of their connect-timeout argument.
_SQL_CONNECT_TIMEOUT = {"postgresql": "connect_timeout", "postgres": "connect_timeout", "mysql": "connect_timeout"}


def probe_tracking(uri: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Reach the tracking server before anything is opened, written or trained: an http(s)
    server's port, a SQL store's login (a local SQLite file needs no probe). An unreachable one is
    a one-line :class:`StoreError` (exit 1, password masked) within ``timeout`` seconds — MLflow
    itself retries for minutes (HTTP: 246 s; PostgreSQL: 103 s) and then raises its URL in clear."""
    scheme = uri.split(":", 1)[0].lower()
    backend = scheme.split("+", 1)[0]
    if scheme in ("http", "https"):
        try:
            parsed = urlparse(uri)
            address = (parsed.hostname or "", parsed.port or (443 if scheme == "https" else 80))
            socket.create_connection(address, timeout=timeout).close()
        except (OSError, ValueError) as exc:
            why = "timed out" if isinstance(exc, TimeoutError) else getattr(exc, "strerror", None) or type(exc).__name__
            raise _unreachable(uri, why, timeout) from None
    elif backend in _SQL_CONNECT_TIMEOUT:
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        try:
            engine = sa.create_engine(uri, poolclass=NullPool,
                                      connect_args={_SQL_CONNECT_TIMEOUT[backend]: max(1, int(timeout))})
            with engine.connect():
                pass
            engine.dispose()
        except Exception as exc:  # noqa: BLE001 - driver errors vary; all mean "cannot reach the store"
            cause = getattr(exc, "orig", None) or exc
            text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
            raise _unreachable(uri, mask_urls(text)[:200], timeout) from None


def _unreachable(uri: str, why: str, timeout: float) -> StoreError:
    return StoreError(f"cannot reach the MLflow tracking store {safe_uri(uri)} ({why}; waited at most {timeout:g} s); "
                      "start the server or fix MLFLOW_TRACKING_URI / tracking_uri in candor.toml.")


def _bounded(uri: str) -> str:
    """``uri`` as MLflow gets it: HTTP retries bounded (:data:`HTTP_LIMITS`, through the environment,
    the only place MLflow reads them) and a PostgreSQL store with a connect timeout, so a server
    that goes away mid-run fails in seconds, not minutes."""
    scheme = uri.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        for name, value in HTTP_LIMITS.items():
            os.environ.setdefault(name, value)
    elif scheme.split("+", 1)[0] in ("postgresql", "postgres") and "connect_timeout=" not in uri:
        return f"{uri}{'&' if '?' in uri else '?'}connect_timeout={PROBE_TIMEOUT_S}"
    return uri


def open_tracking(uri: str, artifact_location: str | None = None, experiment: str = EXPERIMENT, *,
                  log_details: bool = True, sinks: tuple[TrainingSink, ...] = ()) -> Tracking:
    """Client and experiment on ``uri``; a new experiment keeps its artifacts at ``artifact_location``
    (``Config.artifact_root``: ``<home>/mlartifacts`` on the default local store)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    check_tracking_uri(uri)
    try:
        bounded = _bounded(uri)
        client = MlflowClient(tracking_uri=bounded, registry_uri=bounded)
        experiment_id = ensure_experiment(client, experiment, artifact_location)
    except MlflowException as exc:  # its message holds the URI in clear: printed masked
        raise StoreError(f"cannot open the MLflow tracking store {safe_uri(uri)}: "
                         f"{mask_urls(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)[:300]}"
                         ) from None
    return Tracking(client, uri, experiment_id, log_details, sinks)


def ensure_experiment(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    """The experiment id, creating the experiment (with its artifact location) on first use."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location))
    except Exception as exc:  # created by a concurrent process between the two calls
        existing = client.get_experiment_by_name(name)
        if existing is None:
            raise exc
        return str(existing.experiment_id)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts → dotted keys; lists and leaves are kept as values."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - len(_TRUNCATED)] + _TRUNCATED


def config_params(recorded: Mapping[str, Any]) -> dict[str, str]:
    """The recorded config (:meth:`Config.recorded`: no locations, passwords masked) as MLflow params."""
    dumped = dict(recorded)
    return {key: _text(value, PARAM_LIMIT) for key, value in flatten(dumped).items()}


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(float(value)) else None


def report_metrics(prefix: str, report: dict[str, Any]) -> dict[str, float]:
    """Every numeric scalar of an evaluation report, baselines under ``<prefix>.baseline.<name>``."""
    out = {f"{prefix}.{k}": v for k, v in ((k, _finite(v)) for k, v in report.items()) if v is not None}
    for name, value in (report.get("baselines") or {}).items():
        if _finite(value) is not None:
            out[f"{prefix}.baseline.{name}"] = float(value)
    return out


@dataclass(frozen=True)
class MetricPoint:
    """One logged number: a pooled score (``fold`` None) or one walk-forward fold's."""

    key: str
    value: float
    fold: int | None = None

    @property
    def step(self) -> int:
        """MLflow's step: the fold index, 0 for pooled scores."""
        return 0 if self.fold is None else self.fold


def training_metrics(report: TrainingReport) -> list[MetricPoint]:
    """Every metric a training logs, to MLflow and to any other sink alike: pooled OOS and holdout
    scores with their baselines and lift CI, and per-fold scores (``fold`` = the fold index)."""
    points = [MetricPoint(k, v) for section in ("oos", "holdout")
              for k, v in report_metrics(section, getattr(report, section).model_dump(mode="json")).items()]
    for fold in report.fold_details:
        values = {"fold.accuracy": fold.accuracy, "fold.f1": fold.f1, "fold.train_accuracy": fold.train_accuracy,
                  **{f"fold.baseline.{n}": v for n, v in fold.baselines.items()}}
        points += [MetricPoint(k, float(v), int(fold.index)) for k, v in values.items() if _finite(v) is not None]
    return points


def run_metrics(report: TrainingReport) -> list[Metric]:
    """:func:`training_metrics` as MLflow metrics."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(p.key, p.value, now, p.step) for p in training_metrics(report)]


def run_tags(manifest: Manifest) -> dict[str, str]:
    """Identity of the run: series, data, labels, code and config — enough to reproduce it."""
    report, span = manifest.report, manifest.data_span
    tags = {
        "symbol": manifest.symbol, "timeframe": manifest.timeframe, "data_fingerprint": manifest.data_fingerprint,
        "label": report.label,
        "label_spec": json.dumps(manifest.model_dump(mode="json", include={"label_spec"})["label_spec"],
                                 sort_keys=True),
        "candor_version": __version__, "config_hash": manifest.config_hash,
        "n_samples": str(report.n_samples), "oos_verdict": report.oos.verdict,
        "holdout_verdict": report.holdout.verdict,
        "oos_log_loss_verdict": str(report.oos.log_loss_verdict or "not tested"),
        "mlflow.runName": f"{manifest.symbol}/{manifest.timeframe} {time.strftime('%Y-%m-%dT%H:%M:%S')}",
    }
    if span is not None and span.holdout_rows:
        tags.update(holdout_start=span.holdout_start.isoformat(), holdout_end=span.holdout_end.isoformat(),
                    holdout_rows=str(span.holdout_rows))
    return {k: _text(v, TAG_LIMIT) for k, v in tags.items()}


def _class_name(label: Any) -> str:
    return str(CLASS_NAMES.get(label, label)) if isinstance(CLASS_NAMES, dict) else str(label)


def plot_confusion(matrix: Any, classes: Any, path: Path, title: str = "confusion matrix") -> Path:
    """Counts heat-map, rows = true class, columns = predicted (a bare Figure: no pyplot global state)."""
    from matplotlib.figure import Figure  # lazy: ~0.4 s that every registry command paid for two plots

    counts = np.asarray(matrix, dtype=float)
    names = [_class_name(c) for c in classes]
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    ax.imshow(counts, cmap="Blues")
    for (i, j), value in np.ndenumerate(counts):
        ax.text(j, i, f"{int(value)}", ha="center", va="center",
                color="white" if value > counts.max() / 2 else "black")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def plot_calibration(table: pd.DataFrame, path: Path, title: str = "calibration") -> Path:
    """Reliability diagram from :func:`candor.evaluate.calibration_table` (empty bins skipped)."""
    from matplotlib.figure import Figure  # lazy, as in plot_confusion

    rows = table[table["count"] > 0] if "count" in table else table
    fig = Figure(figsize=(4.5, 4))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    if len(rows):
        ax.plot(rows["mean_confidence"], rows["accuracy"], marker="o", label="model")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top-class confidence")
    ax.set_ylabel("observed accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def write_run_files(manifest: Manifest, backtest: BacktestResult | None, folder: Path) -> None:
    """report.json (``manifest.report``, as in the manifest), the two PNGs, the importance CSV and,
    with a ``backtest``, its equity plot and trades, ready to be logged as artifacts."""
    report, series = manifest.report, f"{manifest.symbol}/{manifest.timeframe}"
    (folder / "report").mkdir()
    (folder / "plots").mkdir()
    (folder / "report" / "report.json").write_text(report.model_dump_json(indent=2))
    plot_confusion(report.oos.confusion_matrix, report.oos.classes, folder / "plots" / "confusion_matrix.png",
                   title=f"{series} out-of-sample confusion matrix")
    plot_calibration(pd.DataFrame([b.model_dump() for b in report.calibration],
                                  columns=["bin", "lower", "upper", "mean_confidence", "accuracy", "count"]),
                     folder / "plots" / "calibration.png", title=f"{series} calibration (out-of-sample)")
    pd.DataFrame([r.model_dump() for r in report.feature_importance],
                 columns=["feature", "importance", "std"]).to_csv(folder / "feature_importance.csv", index=False)
    if backtest is not None:
        from candor.backtest import plot_equity, write_trades_csv  # lazy: the backtest engine loads numba

        plot_equity(backtest, folder / "plots" / "equity_drawdown.png")
        write_trades_csv(backtest, folder / "backtest_trades.csv")


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def log_training(manifest: Manifest, backtest: BacktestResult | None, artifact_dir: Path | str,
                 tracking: Tracking, kept_at: Path | None = None) -> str:
    """Log one training (its ``manifest`` and the ``backtest`` it ran) as an MLflow run, then to each
    of ``tracking.sinks``, and return the MLflow run id (run marked FAILED if any logging fails, so
    it is never registered)."""
    from mlflow.entities import Param, RunTag

    client = tracking.client
    run = client.create_run(tracking.experiment_id, tags={**run_tags(manifest), **owner_tags()})
    run_id = run.info.run_id
    try:
        if tracking.log_details:
            params = [Param(k, v) for k, v in config_params(manifest.config).items()]
            for chunk in _chunks(params, 100):
                client.log_batch(run_id, params=chunk)
            for chunk in _chunks(run_metrics(manifest.report), 1000):
                client.log_batch(run_id, metrics=chunk)
        client.log_batch(run_id, tags=[RunTag("candor.artifact_dir", str(kept_at or artifact_dir))])
        if tracking.log_details:
            with tempfile.TemporaryDirectory(prefix="candor-run-") as tmp:
                write_run_files(manifest, backtest, Path(tmp))
                client.log_artifacts(run_id, tmp)
        client.log_artifacts(run_id, str(artifact_dir), "model")
        for sink in tracking.sinks:
            reference = sink.log_training(manifest, backtest, run_id)
            client.log_batch(run_id, tags=[RunTag(f"candor.{sink.name}_run", _text(reference, TAG_LIMIT))])
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def log_artifact_run(artifact_dir: Path | str, tracking: Tracking, tags: Mapping[str, str],
                     kept_at: Path | None = None) -> str:
    """Log a model that no training produced (a champion with refit weights) as its own run
    (``kept_at``: where the artifact will live once published, as for :func:`log_training`)."""
    from mlflow.entities import RunTag

    run = tracking.client.create_run(tracking.experiment_id,
                                     tags={**{k: _text(v, TAG_LIMIT) for k, v in tags.items()}, **owner_tags()})
    run_id = run.info.run_id
    try:
        tracking.client.log_batch(run_id, tags=[RunTag("candor.artifact_dir", str(kept_at or artifact_dir))])
        tracking.client.log_artifacts(run_id, str(artifact_dir), "model")
    except BaseException:
        tracking.client.set_terminated(run_id, "FAILED")
        raise
    tracking.client.set_terminated(run_id, "FINISHED")
    return run_id


def training_run_fields(manifest: Manifest, run_id: str, name: str | None, version: str | None) -> dict[str, Any]:
    """The ``training_runs`` row of a training: headline numbers beside the baseline, run id, and
    the report (``manifest.report``, the record the artifact holds)."""
    report = manifest.report
    oos = report.oos
    return {
        "symbol": manifest.symbol, "timeframe": manifest.timeframe, "horizon": int(manifest.label_spec.horizon),
        "label_spec": (report.label or "")[:255], "n_samples": int(report.n_samples or 0),
        "models": list(report.models), "weights": dict(report.weights),
        "oos_accuracy": oos.accuracy, "oos_f1": oos.f1, "best_baseline": oos.best_baseline,
        "baseline_accuracy": oos.best_baseline_accuracy, "lift": oos.lift, "lift_ci_low": oos.lift_ci_low,
        "lift_ci_high": oos.lift_ci_high, "p_value": oos.p_value, "verdict": oos.verdict,
        "holdout_accuracy": report.holdout.accuracy, "mlflow_run_id": run_id, "model_name": name,
        "model_version": version, "data_fingerprint": manifest.data_fingerprint,
        "config_hash": manifest.config_hash, "candor_version": __version__,
        "duration_s": report.timings.get("total_s"), "report": report.model_dump(mode="json"),
    }
